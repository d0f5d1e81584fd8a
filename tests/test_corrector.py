"""The lexicon corrector: repairs misheard therapy terms, leaves ordinary English alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from proto import scribe_pb2 as pb
from services.asr.engine import Recognition
from services.asr.service import segment_from_recognition
from services.common.corrector import Corrector, context_text, correct_terms, write_recognised
from services.common.term_index import load_terms

DATA = Path(__file__).parent / "data"


def _lines(name: str) -> list[str]:
    text = (DATA / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _positives() -> list[tuple[str, str]]:
    rows = [line.split("\t") for line in _lines("corrector_positives.tsv")]
    assert rows[0] == ["heard", "expected"], "corrector_positives.tsv needs its header"
    return [(heard, expected) for heard, expected in rows[1:]]


@pytest.mark.parametrize(("heard", "expected"), _positives())
def test_misheard_terms_are_repaired(heard: str, expected: str) -> None:
    assert correct_terms(heard) == expected


def test_ordinary_sentences_are_left_alone() -> None:
    """Fewer than 1 in 200 ordinary sentences may change (issue 19's bound); each change is listed."""
    lines = _lines("corrector_negatives.txt")
    assert len(lines) >= 500
    corrector = Corrector()
    changed = [(line, corrector.correct(line)) for line in lines if corrector.correct(line) != line]
    assert len(changed) * 200 < len(lines), changed


def test_lexicon_is_large_and_well_formed() -> None:
    terms = load_terms()
    assert len(terms) >= 1500
    categories = {t.category for t in terms}
    assert {"measures", "equipment", "interventions", "anatomy", "slp", "medical"} <= categories
    for term in terms:
        assert term.spoken, term.written
        if term.score_range is not None:
            low, high = term.score_range
            assert low < high, term.written


def test_bad_lexicon_row_is_named(tmp_path: Path) -> None:
    (tmp_path / "broken.tsv").write_text("written\tspoken\tcues\trange\n\t\t\t\n")
    with pytest.raises(ValueError, match="broken.tsv"):
        load_terms(tmp_path)


def test_everyday_words_need_context() -> None:
    # Ordinary words that sound like a term stay as heard unless something near supports the term.
    assert correct_terms("The gate was left open again.") == "The gate was left open again."
    assert correct_terms("Worked on gate training with the walker.") == "Worked on gait training with the walker."
    assert correct_terms("She has a strong aversion to loud music.") == "She has a strong aversion to loud music."
    assert correct_terms("Ankle aversion is limited.") == "Ankle eversion is limited."


def test_another_form_of_a_word_is_not_a_mishearing() -> None:
    for text in ("A rubber band held the folders.", "He did one chin tuck.", "She lunged for the ball."):
        assert correct_terms(text) == text


def test_a_term_said_exactly_is_not_widened() -> None:
    # Words beside a term heard right are not swallowed into it.
    assert correct_terms("Activation of tibialis anterior improved.") == "Activation of tibialis anterior improved."


def test_session_context_supports_a_term() -> None:
    heard = "Good work on the new step today."
    assert correct_terms(heard) == heard  # everyday words, no cue: left alone
    assert correct_terms(heard, ["NuStep for endurance"]) == "Good work on the NuStep today."
    # A synonym the lexicon lists is the speaker's wording, even with a cue beside it.
    assert correct_terms("Vestibular work on gaze stability.") == "Vestibular work on gaze stability."


def test_casing_is_only_raised() -> None:
    assert correct_terms("Retrograde massage helped.") == "Retrograde massage helped."


def test_segment_keeps_what_was_heard() -> None:
    chunk = pb.AudioChunk(session_id="s1", seq=3, start_s=10.0, end_s=12.0)
    context = pb.SessionContext(diagnosis="right rotator cuff repair", goals=["reach overhead"])
    seg = segment_from_recognition(chunk, Recognition(text="Pain over the super spinatus."), 0.0,
                                   context_text(context))
    assert seg.raw_text == "Pain over the super spinatus."
    assert seg.text == "Pain over the supraspinatus."
    assert write_recognised("three sets of ten with a yellow thera band") == "3x10 with a yellow theraband"


def _segment(raw: str, probability: float) -> pb.TranscriptSegment:
    words = [pb.Word(text=" " + w, probability=probability) for w in raw.split()]
    return pb.TranscriptSegment(raw_text=raw, text=write_recognised(raw), words=words)


def test_a_term_written_over_unsure_words_is_for_review() -> None:
    from services.drafter.evidence import needs_review

    raw = "Tenderness over the super spinatus."
    unsure, sure = _segment(raw, 0.3), _segment(raw, 0.95)
    assert unsure.text == "Tenderness over the supraspinatus."
    assert needs_review(unsure.text, [unsure], 0.5)
    assert not needs_review(sure.text, [sure], 0.5)
    # An item that does not hold the corrected term is not affected by it.
    assert not needs_review("Tenderness noted.", [unsure], 0.5)
