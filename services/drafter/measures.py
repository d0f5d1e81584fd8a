"""Measures that cannot be right as written: the note keeps them as said and marks them for review.

The recogniser and the spoken->written normaliser can turn "four out of five" into "45/5", "45"
or "4.5", and "eighteen out of twenty" into "80/20". Such a value is never corrected here (a
guess would put an invented number in a signed note); `implausible` names what is wrong so the
item is flagged needs_review and the therapist decides.
"""

from __future__ import annotations

import re

from services.common import spoken
from services.common.spoken import number_value

_UNIT = (r"(?:°|%|degrees?|deg|percent|pounds?|lbs?|kg|kilograms?|seconds?|secs?|minutes?|mins?|hours?|hrs?|"
         r"days?|weeks?|months?|years?|reps?|repetitions|sets?|times|feet|foot|ft|inches|inch|cm|meters?|mm|steps|"
         r"trials?|items|x)\b")
# A fraction as the normaliser writes it: "4/5", "4+/5", "3-/5", "12/10", "-15/20" (never a date or a time).
_FRACTION = re.compile(r"(?<![\d/.:])(\d+(?:\.\d+)?)\s*([+-]?)\s*/\s*(\d+(?:\.\d+)?)(?![\d/])")
_PRESSURE = re.compile(r"\b(blood pressure|bp|mm ?hg|systolic|diastolic)\b", re.IGNORECASE)
# A manual muscle test grade expected: "strength is 4", "MMT 3+", "hip abduction strength 45".
_MMT = re.compile(
    r"\b(?<!grip )(?<!pinch )(strength|mmt|manual muscle test(?:ing)?|muscle grade|graded)\b"
    r"(?:[\s,:]+(?!\d)[\w'-]+){0,3}?[\s,:]+(?:is\s+|was\s+|of\s+|at\s+)?(-?\d+(?:\.\d+)?)([+-]?)(?!\s*[+-]?\s*/)"
    rf"(?!\s*{_UNIT})(?![\d:])(?!\.\d)",
    re.IGNORECASE,
)
# A pain rating expected: "pain is 7", "pain about a 12", "pain level 45".
_PAIN = re.compile(
    r"\bpain\b(?:\s+(?:is|was|of|level|rating|score|rated|now|today|currently|about|around|maybe|like|only|a|an|"
    r"at|its|worst|best))*[\s,:]+(\d+(?:\.\d+)?)(?!\s*[+-]?\s*/)(?![\d:])(?!\.\d)" rf"(?!\s*{_UNIT})",
    re.IGNORECASE,
)
# A run of number words as heard ("eighty", "four five"), from services/common/spoken.py.
_NUM_WORDS = spoken.alternation([*spoken.VALUES, "hundred"])
_NUM = rf"(?:\d+(?:\.\d+)?|(?:(?:{_NUM_WORDS})[\s-]*)+)"
# "eighty out of twenty" when the normaliser left the words as heard.
_OUT_OF = re.compile(rf"\b({_NUM})\s*([+-]|plus|minus)?\s+out of\s+({_NUM})\b", re.IGNORECASE)


def _is_pressure(text: str, num: float, den: float) -> bool:
    return bool(_PRESSURE.search(text)) or (70 <= num <= 260 and 30 <= den <= 160)


def implausible(text: str) -> list[str]:
    """What cannot be right in a note item's measures ([] when nothing): each as a short reason."""
    reasons: list[str] = []
    for m in _FRACTION.finditer(text):
        num, den = float(m.group(1)), float(m.group(3))
        if den == 0:
            reasons.append(f"{m.group(0)}: zero denominator")
        elif num > den and not _is_pressure(text, num, den):
            reasons.append(f"{m.group(0)}: more than the whole")
        elif den == 5 and num != int(num):
            reasons.append(f"{m.group(0)}: not a muscle grade")
    for m in _OUT_OF.finditer(text):
        said, whole = number_value(m.group(1)), number_value(m.group(3))
        if said is not None and whole is not None and (whole == 0 or said > whole):
            reasons.append(f"{m.group(0)}: more than the whole")
    for m in _MMT.finditer(text):
        value = float(m.group(2))
        if value > 5 or value < 0:
            reasons.append(f"{m.group(0)}: muscle grade outside 0-5 (digits run together?)")
        elif value != int(value):
            reasons.append(f"{m.group(0)}: not a muscle grade")
    for m in _PAIN.finditer(text):
        if float(m.group(1)) > 10:
            reasons.append(f"{m.group(0)}: pain above 10")
    return reasons
