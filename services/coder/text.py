"""Time and number phrases in transcript text: clock ranges, durations, stated units.

The transcript arrives in written form ("from 10:05 to 10:23", "12 minutes", "2 units");
spoken forms ("from nine forty to ten oh two", "twelve minutes") are understood too,
so the coder does not depend on the normaliser having caught every phrase.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
         "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}
WORD_VALUE: dict[str, int] = {w: i for i, w in enumerate(_ONES)} | _TENS | {"a": 1, "an": 1, "a couple": 2}

_DIGIT_W = "(?:one|two|three|four|five|six|seven|eight|nine)"
_TEEN_W = "(?:ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen)"
_TENS_W = "(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
# A cardinal number said in words, up to the hundreds ("one hundred five", "forty-five").
NUM_WORDS = (
    rf"(?:(?:{_DIGIT_W}\s+hundred(?:\s+(?:and\s+)?(?:{_TENS_W}(?:[\s-]{_DIGIT_W})?|{_TEEN_W}|{_DIGIT_W}))?)"
    rf"|{_TENS_W}(?:(?:\s*-\s*|\s+){_DIGIT_W})?|{_TEEN_W}|{_DIGIT_W}|zero)"
)
NUMBER = rf"(?:\d+(?:\.\d+)?|{NUM_WORDS})"

_HOUR_W = "(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
# "o'clock" as recognisers write it: "o'clock", "o 'clock", "o' clock", "o’clock", "oclock", "o clock".
_OCLOCK = r"o\s?['’]?\s?clock"
_MIN_W = rf"(?:{_OCLOCK}|oh[\s-]+{_DIGIT_W}|{_TEEN_W}|(?:twenty|thirty|forty|fifty)(?:(?:\s*-\s*|\s+){_DIGIT_W})?)"
_AMPM = r"(?:\s*(?:a\.?\s?m\.?|p\.?\s?m\.?)(?![a-z]))"
# A clock time: written "10:05", "9 o'clock", "2 pm"; spoken "ten oh five", "nine o'clock".
_CLOCK = (
    rf"(?:\d{{1,2}}:\d{{2}}{_AMPM}?|\d{{1,2}}\s*{_OCLOCK}{_AMPM}?|\d{{1,2}}{_AMPM}"
    rf"|{_HOUR_W}(?:[\s-]+{_MIN_W}){_AMPM}?|{_HOUR_W}{_AMPM})"
)
# A bare hour ("nine", "9"): a clock only opposite a full clock time ("from nine to nine twenty").
_BARE_HOUR = rf"(?:{_HOUR_W}|\d{{1,2}})"
_FULL_CLOCK = (
    rf"(?:\d{{1,2}}:\d{{2}}{_AMPM}?|\d{{1,2}}\s*{_OCLOCK}{_AMPM}?|{_HOUR_W}(?:[\s-]+{_MIN_W}){_AMPM}?)"
)
_TO = r"\s*(?:to|until|till|through|thru|and|-|–)\s*"
_UNIT_AFTER = (r"(?!\s*(?:degrees?|°|percent|%|reps?|repetitions?|seconds?|minutes?|mins?|hours?|feet|foot|pounds?|"
               r"lbs?|sets?|times|out of|/))")
RANGE_RE = re.compile(
    rf"\b(?:from|between)\s+(?P<a>{_CLOCK}){_TO}(?P<b>{_CLOCK})\b{_UNIT_AFTER}"
    rf"|\b(?:from|between)\s+(?P<g>{_BARE_HOUR}){_TO}(?P<h>{_FULL_CLOCK})\b{_UNIT_AFTER}"
    rf"|\b(?:from|between)\s+(?P<i>{_FULL_CLOCK}){_TO}(?P<j>{_BARE_HOUR})\b{_UNIT_AFTER}"
    rf"|(?P<c>\d{{1,2}}:\d{{2}}{_AMPM}?)\s*(?:-|–|to|until)\s*(?P<d>\d{{1,2}}:\d{{2}}{_AMPM}?)"
    rf"|\b(?:start(?:ed|ing)?|began|begin(?:ning)?)\s+(?:at\s+)?(?P<e>{_CLOCK})\b[^.;]{{0,60}}?"
    rf"\b(?:end(?:ed|ing)?|stopp?(?:ed|ing)?|finish(?:ed|ing)?|until|till|completed?)\s+(?:at\s+)?(?P<f>{_CLOCK})\b",
    re.IGNORECASE,
)
DURATION_RE = re.compile(
    rf"(?P<n>{NUMBER}(?:\s+and\s+a\s+half)?)(?:\s*|-)(?:min(?:ute)?s?|mins)\b",
    re.IGNORECASE,
)
UNITS_RE = re.compile(rf"\b(?P<n>{NUMBER})\s+(?:timed\s+)?units?\b"
                      # "bill to units": how a recogniser writes "bill two units"
                      r"|\b(?:bill(?:ed|ing)?|build|built|charge[ds]?)\s+(?P<two>to|too)\s+(?:timed\s+)?units?\b",
                      re.IGNORECASE)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[\"'(A-Z0-9])")


def split_sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_SPLIT.split(text.strip()) if s]


def number_value(text: str) -> float | None:
    """The value of a number written in digits or words ("23", "twenty three", "one hundred five")."""
    t = text.strip().lower().replace("-", " ")
    half = 0.0
    if t.endswith("and a half"):
        half, t = 0.5, t[: -len("and a half")].strip()
    try:
        return float(t) + half
    except ValueError:
        pass
    total = 0
    current = 0
    seen = False
    for word in t.split():
        if word == "and":
            continue
        if word == "hundred":
            current = max(current, 1) * 100
        elif word in WORD_VALUE:
            current += WORD_VALUE[word]
        else:
            return None
        seen = True
    return float(total + current) + half if seen else None


def _clock_parts(text: str) -> tuple[int, int, str] | None:
    """(hour, minute, am/pm or '') of one clock expression."""
    t = re.sub(r"o\s?['’]?\s?clock", "oclock", text.strip().lower())
    t = re.sub(r"\s*-\s*", " ", t)
    ampm = ""
    m = re.search(r"([ap])\.?\s?m\.?$", t)
    if m:
        ampm = m.group(1) + "m"
        t = t[: m.start()].strip()
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", t)
    if m:
        return int(m.group(1)), int(m.group(2)), ampm
    m = re.fullmatch(r"(\d{1,2})(?:\s*oclock)?", t)
    if m:
        return int(m.group(1)), 0, ampm
    words = t.replace("-", " ").split()
    if not words or words[0] not in WORD_VALUE:
        return None
    hour = WORD_VALUE[words[0]]
    rest = words[1:]
    if not rest or rest[0] in ("o", "oclock"):
        return hour, 0, ampm
    if rest[0] == "oh":
        rest = rest[1:]
    minute = 0
    for w in rest:
        if w not in WORD_VALUE:
            return None
        minute += WORD_VALUE[w]
    return hour, minute, ampm


def resolve_clock(hour: int, minute: int, ampm: str, anchor: int | None) -> int | None:
    """Minutes after midnight; a 12-hour time is placed nearest the session's start (a dictation after the
    session says earlier times, a live session later ones: either way the nearer reading is the one)."""
    if minute > 59 or hour > 23:
        return None
    if ampm == "pm" and hour < 12:
        return (hour + 12) * 60 + minute
    if ampm == "am":
        return (hour % 12) * 60 + minute
    if hour >= 13 or hour == 0:
        return hour * 60 + minute
    candidates = [(hour % 12) * 60 + minute, (hour % 12 + 12) * 60 + minute]
    if anchor is None:
        return candidates[0] if 7 <= hour <= 12 else candidates[1]
    return min(candidates, key=lambda c: (abs(c - anchor), c))


@dataclass(frozen=True)
class ClockRange:
    start: int
    stop: int
    span: tuple[int, int]  # character offsets in the sentence


def find_ranges(sentence: str, anchor: int | None) -> list[ClockRange]:
    out: list[ClockRange] = []
    for m in RANGE_RE.finditer(sentence):
        a = m.group("a") or m.group("c") or m.group("e") or m.group("g") or m.group("i")
        b = m.group("b") or m.group("d") or m.group("f") or m.group("h") or m.group("j")
        pa, pb = _clock_parts(a), _clock_parts(b)
        if pa is None or pb is None:
            continue
        if pa[2] == "" and pb[2]:
            pa = (pa[0], pa[1], pb[2] if pa[0] <= pb[0] or pa[0] == 12 else "am")
        start = resolve_clock(*pa, anchor)
        stop = resolve_clock(*pb, anchor if start is None else start)
        if start is None or stop is None:
            continue
        if stop < start:  # "11:50 to 12:10" style roll-over across noon
            stop += 12 * 60 if stop + 12 * 60 - start < 6 * 60 else 24 * 60
        if stop - start > 6 * 60:
            continue
        out.append(ClockRange(start, stop, m.span()))
    return out


def find_durations(sentence: str) -> list[tuple[int, tuple[int, int]]]:
    out = []
    for m in DURATION_RE.finditer(sentence):
        value = number_value(m.group("n"))
        if value is not None and 0 < value <= 240:
            out.append((round(value), m.span()))
    return out


def find_units(sentence: str) -> list[tuple[int, tuple[int, int]]]:
    out = []
    for m in UNITS_RE.finditer(sentence):
        value = 2.0 if m.group("two") else number_value(m.group("n"))
        if value is not None and 0 < value <= 16 and value == int(value):
            out.append((int(value), m.span()))
    return out


def parse_clock(text: str) -> int | None:
    """'HH:MM' -> minutes after midnight, None if it is not a 24-hour clock time."""
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text or "")
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        return None
    return int(m.group(1)) * 60 + int(m.group(2))


def format_clock(minute_of_day: int) -> str:
    minute_of_day %= 24 * 60
    return f"{minute_of_day // 60}:{minute_of_day % 60:02d}"


NUMBER_RE = re.compile(rf"(?<![\w/])(?:-\s?|minus\s+)?{NUMBER}(?:\+|-)?(?:/\d+)?", re.IGNORECASE)
