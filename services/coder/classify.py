"""Which CPT code an activity is: service names, intervention keywords, evaluation complexity."""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.coder.rules import CodingRules
from services.coder.text import NUMBER
from services.common import spoken

_CPT_RE = re.compile(r"\b(9\d{4}|G\d{4})\b")
# A code said digit by digit: the digit words of services/common/spoken.py, and "o" as a recogniser writes "oh".
_DIGIT_WORDS = {w: str(v) for w, v in spoken.ONES.items()} | {"o": "0"}
_DIGIT_W = rf"(?:{spoken.words_upto(9, oh=True)}|o)"
_SPOKEN_CPT_RE = re.compile(rf"\b({_DIGIT_W}(?:[\s-]+{_DIGIT_W}){{4}})\b", re.IGNORECASE)
_COMPLEXITY_RE = re.compile(r"\b(low|moderate|medium|high)[\s-]+complexity\b|\bcomplexity\s+(?:is\s+|of\s+)?"
                            r"(low|moderate|medium|high)\b", re.IGNORECASE)
_COUNT_COMORB_RE = re.compile(rf"\b(\d+|{spoken.words_upto(6, zero=False)}|no)\s+(?:personal factors(?: or|and)?\s*)?"
                              r"comorbidit(?:y|ies)\b", re.IGNORECASE)
_REFERENCE_RE = re.compile(r"\b(?:at|since|from|during|on|in)\s+(?:the|her|his|their|your)?\s*(?:initial\s+)?"
                           r"(?:re-?)?eval(?:uation)?\b", re.IGNORECASE)
_LEVEL = {"low": 0, "moderate": 1, "medium": 1, "high": 2}


@dataclass(frozen=True)
class Mention:
    cpt: str
    start: int
    end: int


def allowed(rules: CodingRules, cpt: str, discipline: str) -> bool:
    info = rules.codes.get(cpt)
    return info is not None and (not discipline or discipline in info.disciplines)


def explicit_codes(text: str, rules: CodingRules, discipline: str) -> list[Mention]:
    """CPT numbers said outright ("treatment code 92507"), written or as spoken digits."""
    out = [Mention(m.group(1), m.start(), m.end()) for m in _CPT_RE.finditer(text)]
    for m in _SPOKEN_CPT_RE.finditer(text):
        digits = "".join(_DIGIT_WORDS[w.lower()] for w in re.split(r"[\s-]+", m.group(1)))
        out.append(Mention(digits, m.start(), m.end()))
    return [m for m in out if allowed(rules, m.cpt, discipline)]


def named_services(text: str, rules: CodingRules, discipline: str) -> list[Mention]:
    """Services named by what clinicians call them ("therapeutic exercise", "gait training")."""
    found: list[Mention] = []
    taken: list[tuple[int, int]] = []
    candidates: list[tuple[int, int, str]] = []
    for cpt, lex in rules.lexicon.services.items():
        if not allowed(rules, cpt, discipline) or lex.names.regex is None:
            continue
        for m in lex.names.regex.finditer(text):
            candidates.append((m.start(), m.end(), cpt))
    # Longest first, so "balance group" beats "balance training"/"group" overlaps.
    for start, end, cpt in sorted(candidates, key=lambda c: (-(c[1] - c[0]), c[0])):
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        found.append(Mention(cpt, start, end))
    return sorted(found, key=lambda m: m.start)


# What may come before a short name at the head of a sentence: "Then", "We worked on", "Spent 12 minutes on",
# "Twelve minutes of".
_HEAD_LEAD_RE = re.compile(
    r"^\s*(?:(?:and|then|next|also|plus|okay|ok|so|after that|afterwards)\b[\s,]*)*"
    r"(?:(?:we|she|he|they|the patient|patient|pt)\s+)?"
    r"(?:(?:worked|focused)\s+on\b|did\b|spent\b|practiced\b|performed\b)?\s*"
    rf"(?:(?:about|approximately|roughly|another)\s+)?(?:{NUMBER}\s*-?\s*min(?:ute)?s?\s+(?:of|on|doing)\b\s*)?"
    r"(?:the\s+|some\s+)?",
    re.IGNORECASE,
)


def head_services(text: str, rules: CodingRules, discipline: str) -> list[Mention]:
    """Short names ("Manual", "Neuro", "Balance") that name a service only when they lead the sentence
    ("Manual from 2:30 to 2:39."); the caller checks that the sentence also says a time."""
    lead = _HEAD_LEAD_RE.match(text)
    at = lead.end() if lead else 0
    out: list[Mention] = []
    for cpt, lex in rules.lexicon.services.items():
        if not allowed(rules, cpt, discipline) or lex.heads.regex is None:
            continue
        m = lex.heads.regex.match(text, at)
        if m:
            out.append(Mention(cpt, m.start(), m.end()))
    return sorted(out, key=lambda m: -(m.end - m.start))[:1]


def eval_mentions(text: str, rules: CodingRules) -> list[tuple[str, int, int]]:
    """('evaluation' | 'reevaluation', start, end) for each evaluation said as a service, not as a reference."""
    out: list[tuple[str, int, int]] = []
    lex = rules.lexicon
    spans: list[tuple[int, int]] = []
    if lex.reeval_names.regex is not None:
        for m in lex.reeval_names.regex.finditer(text):
            spans.append(m.span())
            out.append(("reevaluation", m.start(), m.end()))
    if lex.eval_names.regex is not None:
        for m in lex.eval_names.regex.finditer(text):
            if any(s <= m.start() < e for s, e in spans):
                continue
            out.append(("evaluation", m.start(), m.end()))
    refs = [m.span() for m in _REFERENCE_RE.finditer(text)]
    return [o for o in out if not any(s <= o[1] < e for s, e in refs)]


_LATER_RE = re.compile(r"\b(?:next (?:week|visit|time|month)|in (?:a|\w+) (?:weeks?|months?))\b", re.IGNORECASE)


def says_reevaluation_visit(sentences: list[str], rules: CodingRules) -> bool:
    """A visit that re-examines a patient already under care: a re-evaluation named, or today's visit
    called a recheck or a reassessment ("today is re-check day"), not a later one."""
    if any(kind == "reevaluation" for kind, _s, _e in eval_mentions(" ".join(sentences), rules)):
        return True
    lex = rules.lexicon
    return any(lex.reeval_visit.found(s) and lex.reeval_today.found(s) and not _LATER_RE.search(s)
               for s in sentences)


def keyword_scores(text: str, rules: CodingRules, discipline: str) -> dict[str, float]:
    """Per-code evidence in one stretch of text: a name 3, a keyword 1, a weak keyword 0.5."""
    scores: dict[str, float] = {}
    for cpt, lex in rules.lexicon.services.items():
        if not allowed(rules, cpt, discipline):
            continue
        score = 3.0 * lex.names.count(text) + lex.keywords.count(text) + 0.5 * lex.weak.count(text)
        if score > 0:
            scores[cpt] = score
    return scores


def best_code(scores: dict[str, float], minimum: float = 1.0) -> str | None:
    if not scores:
        return None
    cpt, score = max(scores.items(), key=lambda kv: (kv[1], kv[0] == "97110"))
    return cpt if score >= minimum else None


def _stated_complexity(text: str) -> int | None:
    levels = [_LEVEL[(m.group(1) or m.group(2)).lower()] for m in _COMPLEXITY_RE.finditer(text)]
    return levels[-1] if levels else None


def _history_level(text: str, rules: CodingRules) -> int | None:
    """0-2 from the comorbidities and personal factors said; None when the history says nothing either way."""
    stated = [m.group(1).lower() for m in _COUNT_COMORB_RE.finditer(text)]
    if stated:
        s = stated[-1]
        count = int(s) if s.isdigit() else spoken.VALUES.get(s, 0)  # "no" comorbidities: 0
    else:
        count = len(set(rules.lexicon.comorbidities.findall(text)))
        if count == 0:
            return None  # nothing found is not "no comorbidities": the talk may not have covered them
    return 0 if count == 0 else (1 if count <= 2 else 2)


def eval_complexity(text: str, rules: CodingRules) -> int:
    """0 low, 1 moderate, 2 high: the level said; else the lowest of the components the talk documents
    (history, examination, presentation: every component must reach a level for it to be billed); with
    neither history nor presentation documented, moderate (the commonest level, which the therapist
    confirms) unless the examination itself covered too few elements for it."""
    stated = _stated_complexity(text)
    if stated is not None:
        return stated
    lex = rules.lexicon
    elements = len(set(lex.body_elements.findall(text)))
    exam_level = 0 if elements <= 2 else (1 if elements <= 4 else 2)
    presentation: int | None = None
    if lex.high_presentation.found(text):
        presentation = 2
    elif lex.moderate_presentation.found(text):
        presentation = 1
    elif re.search(r"\bstable\b", text, re.IGNORECASE):
        presentation = 0
    known = [v for v in (_history_level(text, rules), presentation) if v is not None]
    if not known:
        return min(1, exam_level)
    return min([*known, exam_level])


def evaluation_code(kind: str, text: str, discipline: str, rules: CodingRules) -> str | None:
    """The evaluation code for a discipline: PT 97161-97164, OT 97165-97168, SLP 92521-92524."""
    wanted = "reevaluation" if kind == "reevaluation" else "evaluation"
    if discipline == "SLP":
        if wanted == "reevaluation":
            wanted = "evaluation"
        hits = {area: ps.count(text) for area, ps in rules.lexicon.slp_areas.items()}
        area = "language"
        if hits.get("fluency", 0) > max(hits.get("language", 0), 0):
            area = "fluency"
        elif hits.get("voice", 0) > hits.get("language", 0) and hits.get("voice", 0) >= hits.get("speech_sound", 0):
            area = "voice"
        elif hits.get("speech_sound", 0) > 0 and hits.get("language", 0) == 0:
            area = "speech_sound"
        for info in rules.codes.values():
            if info.kind == "evaluation" and "SLP" in info.disciplines and info.area == area:
                return info.cpt
        return None
    candidates = [c for c in rules.codes.values() if c.kind == wanted and discipline in c.disciplines]
    if wanted == "reevaluation":
        return candidates[0].cpt if candidates else None
    level = ("low", "moderate", "high")[eval_complexity(text, rules)]
    for info in candidates:
        if info.complexity == level:
            return info.cpt
    return candidates[0].cpt if candidates else None
