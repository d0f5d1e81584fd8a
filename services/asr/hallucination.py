"""Drop the sentence Whisper invents after the speech ends ("Thank you for watching", "Okay.").

tiny.en tends to append a stock sentence in the trailing pad of an utterance, more so with a prompt.
Those words share a signature: they open a new sentence with a word the model itself doubted, and
they are squeezed into the last instant of the clip (zero-length words) or doubted throughout.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.asr.engine import RecognizedWord

_SENTENCE_END = (".", "!", "?")  # not ",": a doubted word after a comma is usually real speech
MAX_TAIL_WORDS = 14  # the stock sentences are short; a longer run is speech the model doubted
DOUBTED_OPENING = 0.2  # probability of the tail's first word below which the tail is suspect
DOUBTED_TAIL = 0.7  # mean probability of a suspect tail below which it is dropped
SQUEEZED_S = 0.02  # a word shorter than this has no audio of its own


def trim_hallucinated_tail(words: Sequence[RecognizedWord]) -> list[RecognizedWord]:
    """The words without an invented trailing sentence; unchanged when there is none."""
    for i in range(max(1, len(words) - MAX_TAIL_WORDS), len(words)):
        if not words[i - 1].text.endswith(_SENTENCE_END) or words[i].probability >= DOUBTED_OPENING:
            continue
        tail = words[i:]
        mean_p = sum(w.probability for w in tail) / len(tail)
        squeezed = any(w.end_s - w.start_s < SQUEEZED_S for w in tail)
        if mean_p < DOUBTED_TAIL or squeezed:
            return list(words[:i])
    return list(words)
