"""The therapy lexicon (`lexicon/*.tsv`) loaded and indexed for the term corrector.

Each file is one category of terms (format in lexicon/README.md); a term in two files is merged. The index
holds every spoken form's letters (spaces ignored, sorted by length so a length window can be compared),
its Metaphone key, the exact forms, and the multi-word phrases a comma may split.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jellyfish

LEXICON_DIR = Path(__file__).with_name("lexicon")
# Lexicon files whose multi-word terms a comma may split (levels, devices, measures: noun phrases).
COMMA_CATEGORIES = frozenset({"assist_cues", "equipment", "measures"})


@dataclass(frozen=True)
class Term:
    """One lexicon entry: the written form, how it is said, what stands near it, a score range."""

    written: str
    spoken: tuple[str, ...]
    cues: frozenset[str]
    score_range: tuple[float, float] | None
    category: str


def letters(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def load_terms(directory: Path = LEXICON_DIR) -> list[Term]:
    """Every entry of every `*.tsv` in `directory`; a malformed row is an error naming file and line."""
    terms: list[Term] = []
    for path in sorted(directory.glob("*.tsv")):
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
        for i, row in enumerate(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)):
            written, spoken = (row.get("written") or "").strip(), (row.get("spoken") or "").strip()
            if not written or not spoken:
                raise ValueError(f"{path.name}: entry {i + 1} needs a written and a spoken form")
            rng = (row.get("range") or "").strip()
            low, _, high = rng.rpartition("-") if rng else ("", "", "")
            terms.append(Term(
                written=written,
                spoken=tuple(s.strip() for s in spoken.split("|") if s.strip()),
                cues=frozenset(c.strip().lower() for c in (row.get("cues") or "").split("|") if c.strip()),
                score_range=(float(low), float(high)) if rng else None,
                category=path.stem,
            ))
    return terms


@dataclass
class TermIndex:
    keys: list[str]  # letters of each spoken form
    owners: list[Term]  # the term each key belongs to
    sounds: list[str]  # Metaphone key of each spoken form
    exact: dict[str, Term]  # letters -> term, for spoken forms heard exactly
    # Multi-word forms of levels, devices and measures, word by word: a comma the recogniser put inside one
    # ("modified, independent"; "red, theraband") is a pause, not a clause break.
    phrases: dict[tuple[str, ...], Term] = field(default_factory=dict)
    lengths: list[int] = field(default_factory=list)  # len of each key; keys are sorted by it
    similar: dict[str, dict[int, float]] = field(default_factory=dict)  # heard letters -> keys within reach


def merged(terms: list[Term]) -> list[Term]:
    """One term per written form: a term listed in two categories (NuStep as equipment and as an
    intervention) pools its spoken forms and cues."""
    by_written: dict[str, Term] = {}
    for t in terms:
        seen = by_written.get(t.written.lower())
        if seen is None:
            by_written[t.written.lower()] = t
            continue
        by_written[t.written.lower()] = Term(
            seen.written, tuple(dict.fromkeys((*seen.spoken, *t.spoken))), seen.cues | t.cues,
            seen.score_range or t.score_range, seen.category)
    return list(by_written.values())


@cache
def term_index(directory: Path = LEXICON_DIR) -> TermIndex:
    terms = merged(load_terms(directory))
    entries: list[tuple[str, Term]] = []
    exact: dict[str, Term] = {}
    for term in terms:
        for form in sorted({*term.spoken, term.written.lower()}):
            key = letters(form)
            if len(key) < 2 or key in exact:
                continue
            exact[key] = term
            entries.append((key, term))
    entries.sort(key=lambda e: (len(e[0]), e[0]))  # by length: `_similar_keys` compares a length window
    keys = [k for k, _ in entries]
    phrases = {tuple(f.lower().split()): t for t in terms if t.category in COMMA_CATEGORIES
               for f in (*t.spoken, t.written) if len(f.split()) >= 2}
    return TermIndex(keys, [t for _, t in entries], [sound_key(k) for k in keys], exact, phrases,
                  [len(k) for k in keys])


@cache
def sound_key(letters: str) -> str:
    """A Metaphone key with doubled sounds made single ("gate training" and "gait training" alike)."""
    return re.sub(r"(.)\1+", r"\1", jellyfish.metaphone(letters))
