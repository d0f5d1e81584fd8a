"""Evidence integrity and needs_review on unsure measures."""

from __future__ import annotations

from proto import scribe_pb2 as pb
from services.drafter.evidence import needs_review, unsupported_numbers
from services.drafter.lexicon import SECTIONS
from services.drafter.measures import implausible
from services.drafter.note import draft_note

AMBIENT = pb.SessionContext(mode="ambient")


def words(spec: list[tuple[str, float]], start: float) -> list[pb.Word]:
    return [pb.Word(start_s=start + k * 0.3, end_s=start + k * 0.3 + 0.3, text=t, probability=p)
            for k, (t, p) in enumerate(spec)]


def check_integrity(transcript: list[pb.TranscriptSegment], note: pb.Note) -> None:
    by_span = {(s.start_s, s.end_s): s.text for s in transcript}
    for section in SECTIONS:
        for item in getattr(note, section):
            assert item.evidence, item.text
            texts = [by_span[(e.start_s, e.end_s)] for e in item.evidence]
            assert not unsupported_numbers(item.text, texts), item.text


def test_integrity_checker_catches_an_invented_number():
    assert unsupported_numbers("Flexion 110 degrees.", ["Flexion 100 degrees."]) == ["110"]
    assert unsupported_numbers("Time 13.4 seconds.", ["13.4 seconds, better"]) == []


def test_items_point_at_their_segments():
    transcript = [
        pb.TranscriptSegment(start_s=0, end_s=3, text="How's the right knee?", speaker="therapist"),
        pb.TranscriptSegment(start_s=3, end_s=6, text="Pain's about 2/10.", speaker="patient"),
        pb.TranscriptSegment(start_s=60, end_s=64, text="Right knee flexion 120 degrees.", speaker="therapist"),
    ]
    note = draft_note(transcript, AMBIENT)
    check_integrity(transcript, note)
    assert [(e.start_s, e.end_s) for e in note.objective[0].evidence] == [(60, 64)]
    assert (3, 6) in [(e.start_s, e.end_s) for e in note.subjective[0].evidence]


def test_unsure_measure_needs_review():
    seg = pb.TranscriptSegment(
        start_s=10, end_s=13, text="Right knee flexion 105 degrees.", speaker="therapist",
        raw_text="Right knee flexion one hundred five degrees.",
        words=words([("Right", 0.99), ("knee", 0.98), ("flexion", 0.97), ("one", 0.31), ("hundred", 0.9),
                     ("five", 0.42), ("degrees.", 0.95)], 10),
    )
    note = draft_note([seg], AMBIENT)
    assert note.objective[0].needs_review


def test_sure_measure_is_not_flagged_and_unsure_chatter_does_not_flag():
    sure = pb.TranscriptSegment(
        start_s=10, end_s=13, text="Right knee flexion 105 degrees.", speaker="therapist",
        words=words([("Right", 0.2), ("knee", 0.98), ("flexion", 0.97), ("one", 0.91), ("hundred", 0.9),
                     ("five", 0.92), ("degrees.", 0.95)], 10),
    )
    note = draft_note([sure], AMBIENT)
    assert not note.objective[0].needs_review
    assert not needs_review("Patient reports less pain.", [sure], 0.5)


def test_digits_from_the_recogniser_are_checked_too():
    seg = pb.TranscriptSegment(
        start_s=0, end_s=3, text="Grip strength 40 pounds.", speaker="therapist",
        words=words([("Grip", 0.9), ("strength", 0.9), ("40", 0.3), ("pounds.", 0.9)], 0),
    )
    assert draft_note([seg], AMBIENT).objective[0].needs_review


# Measures that cannot be right as written: flagged, and kept exactly as written (never "corrected").

def _typed(text: str) -> pb.TranscriptSegment:
    """A segment without recogniser words: the confidence check cannot fire, only plausibility."""
    return pb.TranscriptSegment(start_s=0, end_s=4, text=text, speaker="therapist")


def _flagged(text: str, section: str = "objective") -> pb.NoteItem:
    note = draft_note([_typed(text)], AMBIENT)
    items = list(getattr(note, section))
    assert items, (text, note)
    return items[0]


def test_grade_numerator_above_denominator_needs_review():
    item = _flagged("Hip abduction strength 45/5.")
    assert item.needs_review and "45/5" in item.text


def test_score_numerator_above_denominator_needs_review():
    item = _flagged("Sentence completion 80/20 correct, responsive naming 8/10.")
    assert item.needs_review and "80/20" in item.text


def test_pain_above_ten_needs_review():
    assert _flagged("Patient reports knee pain 12/10.", "subjective").needs_review
    assert _flagged("Patient reports knee pain is 45 today.", "subjective").needs_review


def test_muscle_grade_outside_zero_to_five_needs_review():
    assert _flagged("Quad strength 6/5.").needs_review
    assert _flagged("Hip abduction strength is 7.").needs_review


def test_digits_run_together_where_a_grade_was_expected_need_review():
    # "four out of five" heard as "empty empty 45": never into a signed note unflagged.
    item = _flagged("Shoulder flexion strength, empty empty 45.")
    assert item.needs_review and "45" in item.text
    assert _flagged("Quad strength 4.5 on the right.").needs_review  # "4/5" written as a decimal


def test_score_left_in_words_more_than_the_whole_needs_review():
    assert _flagged("Sentence completion, eighty out of twenty correct.").needs_review


def test_plausible_measures_are_not_flagged():
    for text in ("Hip abduction strength 3+/5.", "Shoulder flexion 4-/5, external rotation 4/5.",
                 "Grip strength 40 pounds.", "Berg balance 41/56.", "Blood pressure 138/84, heart rate 72.",
                 "Sentence completion 18/20 correct.", "Therapeutic exercise from 10:05 to 10:23, 3x15 at 40 pounds.",
                 "Strength training 3 times a week.", "Eighteen out of twenty correct on naming."):
        note = draft_note([_typed(text)], AMBIENT)
        items = [i for s in SECTIONS for i in getattr(note, s)]
        assert items and not any(i.needs_review for i in items), text
    assert not implausible("Pain is about a 7 at worst, 3/10 now.")


def test_implausible_names_each_problem():
    assert implausible("Strength 45/5, pain 12/10.") == ["45/5: more than the whole", "12/10: more than the whole"]
    assert implausible("Knee flexion 105 degrees, strength 4/5.") == []


def test_unsure_words_of_a_score_left_in_words_need_review():
    seg = pb.TranscriptSegment(
        start_s=0, end_s=3, text="Sentence completion, eighteen out of twenty correct.", speaker="therapist",
        words=words([("Sentence", 0.9), ("completion,", 0.9), ("eighteen", 0.3), ("out", 0.9), ("of", 0.9),
                     ("twenty", 0.9), ("correct.", 0.9)], 0),
    )
    assert draft_note([seg], AMBIENT).objective[0].needs_review
