"""LocalAgreement-2, as in whisper_streaming (Macháček et al., 2023): a word is stable once two
successive hypotheses of a growing audio prefix agree on it and on every word before it.

Stable words only grow; a later hypothesis that disagrees with them does not take them back.
Words are compared without case and punctuation, since Whisper moves commas around as the
prefix grows; the stable words keep the spelling of the hypothesis that confirmed them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_NOISE = re.compile(r"[^\w'/%-]+")


def _key(word: str) -> str:
    return _NOISE.sub("", word.lower())


def agreed_prefix(a: Sequence[str], b: Sequence[str]) -> int:
    """How many leading words `a` and `b` share (compared without case and punctuation)."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if _key(x) != _key(y):
            break
        n += 1
    return n


class LocalAgreement:
    """Feed successive hypotheses of one utterance; get back the words that are now stable."""

    def __init__(self) -> None:
        self.stable: list[str] = []
        self._previous: list[str] | None = None

    def update(self, hypothesis: Sequence[str]) -> list[str]:
        """Add the newest hypothesis (all words of the prefix decoded so far); returns the stable words."""
        words = list(hypothesis)
        if self._previous is not None:
            k = len(self.stable)
            # Only words after the stable ones can be confirmed, and only if the new hypothesis
            # still starts with the stable words (otherwise it is an outlier: wait for the next).
            if agreed_prefix(self.stable, words) == k:
                n = agreed_prefix(self._previous[k:], words[k:])
                self.stable.extend(words[k : k + n])
        self._previous = words
        return list(self.stable)

    def tail(self, hypothesis: Sequence[str]) -> list[str]:
        """The words of `hypothesis` after the stable ones (what a display shows as tentative)."""
        return list(hypothesis[len(self.stable) :])
