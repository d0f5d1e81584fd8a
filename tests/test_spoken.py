"""Spoken numbers and clock times (services/common/spoken.py), the one reading the normaliser, drafter and
coder share, and a guard that no other module grows its own table of number words again."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.coder.text import find_durations, find_ranges
from services.common import spoken
from services.common.spoken import clock_parts, clock_time, number_value, range_marker, to_24_hour, written_number
from services.common.vocabulary import to_written

SERVICES = Path(__file__).resolve().parent.parent / "services"

# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize("said, value", [
    ("23", 23),
    ("4.5", 4.5),
    ("zero", 0),
    ("seven", 7),
    ("seventeen", 17),
    ("twenty three", 23),
    ("twenty-three", 23),
    ("Twenty Three", 23),
    ("forty -five", 45),  # the recogniser's spacing
    ("one hundred", 100),
    ("a hundred", 100),
    ("one hundred five", 105),
    ("one hundred and five", 105),
    ("two hundred thirty-five", 235),
    ("three thousand", 3000),
    ("two thousand and twenty four", 2024),
    ("thirteen point four", 13.4),
    ("zero point five", 0.5),
    ("ninety eight point six", 98.6),
    ("twelve and a half", 12.5),
])
def test_number_value(said: str, value: float) -> None:
    assert number_value(said) == value
    assert type(number_value(said)) is type(value)


@pytest.mark.parametrize("said", [
    "", "   ", "apple", "twenty apples", "a", "an", "a couple", "point four", "thirteen point",
    "thirteen point twenty", "and a half", "12.5 and a half", "2 hundred", "one two three four five six seven.",
])
def test_not_a_number_is_none(said: str) -> None:
    assert number_value(said) is None
    assert written_number(said) is None


@pytest.mark.parametrize("said, written", [
    ("thirteen point oh four", "13.04"),  # the decimal digits as said
    ("one hundred five", "105"),
    ("05", "05"),  # digits come back as written
    ("twelve and a half", "12.5"),
])
def test_written_number(said: str, written: str) -> None:
    assert written_number(said) == written


@pytest.mark.parametrize("sentence, found", [
    ("The patient walked one hundred five feet with the walker.", "one hundred five"),
    ("Her temperature was ninety eight point six this morning.", "ninety eight point six"),
    ("We did twenty-three reps on the left.", "twenty-three"),
    ("About a hundred steps today.", "a hundred"),
])
def test_cardinal_fragment_finds_the_whole_number(sentence: str, found: str) -> None:
    m = re.search(rf"\b{spoken.CARDINAL}\b", sentence, re.IGNORECASE)
    assert m is not None and m.group(0) == found
    assert number_value(m.group(0)) is not None


def test_words_upto() -> None:
    pattern = re.compile(rf"^{spoken.words_upto(10)}$")
    assert all(pattern.match(w) for w in ("zero", "one", "seven", "ten"))
    assert not any(pattern.match(w) for w in ("oh", "eleven", "twenty", "tens"))
    assert re.fullmatch(spoken.words_upto(9, oh=True), "oh")
    assert not re.fullmatch(spoken.words_upto(20, zero=False), "zero")


# ---------------------------------------------------------------- clock times


@pytest.mark.parametrize("said, time", [
    ("10:05", (10, 5)),
    ("10.05", (10, 5)),
    ("1005", (10, 5)),
    ("ten oh five", (10, 5)),
    ("nine forty-five", (9, 45)),
    ("nine forty -five", (9, 45)),
    ("9 o'clock", (9, 0)),
    ("nine o 'clock", (9, 0)),
    ("nine o’clock", (9, 0)),
    ("eleven fifteen", (11, 15)),
    ("13:10", (13, 10)),  # already 24-hour
    ("twelve thirty", (12, 30)),  # twelve is noon
    ("twelve", (12, 0)),
    ("noon", (12, 0)),
    ("six fifteen", (6, 15)),  # 6 and later are morning hours
])
def test_clock_time_without_am_pm(said: str, time: tuple[int, int]) -> None:
    assert clock_time(said) == time


@pytest.mark.parametrize("said, time", [
    ("one ten", (13, 10)),
    ("two thirty", (14, 30)),
    ("3:45", (15, 45)),
    ("four o'clock", (16, 0)),
    ("five fifty-five", (17, 55)),
])
def test_unmarked_one_to_five_is_afternoon(said: str, time: tuple[int, int]) -> None:
    assert clock_time(said) == time
    assert set(spoken.vocabulary_data()["clock"]["afternoon_hours"]) == spoken.AFTERNOON_HOURS == {1, 2, 3, 4, 5}


@pytest.mark.parametrize("said, time", [
    ("two thirty a.m.", (2, 30)),  # an explicit marker beats the afternoon rule
    ("2:30 am", (2, 30)),
    ("two thirty p.m.", (14, 30)),
    ("2 pm", (14, 0)),
    ("7 P.M.", (19, 0)),
    ("seven thirty pm", (19, 30)),
    ("ten oh five a m", (10, 5)),
    ("twelve a.m.", (0, 0)),
    ("12:15 pm", (12, 15)),
    ("14:10 p.m.", (14, 10)),
])
def test_explicit_am_pm_wins(said: str, time: tuple[int, int]) -> None:
    assert clock_time(said) == time


@pytest.mark.parametrize("said", [
    "", "banana", "25:00", "10:75", "one ninety", "twenty three", "ten apples", "nine o'clock sharp",
])
def test_not_a_clock_time_is_none(said: str) -> None:
    assert clock_time(said) is None


def test_clock_parts_keep_the_hour_as_said() -> None:
    assert clock_parts("two thirty p.m.") == (2, 30, "pm")
    assert clock_parts("nine o'clock") == (9, 0, "")
    assert to_24_hour(2, 30) == (14, 30)
    assert to_24_hour(2, 30, "am") == (2, 30)
    assert to_24_hour(10, 60) is None


def test_a_range_start_takes_the_stop_marker() -> None:
    assert range_marker(10, 11, "am") == "am"  # "ten to eleven a.m."
    assert range_marker(2, 3, "pm") == "pm"
    assert range_marker(11, 1, "pm") == "am"  # "eleven to one p.m." starts in the morning
    assert range_marker(2, 3, "") == ""


# ---------------------------------------------------------------- the same rule in every caller


@pytest.mark.parametrize("said, written", [
    ("We started at two thirty.", "We started at 14:30."),
    ("We started at two thirty p.m.", "We started at 2:30 p.m."),
    ("We started at two thirty a.m.", "We started at 2:30 a.m."),
    ("Ended at 2:30 pm", "Ended at 2:30 pm"),
    ("From ten oh five to ten twenty.", "From 10:05 to 10:20."),
    ("From two thirty to three fifteen p.m.", "From 2:30 to 3:15 p.m."),
    ("Pain is six out of ten.", "Pain is 6/10."),
    ("Walked one hundred five feet.", "Walked 105 feet."),
])
def test_normaliser_uses_the_rule(said: str, written: str) -> None:
    assert to_written(said) == written
    assert to_written(written) == written


@pytest.mark.parametrize("sentence, span", [
    ("therapeutic exercise from two thirty to three fifteen", (14 * 60 + 30, 15 * 60 + 15)),
    ("therapeutic exercise from 2:30 to 3:15 am", (2 * 60 + 30, 3 * 60 + 15)),
    ("therapeutic exercise from 14:30 to 15:15", (14 * 60 + 30, 15 * 60 + 15)),
    ("gait training from eleven fifty to twelve ten", (11 * 60 + 50, 12 * 60 + 10)),
    ("gait training from six forty to seven oh five", (6 * 60 + 40, 7 * 60 + 5)),
])
def test_coder_reads_the_normalisers_times_alike(sentence: str, span: tuple[int, int]) -> None:
    for text in (sentence, to_written(sentence)):
        assert [(r.start, r.stop) for r in find_ranges(text)] == [span], text


def test_coder_durations() -> None:
    assert [d for d, _ in find_durations("twelve minutes of gait training")] == [12]
    assert [d for d, _ in find_durations("twelve and a half minutes of balance")] == [12]  # round half to even
    assert [d for d, _ in find_durations("about twenty -five minutes of exercise")] == [25]


# ---------------------------------------------------------------- one table only

_WORDS = sorted(spoken.VALUES, key=len, reverse=True)
_WORD = "|".join(_WORDS)
# A dict literal entry mapping a number word to its value: "twenty": 20, 'one': "1".
_DICT_ENTRY = re.compile(rf"""["'](?:{_WORD})["']\s*:\s*["']?\d+["']?""", re.IGNORECASE)
# A run of number words in a list, an alternation or a string ("one|two|three|four|five", "zero", "one", ...).
_RUN = re.compile(rf"""(?:\b(?:{_WORD})\b[\s"',|()?:]*){{5,}}""", re.IGNORECASE)
_ALLOWED = {"common/spoken.py", "common/vocabulary.py"}


def number_tables(source: str) -> list[str]:
    """Number-word tables written out in `source`: dict entries, or runs of five or more different words."""
    found = [m.group(0) for m in _DICT_ENTRY.finditer(source)]
    for m in _RUN.finditer(source):
        if len({w.lower() for w in re.findall(rf"\b(?:{_WORD})\b", m.group(0), re.IGNORECASE)}) >= 5:
            found.append(m.group(0).strip())
    return found


def test_the_detector_finds_a_table() -> None:
    assert number_tables('_TENS = {"twenty": 20, "thirty": 30}')
    assert number_tables('_W = r"(?:one|two|three|four|five|six)"')
    assert number_tables('_ONES = ["zero", "one", "two", "three", "four", "five"]')
    assert number_tables('S = "seventeen eighteen nineteen twenty thirty".split()')
    assert not number_tables('"""From nine forty to ten oh two; code nine seven one one oh."""')


def test_no_other_module_has_its_own_number_words() -> None:
    offenders = {}
    for path in sorted(SERVICES.rglob("*.py")):
        rel = path.relative_to(SERVICES).as_posix()
        if rel in _ALLOWED:
            continue
        tables = number_tables(path.read_text(encoding="utf-8"))
        if tables:
            offenders[rel] = tables
    assert offenders == {}, f"number words belong in services/common/spoken.py: {offenders}"
