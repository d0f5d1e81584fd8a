"""Evidence spans for note items, number integrity, and recogniser-confidence review flags."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from proto import scribe_pb2 as pb
from services.common import spoken
from services.common.vocabulary import to_written
from services.drafter.measures import implausible

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# Recogniser words that carry a measure: digits, number words, and the words around them.
_NUMBER_WORD = re.compile(
    rf"^(\d[\d.,:/+x%-]*|{spoken.NUMBER_WORD}|point|half|plus|minus|percent|degrees?|pounds?|feet|seconds?|"
    r"minutes?|out|of|sets?|reps?|times)$",
    re.IGNORECASE,
)


# Number words spelled out ("oh" is mostly "oh", not zero).
_SPELLED = frozenset(w for w in spoken.VALUES if w != "oh") | {"hundred"}
# A score said in words and left so by the normaliser: "nine out of ten", "three out of five".
_OUT_OF_WORDS = re.compile(r"\b[a-z]+\s+out of\s+[a-z]+\b", re.IGNORECASE)


def numbers_in(text: str) -> list[str]:
    """Every number written in `text` ("13.4", "4", "10" of "4+/10")."""
    return _NUMBER.findall(text)


def unsupported_numbers(item_text: str, evidence_texts: Iterable[str]) -> list[str]:
    """Numbers in the item that no evidence segment's text contains."""
    found: set[str] = set()
    for t in evidence_texts:
        found.update(numbers_in(t))
    return [n for n in numbers_in(item_text) if n not in found]


def spans(transcript: Sequence[pb.TranscriptSegment], segs: Iterable[int]) -> list[pb.EvidenceSpan]:
    """One span per distinct segment, in transcript order."""
    return [pb.EvidenceSpan(start_s=transcript[i].start_s, end_s=transcript[i].end_s) for i in sorted(set(segs))]


def _measure_words(seg: pb.TranscriptSegment, numbers: set[str]) -> list[pb.Word]:
    """The recogniser words that spelled this segment's numbers."""
    out = []
    for w in seg.words:
        token = w.text.strip().strip(".,;:!?\"'()").lower()
        if not token:
            continue
        if _NUMBER.search(token):
            if any(n in token for n in numbers) or not numbers:
                out.append(w)
        elif _NUMBER_WORD.match(token) and token not in {"out", "of", "times", "oh"}:
            out.append(w)
    return out


def _unsure_number_words(item_text: str, seg: pb.TranscriptSegment, threshold: float) -> bool:
    """A measure left in words ("eighty out of twenty") whose words the recogniser was unsure of."""
    said = {w.lower() for w in re.findall(r"[A-Za-z]+", item_text)}
    for w in seg.words:
        token = w.text.strip().strip(".,;:!?\"'()-").lower()
        if token in said and token in _SPELLED and w.probability < threshold:
            return True
    return False


_TOKEN = re.compile(r"[A-Za-z0-9']+")


def _unsure_corrected_term(item_text: str, seg: pb.TranscriptSegment, threshold: float) -> bool:
    """The item holds words the term corrector wrote (in the segment's text, not in its spoken-to-written
    raw words) and a word they replaced was one the recogniser was unsure of: the corrector's choice is
    a guess the therapist confirms."""
    written = {w.lower() for w in _TOKEN.findall(to_written(seg.raw_text))}
    text = {w.lower() for w in _TOKEN.findall(seg.text)}
    corrected = text - written
    if not corrected or not corrected & {w.lower() for w in _TOKEN.findall(item_text)}:
        return False
    replaced = written - text
    return any(w.probability < threshold for w in seg.words
               if any(t.lower() in replaced for t in _TOKEN.findall(w.text)))


# exp(mean token log-probability) of a recognised utterance; clear speech is ~0.7-0.9 here.
SEGMENT_CONFIDENCE_FLOOR = 0.5


def needs_review(item_text: str, segments: Iterable[pb.TranscriptSegment], threshold: float) -> bool:
    """True when a measure in the item cannot be right as written (`measures.implausible`), when the
    item states a number and a recogniser word spelling a number was unsure, or when it holds a term the
    lexicon corrector wrote in place of words the recogniser was unsure of (`_unsure_corrected_term`).

    Segments without word timings (gold text, typed input) never trigger the confidence check;
    an implausible measure is flagged whatever its source. Nothing is ever corrected here.
    """
    if implausible(item_text):
        return True
    segments = list(segments)
    if any(_unsure_corrected_term(item_text, seg, threshold) for seg in segments if seg.words and seg.raw_text):
        return True
    numbers = set(numbers_in(item_text))
    if not numbers:
        return _OUT_OF_WORDS.search(item_text) is not None and any(
            _unsure_number_words(item_text, seg, threshold) for seg in segments if seg.words)
    for seg in segments:
        if not (numbers & set(numbers_in(seg.text))):
            continue
        if seg.words:
            if any(w.probability < threshold for w in _measure_words(seg, numbers)):
                return True
        elif 0.0 < seg.confidence < SEGMENT_CONFIDENCE_FLOOR:
            # Decoded without word timings: only the segment's own confidence is known.
            return True
    return False
