"""The drafter's rule lexicons, loaded once from data/sections.toml."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

SECTIONS = ("subjective", "objective", "assessment", "plan")
DATA_FILE = Path(__file__).resolve().parent / "data" / "sections.toml"

Pattern = re.Pattern[str]
# A body part said as someone's ("my back", "her left hand"): a report, not "back home" or "on hand".
_OWNED = re.compile(
    r"\b(my|his|her|their|your|left|right|low|lower|upper|mid|both) (back|hands?|foot|feet|heart|core)\b",
    re.IGNORECASE)


def _compile(items: list[str]) -> list[Pattern]:
    return [re.compile(p, re.IGNORECASE) for p in items]


def _any(patterns: list[Pattern], text: str) -> bool:
    return any(p.search(text) for p in patterns)


@dataclass(frozen=True)
class Lexicon:
    version: int
    word_probability: float
    pitch_separation_semitones: float
    headers: dict[str, tuple[str, ...]]
    loose_headers: tuple[str, ...]
    header_not_before: frozenset[str]
    smalltalk_strong: list[Pattern]
    smalltalk_weak: list[Pattern]
    smalltalk_prepositions: frozenset[str]
    smalltalk_tails: frozenset[str]
    clinical: list[Pattern]
    smalltalk_topics: list[Pattern]
    everyday: list[Pattern]
    limitation: list[Pattern]
    measures: list[Pattern]
    interventions: list[Pattern]
    coaching: list[Pattern]
    tasks: list[Pattern]
    filler_leading: list[Pattern]
    filler_whole: list[Pattern]
    preamble: list[Pattern]
    section_cues: dict[str, list[tuple[Pattern, float]]]
    hep_opens: list[Pattern]
    hep_closes: list[Pattern]
    topic_body: Pattern
    topic_pain: Pattern
    progress: list[Pattern]
    skilled: list[Pattern]
    purpose: list[Pattern]
    observation: list[Pattern]
    recap_opens: list[Pattern]
    recap_min_clauses: int
    home_opens: list[Pattern]
    home_times: list[Pattern]
    home_not_report: list[Pattern]
    role_cues: list[tuple[Pattern, float]]
    rewrite_patient: list[tuple[Pattern, str]]
    rewrite_therapist: list[tuple[Pattern, str]]

    def has_clinical(self, text: str) -> bool:
        return _any(self.clinical, text) or self.has_measure(text) or self.has_intervention(text)

    def is_chat_topic(self, text: str) -> bool:
        """Names what patients chat about (a show, a meal, a relative, a pet, an outing, the game)."""
        return _any(self.smalltalk_topics, text) or self.is_strong_smalltalk(text)

    def says_limitation(self, text: str) -> bool:
        """A limitation or a care goal ("I can't sit through ...", "I want to get back to ...")."""
        return _any(self.limitation, text)

    def everyday_only(self, text: str) -> bool:
        """Clinical only by everyday words ("night", "car", "work", "sat", "back home", "doing better").

        A body part owned ("my back", "her hands") is never everyday.
        """
        if not self.has_clinical(text):
            return False
        masked = _OWNED.sub(lambda m: m.group(1) + " BODY", text)
        for p in self.everyday:
            masked = p.sub(" ~ ", masked)
        return not self.has_clinical(masked) and "BODY" not in masked

    def has_measure(self, text: str) -> bool:
        return _any(self.measures, text)

    def has_intervention(self, text: str) -> bool:
        return _any(self.interventions, text)

    def is_strong_smalltalk(self, text: str) -> bool:
        return _any(self.smalltalk_strong, text)

    def is_weak_smalltalk(self, text: str) -> bool:
        return _any(self.smalltalk_weak, text)

    def is_coaching(self, text: str) -> bool:
        return _any(self.coaching, text)

    def is_task(self, text: str) -> bool:
        return _any(self.tasks, text)

    def is_preamble(self, text: str) -> bool:
        return _any(self.preamble, text)

    def is_progress(self, text: str) -> bool:
        return _any(self.progress, text)

    def is_skilled(self, text: str) -> bool:
        return _any(self.skilled, text)

    def is_purpose(self, text: str) -> bool:
        """A therapist's "this is what lets you ..." tying an activity to a function."""
        return _any(self.purpose, text)

    def is_observation(self, text: str) -> bool:
        """The therapist's view of tolerance or movement quality ("you tire after the second lap")."""
        return _any(self.observation, text)

    def is_home_instruction(self, text: str) -> bool:
        """An instruction for the time between visits, not a report of it."""
        if _any(self.home_opens, text):
            return True
        return _any(self.home_times, text) and not _any(self.home_not_report, text)

    def opens_hep(self, text: str) -> bool:
        return _any(self.hep_opens, text)

    def closes_hep(self, text: str) -> bool:
        return _any(self.hep_closes, text)

    def header_section(self, word: str) -> str | None:
        w = word.strip().lower()
        for section, names in self.headers.items():
            if w in names:
                return section
        return None

    @property
    def header_names(self) -> list[str]:
        """Every header, longest first ("plan of care" before "plan")."""
        return sorted({h for names in self.headers.values() for h in names}, key=lambda h: (-len(h), h))


def _pairs(items: list[list[Any]]) -> list[tuple[Pattern, str]]:
    return [(re.compile(p, re.IGNORECASE), r) for p, r in items]


def parse_lexicon(data: dict[str, Any]) -> Lexicon:
    th = data.get("thresholds", {})
    cues = {
        s: [(re.compile(p, re.IGNORECASE), float(w)) for p, w in data["section"][s]["patterns"]]
        for s in SECTIONS
    }
    return Lexicon(
        version=int(data["version"]),
        word_probability=float(th.get("word_probability", 0.5)),
        pitch_separation_semitones=float(th.get("pitch_separation_semitones", 2.0)),
        headers={s: tuple(h.lower() for h in data["headers"].get(s, [])) for s in SECTIONS},
        loose_headers=tuple(h.lower() for h in data["headers"].get("loose", [])),
        header_not_before=frozenset(w.lower() for w in data["headers"].get("not_before", [])),
        smalltalk_strong=_compile(data["smalltalk"]["strong"]),
        smalltalk_weak=_compile(data["smalltalk"]["weak"]),
        smalltalk_prepositions=frozenset(w.lower() for w in data["smalltalk"].get("prepositions", [])),
        smalltalk_tails=frozenset(w.lower() for w in data["smalltalk"].get("tails", [])),
        clinical=_compile(data["clinical"]["terms"]),
        smalltalk_topics=_compile(data["smalltalk"].get("topics", [])),
        everyday=_compile(data["clinical"].get("everyday", [])),
        limitation=_compile(data["clinical"].get("limitation", [])),
        measures=_compile(data["measures"]["patterns"]),
        interventions=_compile(data["interventions"]["patterns"]),
        coaching=_compile(data["coaching"]["openers"]),
        tasks=_compile(data["coaching"]["tasks"]),
        filler_leading=_compile(data["fillers"]["leading"]),
        filler_whole=_compile(data["fillers"]["whole"]),
        preamble=_compile(data["preamble"]["patterns"]),
        section_cues=cues,
        hep_opens=_compile(data["hep"]["opens"]),
        hep_closes=_compile(data["hep"]["closes"]),
        topic_body=re.compile(data["topic"]["body"], re.IGNORECASE),
        topic_pain=re.compile(data["topic"]["pain"], re.IGNORECASE),
        progress=_compile(data["progress"]["markers"]),
        skilled=_compile(data["skilled"]["markers"]),
        purpose=_compile(data.get("purpose", {}).get("markers", [])),
        observation=_compile(data.get("observation", {}).get("markers", [])),
        recap_opens=_compile(data.get("recap", {}).get("opens", [])),
        recap_min_clauses=int(data.get("recap", {}).get("min_clauses", 3)),
        home_opens=_compile(data.get("home_instruction", {}).get("opens", [])),
        home_times=_compile(data.get("home_instruction", {}).get("times", [])),
        home_not_report=_compile(data.get("home_instruction", {}).get("not_report", [])),
        role_cues=[(re.compile(p, re.IGNORECASE), float(w)) for p, w in data["roles"]["cues"]],
        rewrite_patient=_pairs(data["rewrite"]["patient"]),
        rewrite_therapist=_pairs(data["rewrite"]["therapist"]),
    )


@lru_cache(maxsize=4)
def load_lexicon(path: str | None = None) -> Lexicon:
    """The lexicon from `path` (default: the packaged sections.toml); cached."""
    p = Path(path) if path else DATA_FILE
    with p.open("rb") as fh:
        return parse_lexicon(tomllib.load(fh))
