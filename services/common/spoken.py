"""Spoken numbers and clock times: the one reading of them that the normaliser, drafter and coder share.

The number words come from the `[numbers]` table of therapy_vocabulary.toml and the afternoon hours
from its `[clock]` table; this module holds the regex fragments built from them and the parsers:
`number_value` / `written_number` for a cardinal ("one hundred five", "thirteen point four") and
`clock_parts` / `to_24_hour` / `clock_time` for a clock time ("ten oh five", "2:30 p.m.").

One AM/PM rule reads every clock time (`to_24_hour`): an explicit a.m./p.m. wins; otherwise an hour
in `[clock] afternoon_hours` (1-5: outpatient clinics do not treat at 1-5 a.m.) is in the afternoon,
and an hour 6-12 is the reading nearest the session's start when that is known, else taken as said.

No caller but the coder reads durations ("twelve minutes", "twelve and a half minutes"), so the
duration pattern stays in services/coder/text.py, built on `NUMBER` and `number_value` from here.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).with_name("therapy_vocabulary.toml")


@cache
def vocabulary_data() -> dict[str, Any]:
    """The parsed therapy_vocabulary.toml (read once): numbers and clock here, the rest in vocabulary.py."""
    with DATA_FILE.open("rb") as fh:
        return tomllib.load(fh)


def alternation(words: Iterable[str]) -> str:
    """Regex alternation of single words, longest first ("fourteen" is tried before "four")."""
    return "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))


_TABLE = vocabulary_data()["numbers"]
ONES: dict[str, int] = dict(_TABLE["ones"])  # the digits as words, "zero" and "oh" included
TEENS: dict[str, int] = dict(_TABLE["teens"])
TENS: dict[str, int] = dict(_TABLE["tens"])
VALUES: dict[str, int] = {**ONES, **TEENS, **TENS}  # every number word below a hundred
SCALES: dict[str, int] = {"hundred": 100, "thousand": 1000}
AFTERNOON_HOURS: frozenset[int] = frozenset(vocabulary_data()["clock"]["afternoon_hours"])

# Any one number word, scales included ("ninety", "oh", "hundred"). Every fragment below is one group.
NUMBER_WORD = f"(?:{alternation([*VALUES, *SCALES])})"


def words_upto(top: int, *, zero: bool = True, oh: bool = False) -> str:
    """Regex alternation of the number words worth 0..`top` ("zero|one|...|ten"), for counts and digits."""
    words = (w for w, v in VALUES.items() if v <= top and (zero or w != "zero") and (oh or w != "oh"))
    return f"(?:{alternation(words)})"


DIGIT_W = words_upto(9, zero=False)  # one .. nine
TEEN_W = f"(?:{alternation(TEENS)})"
TENS_W = f"(?:{alternation(TENS)})"
# Between "forty" and "five": a space or a hyphen, which a recogniser may space ("forty -five").
_JOIN = r"(?:\s*-\s*|\s+)"
_BELOW_100 = rf"(?:{TENS_W}{_JOIN}{DIGIT_W}|{TENS_W}|{TEEN_W}|{DIGIT_W})"
_HUNDREDS = rf"(?:(?:{DIGIT_W}|a)\s+hundred(?:\s+(?:and\s+)?{_BELOW_100})?)"
_THOUSANDS = rf"(?:(?:{_BELOW_100}|a)\s+thousand(?:\s+(?:and\s+)?(?:{_HUNDREDS}|{_BELOW_100}))?)"
# One spoken cardinal with an optional decimal ("one hundred five", "forty-five", "thirteen point four");
# no anchors: each caller puts the word boundaries its context needs.
CARDINAL = rf"(?:(?:{_THOUSANDS}|{_HUNDREDS}|{_BELOW_100}|zero)(?:\s+point(?:\s+(?:{DIGIT_W}|zero|oh))+)?)"
# A number written in digits or said in words.
NUMBER = rf"(?:\d+(?:\.\d+)?|{CARDINAL})"

# Clock words: an hour "one" .. "twelve"; minutes "oh five", "ten" .. "nineteen", "twenty" .. "fifty-nine".
# The minute tens run to "ninety" so that "one twenty to one ninety" (degrees) is read as a whole and
# then refused by the parser (minute 90), not half-read as the time "one twenty".
HOUR_W = words_upto(12, zero=False)
MINUTE_W = rf"(?:oh{_JOIN}{DIGIT_W}|{TENS_W}(?:{_JOIN}{DIGIT_W})?|{TEEN_W})"
# "o'clock" as recognisers write it: "o'clock", "o 'clock", "o' clock", "o’clock", "oclock", "o clock".
OCLOCK = r"o\s?['’]?\s?clock"
# An a.m. / p.m. after a time: "am", "a.m.", "a m", "PM" (not the start of a word: "2 amps").
AMPM = r"(?:\s*(?:a\.?\s?m\.?|p\.?\s?m\.?)(?![a-z]))"

_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_MARKER = re.compile(r"\s*([ap])\.?\s?m\.?$")


def _whole(words: list[str]) -> int | None:
    """The value of a whole number in words ("one hundred and five" -> 105), None for any other word."""
    total = current = 0
    seen = False
    for i, word in enumerate(words):
        if word == "and":
            continue
        if word in ("a", "an"):  # only as "a hundred", "a thousand"
            if i + 1 >= len(words) or words[i + 1] not in SCALES:
                return None
        elif word == "hundred":
            current = (current or 1) * 100
        elif word == "thousand":
            total, current = total + (current or 1) * 1000, 0
        elif word in VALUES:
            current += VALUES[word]
        else:
            return None
        seen = True
    return total + current if seen else None


def written_number(text: str) -> str | None:
    """Digits for a number said or written: "105" for "one hundred five", "13.4" for "thirteen point four",
    "12.5" for "twelve and a half". Digits come back as written ("05" stays "05"); None if not a number."""
    words = text.lower().replace("-", " ").split()
    half = words[-3:] == ["and", "a", "half"]
    if half:
        words = words[:-3]
    if not words:
        return None
    if len(words) == 1 and _DIGITS.fullmatch(words[0]):
        written = words[0]
    else:
        whole_words, point, frac = words, [], []
        if "point" in words:
            at = words.index("point")
            whole_words, point, frac = words[:at], ["point"], words[at + 1 :]
        whole = _whole(whole_words)
        if whole is None or (point and not frac) or any(w not in ONES for w in frac):
            return None
        written = str(whole) + ("." + "".join(str(ONES[w]) for w in frac) if frac else "")
    if half:
        return None if "." in written else f"{written}.5"
    return written


def number_value(text: str) -> float | int | None:
    """The value of a number in digits or words: 23 for "23", "twenty three" or "twenty-three", 105 for
    "one hundred five", 13.4 for "thirteen point four", 12.5 for "twelve and a half"; None if not a number."""
    written = written_number(text)
    if written is None:
        return None
    return float(written) if "." in written else int(written)


def clock_parts(text: str) -> tuple[int, int, str] | None:
    """(hour as said, minute, "am" / "pm" / "") of one clock expression: "10:05", "1005", "10.05",
    "9 o'clock", "2 pm", "ten oh five", "nine forty-five a.m.", "noon"; None if it is not one."""
    t = re.sub(OCLOCK, " oclock", text.strip().lower())
    t = re.sub(r"\s*-\s*", " ", t).strip()
    marker = ""
    m = _MARKER.search(t)
    if m:
        marker, t = m.group(1) + "m", t[: m.start()].strip()
    if t == "noon":
        return 12, 0, marker
    m = re.fullmatch(r"(\d{1,2})[:.]?(\d{2})", t)
    if m:
        return int(m.group(1)), int(m.group(2)), marker
    m = re.fullmatch(r"(\d{1,2})(?:\s*oclock)?", t)
    if m:
        return int(m.group(1)), 0, marker
    words = t.split()
    if not words or not 1 <= VALUES.get(words[0], 0) <= 12:  # an hour said is "one" .. "twelve"
        return None
    hour, rest = VALUES[words[0]], words[1:]
    if not rest or rest[0] in ("o", "oclock"):
        return (hour, 0, marker) if len(rest) <= 1 else None
    if rest[0] == "oh":
        rest = rest[1:]
    if not rest or any(w not in VALUES for w in rest):
        return None
    return hour, sum(VALUES[w] for w in rest), marker


def to_24_hour(hour: int, minute: int, marker: str = "", anchor: int | None = None) -> tuple[int, int] | None:
    """The one AM/PM rule: (hour 0-23, minute) of a time said with or without "am"/"pm"; None if impossible.

    An explicit marker wins ("twelve a.m." is 0:00, "two p.m." 14:00, an hour over 12 stays as said after
    "p.m."). Unmarked, an hour in `[clock] afternoon_hours` (1-5) is p.m. (outpatient clinics do not treat
    at 1-5 a.m.); another hour 6-12 is the reading nearest `anchor` (the session's start, minutes after
    midnight) when it is known, so "seven thirty" at an evening clinic is 19:30 and "nine forty" dictated
    at 2 p.m. is 9:40; with no anchor it is taken as said (6-11 a.m., twelve noon). 13-23 are 24-hour.
    The normaliser knows no session start and writes 6-12 as said; the coder re-reads them with it.
    """
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    if marker == "pm" and hour < 12:
        hour += 12
    elif marker == "am":
        hour %= 12
    elif not marker and hour in AFTERNOON_HOURS:
        hour += 12
    elif not marker and anchor is not None and 6 <= hour <= 12:
        readings = [hour % 12, hour % 12 + 12]
        hour = min(readings, key=lambda h: (abs(h * 60 + minute - anchor), h != hour))
    return hour, minute


def clock_time(text: str) -> tuple[int, int] | None:
    """(hour 0-23, minute) of one clock expression read by the one AM/PM rule; None if it is not a time."""
    parts = clock_parts(text)
    return None if parts is None else to_24_hour(*parts)


def range_marker(start_hour: int, stop_hour: int, stop_marker: str) -> str:
    """The marker an unmarked start takes from its range's stop: "ten to eleven a.m." is a.m. at both ends,
    but "eleven to one p.m." starts at 11 a.m. (a start past the stop's hour is the morning before)."""
    if not stop_marker:
        return ""
    return stop_marker if start_hour <= stop_hour or start_hour == 12 else "am"
