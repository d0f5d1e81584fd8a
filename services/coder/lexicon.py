"""Phrase lists from the lexicon data file, compiled into fast case-insensitive matchers."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_VOWELS = "aeiou"


def _inflected(word: str) -> str:
    """Regex for a phrase's leading word with its -s/-ed/-ing forms, spelled the English way (come ->
    coming, step -> stepping, carry -> carried); a word that is not plainly alphabetic stays as it is."""
    if len(word) < 3 or not word.isalpha():
        return re.escape(word)
    if word.endswith("e") and not word.endswith("ee"):
        return re.escape(word[:-1]) + "(?:e|es|ed|ing)"
    if word.endswith("y") and word[-2] not in _VOWELS:
        return re.escape(word[:-1]) + "(?:y|ies|ied|ying)"
    last = word[-1]
    if (len(word) <= 4 and last not in _VOWELS + "wxy" and word[-2] in _VOWELS
            and word[-3] not in _VOWELS):  # a short consonant-vowel-consonant verb doubles its last letter
        return re.escape(word) + f"(?:s|{last}ed|{last}ing)?"
    return re.escape(word) + "(?:s|es|ed|ing)?"


def phrase_pattern(phrase: str) -> str:
    """Regex source for one lexicon phrase (see the header of data/lexicon.toml)."""
    phrase = phrase.strip().lower()
    any_ending = phrase.endswith("*")
    if any_ending:
        phrase = phrase[:-1]
    words = [p for p in re.split(r"[\s\-]+", phrase) if p]
    parts = [re.escape(p) for p in words]
    if len(words) > 1:  # "head to" also says "heading to", "come over" "coming over"
        parts[0] = _inflected(words[0])
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
