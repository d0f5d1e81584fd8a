"""Time and number phrases in transcript text: clock ranges, durations, stated units.

The transcript arrives in written form ("from 10:05 to 10:23", "12 minutes", "2 units");
spoken forms ("from nine forty to ten oh two", "twelve minutes") are understood too,
so the coder does not depend on the normaliser having caught every phrase.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.common import spoken
from services.common.spoken import number_value

# Number words, cardinals and clock words come from services/common/spoken.py (one reading for the
# normaliser, drafter and coder); this module composes them into the coder's phrases.
NUM_WORDS = spoken.CARDINAL  # a cardinal said in words ("one hundred five", "forty-five", "thirteen point four")
NUMBER = spoken.NUMBER

_HOUR_W = spoken.HOUR_W
_OCLOCK = spoken.OCLOCK
_MIN_W = rf"(?:{_OCLOCK}|{spoken.MINUTE_W})"
_AMPM = spoken.AMPM
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


def resolve_clock(hour: int, minute: int, ampm: str, anchor: int | None = None) -> int | None:
    """Minutes after midnight of a clock time, by the one AM/PM rule of services/common/spoken.py (an
    explicit am/pm wins, else 1-5 is p.m., else 6-12 nearest `anchor`, the session's start)."""
    time = spoken.to_24_hour(hour, minute, ampm, anchor)
    return None if time is None else time[0] * 60 + time[1]


@dataclass(frozen=True)
class ClockRange:
    start: int
    stop: int
    span: tuple[int, int]  # character offsets in the sentence


def find_ranges(sentence: str, anchor: int | None = None) -> list[ClockRange]:
    """Clock ranges in a sentence (`anchor`: the session's start, see `resolve_clock`)."""
    out: list[ClockRange] = []
    for m in RANGE_RE.finditer(sentence):
        a = m.group("a") or m.group("c") or m.group("e") or m.group("g") or m.group("i")
        b = m.group("b") or m.group("d") or m.group("f") or m.group("h") or m.group("j")
        pa, pb = spoken.clock_parts(a), spoken.clock_parts(b)
        if pa is None or pb is None:
            continue
        if pa[2] == "":
            pa = (pa[0], pa[1], spoken.range_marker(pa[0], pb[0], pb[2]))
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
