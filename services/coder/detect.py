"""Documentation detectors: skilled cueing, goal links, outcome measures, laterality, deficits."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from services.coder.lexicon import PhraseSet
from services.coder.rules import Lexicon
from services.coder.text import NUM_WORDS, NUMBER_RE

_PURPOSE_RE = re.compile(
    r"\b(?:to|will|should|would)\s+(?:build|improve|increase|gain|restore|regain|promote|address|help|enable|"
    r"allow|facilitate|prepare|strengthen|work on|make)\b[^.;]*?\b(?:for|with|when|during)\b(?P<tail>[^.;]*)",
    re.IGNORECASE,
)
_FOR_PURPOSE_RE = re.compile(
    r"\bfor\s+(?:the\s+|her\s+|his\s+|your\s+|their\s+|a\s+|an\s+)?(?P<tail>[^.;,]*)", re.IGNORECASE)
_FOR_DOING_RE = re.compile(
    r"\bfor\s+(?:getting|returning|managing|doing|climbing|walking|carrying|lifting|reaching|going|playing|riding|"
    r"dressing|cooking|bathing|using|performing|completing|driving|working|caring|negotiating|transferring|"
    r"standing up|sitting down|safe|safer|independent|independence|safely)\b", re.IGNORECASE)
_WAS_NUMBER_RE = re.compile(r"\b(?:was|were|vs\.?|versus)\s+(?:-|minus\s+)?\d", re.IGNORECASE)
_TIMEFRAME_RE = re.compile(rf"\b(?:in|within|by)\s+(?:\d+|{NUM_WORDS})\s+(?:weeks?|months?|visits?|sessions?)\b",
                           re.IGNORECASE)
_SIDE_WORDS = {"left", "right", "l", "r", "lt", "rt", "bilateral", "both"}


def has_cues(texts: Iterable[str], lex: Lexicon, ambient: bool) -> bool:
    for text in texts:
        if lex.cues.found(text):
            return True
        if ambient and lex.coaching.found(text):
            return True
    return False


def is_goal_link(text: str, lex: Lexicon) -> bool:
    """A sentence tying the work to a function or goal."""
    if lex.goal_markers.found(text):
        return True
    m = _PURPOSE_RE.search(text)
    if m and lex.functional.found(m.group("tail")):
        return True
    if _FOR_DOING_RE.search(text):
        return True
    return any(lex.functional.found(" ".join(f.group("tail").split()[:3])) for f in _FOR_PURPOSE_RE.finditer(text))


def is_goal_statement(text: str, lex: Lexicon) -> bool:
    """A goal as an evaluation sets it: a target with a time frame ("... with 80% accuracy in 12 weeks",
    "walk 300 feet with a cane in 6 weeks"), even when the word "goal" was lost."""
    return _TIMEFRAME_RE.search(text) is not None and (lex.functional.found(text) or "%" in text
                                                         or lex.measure_units.found(text))


def has_number(text: str) -> bool:
    return NUMBER_RE.search(text) is not None


def is_compared_measure(text: str, lex: Lexicon, baseline: Mapping[str, str]) -> bool:
    """A measure compared to an earlier value, or to a baseline the context carries."""
    if not has_number(text):
        return False
    if _WAS_NUMBER_RE.search(text) and lex.measure_units.found(text):
        return True
    if lex.comparison.found(text) and (lex.measure_units.found(text) or re.search(r"\d", text)):
        return True
    if re.search(r"\bfrom\b[^.]*\bto\b", text, re.IGNORECASE) and lex.measure_units.found(text):
        return True
    low = text.lower()
    for key in baseline:
        words = [w for w in re.split(r"[_\s]+", key.lower()) if w and w not in _SIDE_WORDS]
        if words and all(re.search(rf"\b{re.escape(w)}", low) for w in words) and lex.measure_units.found(text):
            return True
    return False


def deficit_categories(text: str, lex: Lexicon) -> list[str]:
    return sorted(name for name, ps in lex.deficits.items() if ps.found(text))


def _parts(text: str, ps: PhraseSet) -> list[str]:
    return ps.findall(text)


def extremity_regions(text: str, lex: Lexicon, include_incidental: bool) -> set[str]:
    """'upper' / 'lower' limbs named in text; incidental words ("hands on the chair") only if asked."""
    regions = set()
    for region, ps in (("upper", lex.upper), ("lower", lex.lower)):
        for word in _parts(text, ps):
            if include_incidental or _base(word) not in lex.incidental:
                regions.add(region)
    return regions


def focus_regions(block_text: str, lex: Lexicon) -> set[str]:
    """Limbs a block treats: a limb other than the incidental ones ("hands on the chair") named twice or more."""
    regions: set[str] = set()
    for region, ps in (("upper", lex.upper), ("lower", lex.lower)):
        words = [w for w in ps.findall(block_text) if _base(w) not in lex.incidental]
        if len(words) >= 2:
            regions.add(region)
    return regions


def _base(word: str) -> str:
    return word if " " in word else re.sub(r"(?:s|es)$", "", word)


def sided_regions(texts: Iterable[str], lex: Lexicon) -> set[str]:
    """Limbs named with a side somewhere ("right knee", "the knee on the left", "L wrist")."""
    out: set[str] = set()
    for text in texts:
        if not lex.sides.found(text):
            continue
        for clause in re.split(r"[.;]", text):
            if not lex.sides.found(clause):
                continue
            out |= extremity_regions(clause, lex, include_incidental=True)
    return out


def any_side(texts: Iterable[str], lex: Lexicon) -> bool:
    return any(lex.sides.found(t) for t in texts)
