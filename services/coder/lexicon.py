"""Phrase lists from the lexicon data file, compiled into fast case-insensitive matchers."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


def phrase_pattern(phrase: str) -> str:
    """Regex source for one lexicon phrase (see the header of data/lexicon.toml)."""
    phrase = phrase.strip().lower()
    any_ending = phrase.endswith("*")
    if any_ending:
        phrase = phrase[:-1]
    parts = [re.escape(p) for p in re.split(r"[\s\-]+", phrase) if p]
    body = r"[\s\-]+".join(parts)
    lead = r"\b" if phrase[:1].isalnum() else ""
    if any_ending:
        tail = r"\w*"
    elif phrase[-1:].isalnum():
        tail = r"(?:s|es|ed|d|ing)?\b"
    else:
        tail = ""
    return lead + body + tail


@dataclass(frozen=True)
class PhraseSet:
    """A list of phrases matched as one alternation."""

    phrases: tuple[str, ...]
    regex: re.Pattern[str] | None

    @classmethod
    def of(cls, phrases: Iterable[str]) -> PhraseSet:
        items = tuple(sorted({p.strip().lower() for p in phrases if p.strip()}, key=len, reverse=True))
        if not items:
            return cls((), None)
        return cls(items, re.compile("|".join(f"(?:{phrase_pattern(p)})" for p in items), re.IGNORECASE))

    def search(self, text: str) -> re.Match[str] | None:
        return self.regex.search(text) if self.regex is not None else None

    def found(self, text: str) -> bool:
        return self.regex is not None and self.regex.search(text) is not None

    def count(self, text: str) -> int:
        return 0 if self.regex is None else sum(1 for _ in self.regex.finditer(text))

    def findall(self, text: str) -> list[str]:
        return [] if self.regex is None else [m.group(0).lower() for m in self.regex.finditer(text)]
