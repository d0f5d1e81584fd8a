"""Which SOAP section a sentence belongs to: rules now, a sentence model may plug in later.

`classify` is the seam: it takes one cleaned, chatter-free sentence with its speaker role
and returns a Classification. A learned classifier can replace `rule_classifier` by
`set_classifier`, e.g. only for sentences the rules leave ambiguous (low score).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from services.drafter.lexicon import SECTIONS, Lexicon

_QUESTION = re.compile(r"\?\s*$")
_GOAL = re.compile(r"\bgoals?\b|\btoward", re.IGNORECASE)
_HOME = re.compile(r"\bhome\b|\bhep\b", re.IGNORECASE)
_PAIN = re.compile(r"\bpain\b|\d+/10\b", re.IGNORECASE)
_HISTORY = re.compile(r"\b(history|lives|comorbid\w*|prior level|medications?|diagnosis|status post|s/p)\b", re.I)
_IMPRESSION = re.compile(r"\b(complexity|impression|looks like|consistent with|presentation|prognosis)\b", re.I)
# Below this best score a sentence is "ambiguous": a spoken header carried from an earlier
# segment decides, and a future model would be asked.
AMBIGUOUS = 3.0


@dataclass(frozen=True)
class Classification:
    section: str | None  # None: leave the sentence out of the note
    kind: str = ""
    score: float = 0.0


def section_scores(text: str, lex: Lexicon) -> dict[str, float]:
    scores = dict.fromkeys(SECTIONS, 0.0)
    for section in SECTIONS:
        for pattern, weight in lex.section_cues[section]:
            if pattern.search(text):
                scores[section] += weight
    if lex.has_measure(text):
        scores["objective"] += 3.0
    if lex.has_intervention(text) or lex.is_task(text):
        scores["objective"] += 2.0
    return scores


def kind_of(section: str, text: str, lex: Lexicon) -> str:
    if section == "subjective":
        if _PAIN.search(text):
            return "pain"
        return "history" if _HISTORY.search(text) else "report"
    if section == "objective":
        return "measure" if lex.has_measure(text) else "intervention"
    if section == "assessment":
        if _IMPRESSION.search(text):
            return "impression"
        return "goal_link" if _GOAL.search(text) else "progress"
    return "hep" if _HOME.search(text) else "plan"


def rule_classifier(text: str, role: str, lex: Lexicon) -> Classification:
    """Rules over lexicon cues; patient lines are subjective, questions never enter the note."""
    if not text or _QUESTION.search(text):
        return Classification(None)
    if lex.is_preamble(text) and role == "therapist":
        return Classification("subjective", "history", AMBIGUOUS)
    if role in ("patient", "other"):  # the patient's or a caregiver's own report
        if not lex.has_clinical(text):
            return Classification(None)
        return Classification("subjective", kind_of("subjective", text, lex), AMBIGUOUS + 1)
    scores = section_scores(text, lex)
    best = max(SECTIONS, key=lambda s: (scores[s], -SECTIONS.index(s)))
    if scores[best] <= 0:
        return Classification(None)
    content = scores[best] - (1.0 if lex.is_coaching(text) else 0.0)
    if lex.is_coaching(text) and not (lex.has_measure(text) or lex.has_intervention(text)) and content < 3:
        return Classification(None)  # "Press through your heels, tighten your core."
    return Classification(best, kind_of(best, text, lex), scores[best])


Classifier = Callable[[str, str, Lexicon], Classification]


def no_rescue(text: str, role: str, lex: Lexicon) -> Classification:
    """Rules never take back a sentence the small-talk rules dropped."""
    return Classification(None)


# A model may want every sentence it will be asked about at once (one batch, not one call each):
# `prefetch()` gives a context in which the drafter makes a dry run whose questions it records.
Prefetch = Callable[[], AbstractContextManager[object]]
_classifier: Classifier = rule_classifier
_rescuer: Classifier = no_rescue
_care: Classifier = no_rescue
_prefetch: Prefetch | None = None


def set_classifier(fn: Classifier | None, rescue: Classifier | None = None, prefetch: Prefetch | None = None,
                   care: Classifier | None = None) -> None:
    """Swap the sentence classifier (None restores the rules).

    `rescue` is asked about a sentence the small-talk rules dropped for want of a clinical word
    (never one with a chatter word): a section keeps it. Rules alone never rescue.
    `care` is asked about a clause on a chatter topic whose only clinical word is an everyday one
    ("we sat all night watching the finale"): "subjective" keeps it. Rules alone drop such a clause.
    """
    global _classifier, _rescuer, _prefetch, _care
    _classifier = fn or rule_classifier
    _rescuer = rescue or no_rescue
    _care = care or no_rescue
    _prefetch = prefetch if fn else None


def prefetcher() -> Prefetch | None:
    return _prefetch


def classify(text: str, role: str, lex: Lexicon) -> Classification:
    return _classifier(text, role, lex)


def rescue(text: str, role: str, lex: Lexicon) -> Classification:
    return _rescuer(text, role, lex)


def care(text: str, role: str, lex: Lexicon) -> Classification:
    return _care(text, role, lex)
