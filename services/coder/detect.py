"""Documentation detectors: skilled cueing, goal links, outcome measures, laterality, deficits."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from services.coder.catalogue import stem
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
# "the strength she needs to climb into the truck", "that gets you back to gardening": a purpose, when what
# follows is a function.
_NEED_RE = re.compile(r"\b(?:needs?|needed)\s+(?:for|to)\s+(?P<tail>[^.;,]*)", re.IGNORECASE)
_BACK_TO_RE = re.compile(r"\b(?:gets?|getting|get)\s+(?:you|her|him|them)\s+back\s+(?:to|into|on)\s+"
                         r"(?P<tail>[^.;,]*)", re.IGNORECASE)
_WAS_NUMBER_RE = re.compile(r"\b(?:was|were|vs\.?|versus)\s+(?:-|minus\s+)?\d", re.IGNORECASE)
_TIMEFRAME_RE = re.compile(rf"\b(?:in|within|by)\s+(?:\d+|{NUM_WORDS})\s+(?:weeks?|months?|visits?|sessions?)\b",
                           re.IGNORECASE)
_SIDE_WORDS = {"left", "right", "l", "r", "lt", "rt", "bilateral", "both"}


# A sentence names what a goal is about when it shares this many of its words ("low couch").
GOAL_WORDS = 2
# A limb is what a block treats when named this often in it (other than hands and feet in passing).
FOCUS_MENTIONS = 3
# In an ambient session, this many corrections in one block are skilled cueing.
AMBIENT_CORRECTIONS = 2


def has_cues(texts: Iterable[str], lex: Lexicon, ambient: bool) -> bool:
    """Skilled cueing documented: a cue word ("verbal cues", "tactile", "demonstrated") in any mode;
    in an ambient session also the cueing itself, heard live: a coaching phrase, or two or more
    corrections ("keep your knee over your toes", "slower", "try again")."""
    corrections = 0
    for text in texts:
        if lex.cues.found(text):
            return True
        if ambient and lex.coaching.found(text):
            return True
        if ambient and lex.corrections.found(text):
            corrections += 1
    return corrections >= AMBIENT_CORRECTIONS


def is_goal_link(text: str, lex: Lexicon) -> bool:
    """A sentence tying the work to a function or goal."""
    if lex.goal_markers.found(text):
        return True
    m = _PURPOSE_RE.search(text)
    if m and lex.functional.found(m.group("tail")):
        return True
    if _FOR_DOING_RE.search(text):
        return True
    for pattern in (_NEED_RE, _BACK_TO_RE):
        if any(lex.functional.found(" ".join(m.group("tail").split()[:4])) for m in pattern.finditer(text)):
            return True
    return any(lex.functional.found(" ".join(f.group("tail").split()[:3])) for f in _FOR_PURPOSE_RE.finditer(text))


# Talk of the plan (next visit, the home program) names goals without tying today's work to them.
_PLAN_TALK_RE = re.compile(r"\b(?:next (?:time|visit|week|session)|home program|at home,? (?:keep|do|practice)|"
                           r"homework|we'll (?:add|try|progress|start))\b", re.IGNORECASE)
# Words of a goal that say nothing of what it is about.
_GOAL_STOP = frozenset(
    "a an the and or to of in on at for with without by from into up down out over under is be been being "
    "will would can could should able ability independently independent independence modified assist "
    "minimal moderate maximal min mod max supervision standby contact guard cue cues cueing verbal weeks week "
    "months month visits sessions times time percent accuracy accurate pain free no less than more least "
    "own her his their your my patient pt client he she they it its using use improve increase decrease "
    "return safely safe feet foot meters minutes seconds level levels degree degrees".split())


@dataclass(frozen=True)
class GoalTerms:
    """What the context's goals are about, as word stems ("couch", "cupboard", "grandchild", "stair")."""

    stems: frozenset[str]
    functional: frozenset[str]  # those that name a function (stairs, couch, cooking), not an exercise

    @classmethod
    def of(cls, goals: Iterable[str], lex: Lexicon) -> GoalTerms:
        out: set[str] = set()
        functional: set[str] = set()
        for goal in goals:
            for word in re.findall(r"[a-z]+", goal.lower()):
                if len(word) > 2 and word not in _GOAL_STOP:
                    out.add(stem(word))
                    if lex.functional.found(word):
                        functional.add(stem(word))
        return cls(frozenset(out), frozenset(functional))

    def named_in(self, text: str) -> bool:
        """A therapist's sentence names what a goal is about: its function ("the low couch", "cooking for
        the family"), not only its exercise ("naming objects" against "name objects to order meals"), and
        not as plan talk, a question, a dose or a measure."""
        if not self.functional or text.rstrip().endswith("?") or _PLAN_TALK_RE.search(text):
            return False
        if re.search(r"\d", text):  # a dose or a measure describes the work, it does not say what it is for
            return False
        said = {stem(w) for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 2 and w not in _GOAL_STOP}
        shared = said & self.stems
        return len(shared) >= GOAL_WORDS and bool(shared & self.functional)


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


def deficit_mentions(text: str, lex: Lexicon) -> dict[str, int]:
    """How often each deficit category is named in a text."""
    return {name: n for name, ps in lex.deficits.items() if (n := ps.count(text))}


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
    """Limbs a block treats: a limb other than the incidental ones ("hands on the chair") named FOCUS_MENTIONS
    times or more."""
    regions: set[str] = set()
    for region, ps in (("upper", lex.upper), ("lower", lex.lower)):
        words = [w for w in ps.findall(block_text) if _base(w) not in lex.incidental]
        if len(words) >= FOCUS_MENTIONS:
            regions.add(region)
    return regions


def _base(word: str) -> str:
    return word if " " in word else re.sub(r"(?:s|es)$", "", word)


# A side said of a limb: "right knee", "the left shoulder", "knee on the left", "LUE", "bilateral"; and
# both sides ("both legs", "the other arm"), but not of a hand or a foot ("both hands on the bar" places
# the hands, it does not document the side treated). A bare "right" ("right here") is no side.
_SIDE = r"(?:left|right|lt|rt|l|r|contralateral|ipsilateral)"
_BOTH = r"(?:both|each|either|other|opposite)"
_DISTAL = ("hand", "foot", "feet", "finger", "toe", "heel", "thumb")
_LIMB_ABBREV = re.compile(r"\b(?:lue|rue|bue|lle|rle|ble)\b", re.IGNORECASE)


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") + r"(?:s|es)?" for w in sorted(words, key=len, reverse=True))


@functools.lru_cache(maxsize=4)
def _side_patterns(upper: tuple[str, ...], lower: tuple[str, ...]) -> dict[str, re.Pattern[str]]:
    out = {}
    for region, words in (("upper", upper), ("lower", lower)):
        limb = _alternation(words)
        proximal = _alternation(w for w in words if w not in _DISTAL)
        out[region] = re.compile(
            rf"\b{_SIDE}\s+(?:[a-z]+\s+){{0,2}}?(?:{limb})\b"
            rf"|\b{_BOTH}\s+(?:[a-z]+\s+){{0,1}}?(?:{proximal})\b"
            rf"|\b(?:{limb})\s+(?:[a-z]+\s+){{0,2}}?on\s+(?:the|your|her|his)\s+(?:left|right)\b"
            rf"|\b(?:{limb})\s+(?:left|right)\b|\b(?:left|right)\s+side\b|\bbilateral(?:ly)?\b",
            re.IGNORECASE)
    return out


def sided_regions(texts: Iterable[str], lex: Lexicon) -> set[str]:
    """Limbs named with a side somewhere ("right knee", "the knee on the left", "both legs", "L wrist")."""
    patterns = _side_patterns(lex.upper.phrases, lex.lower.phrases)
    out: set[str] = set()
    for text in texts:
        if _LIMB_ABBREV.search(text):
            out |= {"upper", "lower"} & {("upper" if m.group(0).lower()[1] == "u" else "lower")
                                         for m in _LIMB_ABBREV.finditer(text)}
        for region, pattern in patterns.items():
            if pattern.search(text):
                out.add(region)
    return out


def any_side(texts: Iterable[str], lex: Lexicon) -> bool:
    return any(lex.sides.found(t) for t in texts)
