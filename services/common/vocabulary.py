"""Therapy vocabulary: spoken -> written normalisation, the recogniser's prompt, and measure spans.

All word lists live in therapy_vocabulary.toml; this module holds the logic. Number words, cardinals
and clock times (with the one AM/PM rule) are read by services/common/spoken.py, which the drafter and
coder use too. Each rule is one precompiled regex applied in a fixed order, and every rule's output is
something no rule matches again, which keeps `to_written` idempotent.

Over the ~400-line guideline on purpose: the rules' order is part of their meaning (a clock time must
be read before a bare number, a score before a unit), and keeping the ordered list in one file is
what makes that order reviewable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from proto import scribe_pb2 as pb
from services.common import spoken
from services.common.spoken import DATA_FILE, vocabulary_data  # noqa: F401  (DATA_FILE: where the data lives)

_I = re.IGNORECASE


def _alt(words: Iterable[str]) -> str:
    """Regex alternation of plain phrases, longest first so "times a week" beats "times"."""
    parts = sorted({w for w in words}, key=len, reverse=True)
    return "|".join(r"\s+".join(re.escape(p) for p in w.split()) for w in parts)


def _norm(s: str) -> str:
    return " ".join(s.lower().split())


@dataclass(frozen=True)
class _Numbers:
    values: dict[str, int]  # every number word, "oh" included
    ones: str
    teens: str
    tens: str
    card: str  # one spoken cardinal (with optional decimal), no surrounding anchors
    num: str  # a spoken cardinal or a digit number


@cache
def _numbers() -> _Numbers:
    """The number words and patterns of services/common/spoken.py, as the rules below name them."""
    ones = _alt(k for k in spoken.ONES if k not in ("zero", "oh"))
    num = rf"(?:(?<![\d.])\d+(?:\.\d+)?(?![\d:])|\b{spoken.CARDINAL}\b)"
    return _Numbers(spoken.VALUES, ones, _alt(spoken.TEENS), _alt(spoken.TENS), spoken.CARDINAL, num)


def _value(said: str) -> str:
    """Digits for a spoken cardinal ("one hundred five" -> "105", "thirteen point four" -> "13.4")."""
    written = spoken.written_number(said)
    return said if written is None else written


def _keep_case(m: re.Match[str], written: str, group: int = 0) -> str:
    """Capitalise a replacement only where the sentence starts (mid-sentence capitals are noise)."""
    before = m.string[: m.start(group)]
    starts = not before.strip() or before.rstrip()[-1] in ".!?"
    if starts and m[group][:1].isupper():
        return written[:1].upper() + written[1:]
    return written


# A rule: its pattern, the replacement, and the lowercase strings one of which the text must contain for
# the pattern to match at all (a cheap `in` test that skips a regex scan; empty: always scan).
Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str], tuple[str, ...]]


@cache
def _rules() -> list[Rule]:
    d = vocabulary_data()
    nums = _numbers()
    num, ones, teens, tens = nums.num, nums.ones, nums.teens, nums.tens
    numword = _alt(nums.values)
    units = _alt(d["units"]["words"])
    percent = _alt(d["units"]["percent"])
    idioms = {_norm(w) for w in d["units"]["idiom_after_one"]}
    clock = d["clock"]
    measure_near = re.compile(rf"\b(?:{_alt(clock['measure_words'])})\b", _I)
    strength_near = re.compile(_alt(d["mmt"]["strength_context"]), _I)
    prev_is_number = re.compile(rf"(?:\b(?:{numword})|\d)[\s-]*$", _I)
    next_is_number = re.compile(rf"^[\s-]*(?:(?:{numword})\b|\d)", _I)
    after_unit = re.compile(rf"^\s*(?:{units}|{percent}|%)\b", _I)
    rules: list[Rule] = []

    def add(pattern: str, fn: Callable[[re.Match[str]], str], flags: int = _I, needles: tuple[str, ...] = ()) -> None:
        rules.append((re.compile(pattern, flags), fn, needles))

    def sentence_before(m: re.Match[str], width: int = 60) -> str:
        """The text before the match, back to the sentence start (context for a rule)."""
        before = m.string[max(0, m.start() - width) : m.start()]
        return re.split(r"[.!?;]\s", before)[-1]

    # 0. Whisper's spacing: "self -care", "ninety -five", "re -education" (a space before a hyphen inside a
    # word; letters on both sides, so "5 -10" and a dash between words stay) and "o 'clock", "patient 's"
    # (a space before the apostrophe of a contraction or "o'clock").
    add(r"(?<=[A-Za-z]) +-(?=[A-Za-z])", lambda m: "-", needles=(" -",))
    add(r"(?<=\w) +'(?=(?:clock|s|t|re|ll|ve|d|m)\b)", lambda m: "'", needles=(" '",))

    # 1. Recogniser homophones (phrase mishearings are services/common/corrector.py's), safe only next to
    # certain words ("gate training" -> "gait training", but "the gate" stays): `after` / `before` name the
    # words that must come just before / after the phrase, `not_after` / `not_before` words that must not.
    # `at_start = true` also accepts the phrase as a sentence's first word (with `after`: either). Applied
    # in the data file's order.
    def in_context(entry: dict[str, Any]) -> Rule:
        opening = [r"(?:^|(?<=[.!?]))[\s\"']*"] if entry.get("at_start") else []  # a sentence's first word
        after = [rf"\b(?:{_alt(entry['after'])})[\s,]+"] if entry.get("after") else []
        pre = f"((?:{'|'.join(opening + after)}))" if opening or after else "()"
        post = rf"(?=[\s-]+(?:{_alt(entry['before'])})\b)" if entry.get("before") else ""
        not_after = re.compile(rf"\b(?:{_alt(entry['not_after'])})\s+$", _I) if entry.get("not_after") else None
        not_before = (
            re.compile(rf"[\s-]+(?:{_alt(entry['not_before'])})(?![\w-])", _I) if entry.get("not_before") else None
        )

        def fn(m: re.Match[str]) -> str:
            if not_after and not_after.search(m.string[max(0, m.start(2) - 20) : m.start(2)]):
                return m[0]
            if not_before and not_before.match(m.string, m.end()):
                return m[0]
            return m[1] + _keep_case(m, entry["written"], 2)

        pattern = re.compile(rf"{pre}(?<![\w-])({_alt(entry['heard'])})(?![\w-]){post}", _I)
        return pattern, fn, tuple(h.lower().split()[0] for h in entry["heard"])

    rules.extend(in_context(entry) for entry in d["context_confusions"])
    add(
        rf"\b(?:{_alt(d['laterality']['misheard_right'])})(?=\s+(?:{_alt(d['laterality']['body_parts'])})\b)",
        lambda m: _keep_case(m, "right"),
    )
    # Spinal levels "L four" -> "L4"; the letter must be a capital standing alone.
    levels: dict[str, int] = d["spine"]["levels"]

    def spine(m: re.Match[str]) -> str:
        level = _value(m[2])
        return f"{m[1]}{level}" if 1 <= int(level) <= levels[m[1]] else m[0]

    # A word needs its space ("L four"; "CTWO" is no level), digits may follow at once ("L4").
    add(rf"\b([{''.join(levels)}])(?:[\s-](?=[A-Za-z])|[\s-]?(?=\d))((?i:{ones}|ten|eleven|twelve)|\d{{1,2}})\b",
        spine, 0)

    # 2. Procedure codes said digit by digit or in pairs: "code nine seven one one oh" -> "code 97110".
    code_word = rf"(?:{ones}|zero|oh|{teens}|{tens})"

    def code(m: re.Match[str]) -> str:
        words = m[3].lower().replace("-", " ").split()
        out, i = "", 0
        while i < len(words):
            w = words[i]
            nxt = words[i + 1] if i + 1 < len(words) else ""
            if w in spoken.TENS and nxt in spoken.ONES and nxt not in ("zero", "oh"):
                out, i = out + _value(f"{w} {nxt}"), i + 2
            else:
                out, i = out + str(nums.values[w]), i + 1
        return f"{m[1]}{m[2]}{out}" if len(out) == d["codes"]["digits"] else m[0]

    add(rf"\b({_alt(d['codes']['keywords'])})(\s+(?:is\s+)?)({code_word}(?:[\s-]+{code_word})+)\b", code)

    # 3. Clock times, only where time is being talked about, read by the one AM/PM rule of spoken.py.
    hour_w, oclock = spoken.HOUR_W, spoken.OCLOCK
    # A pause the recogniser wrote as a comma may split "ten, oh five" (only before "oh": "ten, twenty" is a list).
    time_w = (rf"(?:(?:{hour_w})(?:\s+|,\s+(?=oh\b))(?:{spoken.MINUTE_W}|{oclock})\b"
              rf"|(?<![\w:./+-])\d{{1,2}}\s+{oclock}\b)")
    time_d = r"(?<![\d.:/])\d{1,2}[:.]?\d{2}(?![\d%/]|\.\d)"
    any_time = rf"(?:\b{time_w}|{time_d})"
    marker_after = re.compile(spoken.AMPM, _I)

    def marker(m: re.Match[str], group: int = 0) -> str:
        """ "am" / "pm" when an a.m. / p.m. follows the group, else ""."""
        found = marker_after.match(m.string, m.end(group))
        return "" if found is None else found[0].strip()[0].lower() + "m"

    def to_clock(said: str, said_marker: str = "") -> str | None:
        parts = spoken.clock_parts(said.replace(",", " "))
        time = None if parts is None else spoken.to_24_hour(parts[0], parts[1], said_marker)
        if parts is None or time is None:
            return None
        # Before an a.m. / p.m. (left in the text) the hour is written as said: "2:30 p.m.", not "14:30 p.m.";
        # unmarked, in 24 hours by the afternoon rule ("two ten" -> "14:10").
        return f"{parts[0] if said_marker else time[0]}:{time[1]:02d}"

    def is_measure(m: re.Match[str]) -> bool:
        return bool(after_unit.match(m.string[m.end() :]) or measure_near.search(sentence_before(m, 40)))

    def time_range(m: re.Match[str]) -> str:
        stop_marker = marker(m, 4)
        parts_a, parts_b = spoken.clock_parts(m[2].replace(",", " ")), spoken.clock_parts(m[4].replace(",", " "))
        # An unmarked start takes the stop's a.m. / p.m. ("two thirty to three fifteen p.m."), as the coder reads it.
        start_marker = spoken.range_marker(parts_a[0], parts_b[0], stop_marker) if parts_a and parts_b else ""
        a, b = to_clock(m[2], start_marker), to_clock(m[4], stop_marker)
        # A bare digit run ("1025") is a time only beside another run: beside speech ("100 to one twenty") or
        # a written time ("1025 until 13:10", our own output of "until one ten") it is a number.
        kinds = {"run" if t.isdigit() else "spoken" if t[0].isalpha() else "written" for t in (m[2], m[4])}
        if a is None or b is None or ("run" in kinds and len(kinds) > 1) or is_measure(m):
            return m[0]
        return f"{m[1] or ''}{a}{m[3]}{b}"

    range_join = rf"(\s+(?:{_alt(clock['range_words'])}|-)\s+)"
    add(rf"(\b(?:from|between)\s+)?({any_time}){range_join}({any_time})", time_range)
    # A tight dash joins two times only when both carry a separator ("10.05-10.23"): "555-1234" is no time.
    time_sep = r"(?<![\d.:/])\d{1,2}[:.]\d{2}(?![\d%/]|\.\d)"
    add(rf"(\b(?:from|between)\s+)?({time_sep})(-)({time_sep})", time_range)

    range_rest = re.compile(rf"{range_join}({any_time})", _I)

    def own_marker(m: re.Match[str], group: int) -> str:
        """The a.m. / p.m. of a time: its own, or the one its range's stop carries ("from 2:30 to 3:15 p.m.",
        which the range rule above wrote and this rule must read alike)."""
        if found := marker(m, group):
            return found
        rest = range_rest.match(m.string, m.end(group))
        if rest is None:
            return ""
        parts_a, parts_b = spoken.clock_parts(m[group]), spoken.clock_parts(rest[2])
        if parts_a is None or parts_b is None:
            return ""
        return spoken.range_marker(parts_a[0], parts_b[0], marker(rest, 2))

    def single_time(m: re.Match[str]) -> str:
        t = to_clock(m[2], own_marker(m, 2))
        return m[0] if t is None or is_measure(m) else f"{m[1]}{t}"

    # Alone, a digit run like "100" is a time only when Whisper wrote a separator ("10.25").
    add(rf"\b((?:{_alt(clock['single_context'])})\s+)({time_w}|{time_sep})", single_time)
    add(rf"(\b(?:{hour_w})|(?<![\w:./+-])\d{{1,2}})\s+{oclock}\b", lambda m: to_clock(m[0], own_marker(m, 0)) or m[0])

    # 4. Scores spoken as "N [plus|minus] out of M" -> "N+/M", "3 out of 10" -> "3/10".
    sign = r"(?:\s*(plus|minus|\+|-))?"

    def out_of(m: re.Match[str]) -> str:
        # Written as heard even when impossible ("eighty out of twenty" for "eighteen" -> "80/20"): never
        # corrected to a plausible value, and in digits it is a measure the drafter and reviewer can question.
        a, b = _value(m[1]), _value(m[3])
        mark = {"plus": "+", "minus": "-"}.get((m[2] or "").lower(), m[2] or "")
        return f"{a}{mark}/{b}"

    # Not after a score already written ("4/5 out of five" stays): rewriting "5 out of five" would chain it.
    add(rf"(?<![/\d.])({num}){sign}\s+out\s+of\s+({num})", out_of)

    # 5. A bare muscle grade "four plus" only where strength is being graded.
    grade = rf"(?<![\d./+-])(\b(?:{ones}|zero)\b|[0-5])\s*(plus|minus|\+|-)(?!\s*(?:out\s+of|/|\d))(?![\w-])"

    def bare_grade(m: re.Match[str]) -> str:
        before = sentence_before(m)
        if not strength_near.search(before) or prev_is_number.search(before):
            return m[0]
        value = _value(m[1])
        if int(value) > d["mmt"]["max_grade"]:
            return m[0]
        return f"{value}{'+' if m[2].lower() in ('plus', '+') else '-'}/{d['mmt']['max_grade']}"

    add(grade, bare_grade)

    # 6. Sets by repetitions "three sets of fifteen" -> "3x15".
    add(rf"({num})\s+sets?\s+of\s+({num})(?!\d|\.\d)", lambda m: f"{_value(m[1])}x{_value(m[2])}")

    # 7. Negative measures "minus fifteen" -> "-15" (after a number, "minus" is a grade or arithmetic).
    def minus(m: re.Match[str]) -> str:
        before = m.string[max(0, m.start() - 20) : m.start()]
        return m[0] if prev_is_number.search(before) else f"-{_value(m[1])}"

    add(rf"\bminus\s+({num})", minus)

    # 8. Percent and numbers before a unit: "ninety two percent" -> "92%", "forty pounds" -> "40 pounds".
    add(rf"({num})\s*(?:{percent})\b", lambda m: f"{_value(m[1])}%")

    def with_unit(m: re.Match[str]) -> str:
        unit = _norm(m[3])
        if m[1].lower() == "one" and unit in idioms:
            return m[0]
        if unit == "second" and re.match(r"\s+of\b", m.string[m.end() :]):  # "the twenty second of May"
            return m[0]
        return f"{_value(m[1])}{m[2]}{m[3]}"

    # A range before a unit is written alike on both ends: "ten to fifteen reps" -> "10 to 15 reps".
    tens_then_one = re.compile(rf"(?:{tens})-(?:{ones})", _I)

    def unit_range(m: re.Match[str]) -> str:
        if tens_then_one.fullmatch(f"{m[1]}{m[2]}{m[3]}"):  # "ninety-five degrees" is 95, not a range 90-5
            return _value(f"{m[1]} {m[3]}")
        return f"{_value(m[1])}{m[2]}{_value(m[3])}"

    add(rf"({num})(\s+(?:to|or)\s+|-)({num})(?=(?:\s+|-)(?:{units})\b)", unit_range)
    add(rf"({num})(\s+|-)({units})\b", with_unit)
    # A repeat after a measure: "200 feet times two" -> "200 feet x2".
    add(
        rf"\b({units})\s+{d['units']['repeat_word']}\s+({num})\b(?!\s+(?:a|per)\b)",
        lambda m: f"{m[1]} x{_value(m[2])}",
    )

    # 9. Compound numbers standing alone ("forty five", "one hundred forty") are clearer as digits;
    # single words ("two kids", "one of them") stay, and so do runs of several numbers.
    def compound(m: re.Match[str]) -> str:
        if len(m[0].split()) < 2 and "-" not in m[0]:
            return m[0]
        if prev_is_number.search(m.string[max(0, m.start() - 20) : m.start()]):
            return m[0]
        if next_is_number.match(m.string[m.end() : m.end() + 20]):
            return m[0]
        return _value(m[0])

    add(rf"\b{nums.card}\b", compound)
    return rules


def to_written(text: str) -> str:
    """Return `text` with spoken therapy forms in the written forms notes use."""
    for pattern, fn, needles in _rules():
        if needles and not any(n in text.lower() for n in needles):
            continue
        text = pattern.sub(fn, text)
    return text


@cache
def measure_pattern() -> re.Pattern[str]:
    """Written measures: 4+/5, 3/10, 3x15, 200 feet x2, 10:05, 92%, 110 degrees, 110°, -15 degrees, -10."""
    units = _alt(vocabulary_data()["units"]["words"])
    number = r"-?\d+(?:\.\d+)?"
    return re.compile(
        rf"(?<![\w.:/+-])(?:"
        rf"\d+(?:\.\d+)?[+-]?/\d+"  # grades and scores
        rf"|\d+\s?x\s?\d+"  # sets x reps
        rf"|\d{{1,2}}:\d{{2}}"  # clock times
        rf"|{number}\s?%"
        rf"|{number}\s?°"
        rf"|{number}(?:\s+|-)(?:{units})\b(?:\s+x\d+)?"
        rf"|-\d+(?:\.\d+)?"  # a bare negative measure ("from -15 degrees to -10")
        rf"|x\d+"
        rf")(?![\w/])",
        _I,
    )


def find_measures(text: str) -> list[tuple[int, int]]:
    """Character spans (start, end) of the written measures in `text`, left to right."""
    return [m.span() for m in measure_pattern().finditer(text)]


_WORD = re.compile(r"[A-Za-z][A-Za-z'/-]*[A-Za-z]|[A-Za-z]")


def _context_phrase(text: str, seen: set[str]) -> str:
    """The content words of one context field: no numbers, no stopwords, no likely names."""
    p = vocabulary_data()["prompt"]
    proper = {w.lower() for w in p["proper_terms"]}
    stop = {w.lower() for w in p["stopwords"]} | set(_numbers().values)
    kept: list[str] = []
    for i, m in enumerate(_WORD.finditer(text)):
        word = m[0]
        low = word.lower()
        if low in stop or low in seen or not 2 <= len(word) <= p["max_word_chars"]:
            continue
        is_acronym = word.isupper() and len(word) <= 6
        if word[0].isupper() and not is_acronym and low not in proper:
            # A capital word may be a person's name; the field's first word is capital by position only.
            if i > 0:
                continue
            word = low
        seen.add(low)
        kept.append(word)
    return " ".join(kept)


def prompt_terms(context: pb.SessionContext, max_words: int | None = None,
                 max_chars: int | None = None) -> list[str]:
    """Discipline terms and this session's own words, within a word budget and a character budget (each
    term costs its length plus the ", " that joins it): the prompt's term list.

    Budget order: the diagnosis and the session's vocabulary (what this visit is about), then the
    discipline's first `core_terms` terms (the ones tiny.en mangles without help), then the goals
    (long, mostly plain words Whisper already knows), then more discipline terms. A discipline term
    whose words the session already gave is skipped. Output order: discipline terms first, the
    session's words last (nearest the audio).
    """
    p = vocabulary_data()["prompt"]
    discipline = context.discipline if context.discipline in p["opening"] else "PT"
    budget = p["max_words"] if max_words is None else max_words
    chars = p["max_chars"] if max_chars is None else max_chars
    seen: set[str] = set()
    kept: dict[str, str] = {}  # source -> phrase
    general: list[str] = []

    def take_phrase(key: str, text: str) -> None:
        nonlocal budget, chars
        phrase = _context_phrase(text, seen)
        if phrase and len(phrase.split()) <= budget and len(phrase) + 2 <= chars:
            budget -= len(phrase.split())
            chars -= len(phrase) + 2
            kept[key] = phrase

    def take_terms(limit: int) -> None:
        nonlocal budget, chars
        for term in (*p[discipline], *p["common"]):
            if len(general) >= limit:
                return
            words = term.lower().split()
            if term in general or all(w in seen for w in words) or len(words) > budget or len(term) + 2 > chars:
                continue
            budget -= len(words)
            chars -= len(term) + 2
            seen.update(words)
            general.append(term)

    take_phrase("diagnosis", context.diagnosis)
    for i, word in enumerate(context.vocabulary):
        take_phrase(f"vocabulary{i}", word)
    take_terms(p["core_terms"])
    for i, goal in enumerate(context.goals):
        take_phrase(f"goal{i}", goal)
    take_terms(len(p[discipline]) + len(p["common"]))
    order = ["diagnosis", *(f"goal{i}" for i in range(len(context.goals)))]
    order += [f"vocabulary{i}" for i in range(len(context.vocabulary))]
    return [*general, *(kept[k] for k in order if k in kept)]


def asr_prompt(context: pb.SessionContext, max_words: int | None = None) -> str:
    """A prompt, in spoken forms, that biases Whisper towards this session's vocabulary.

    Short on purpose: every prompt token is paid on every utterance (bench/PROMPT.md measures the
    cost), so it holds this session's own words, a few discipline terms, and one sentence of the
    spoken-number style. Numbers from the context are left out (a prompt with "4/5" made tiny.en
    write "4.5"), and so are capitalised words that are not known therapy terms, since they may be
    names. Whisper reads the prompt as the preceding text, so the session's own words and the
    style come last, nearest the audio. The prompt fits the data file's `max_words` and `max_chars`
    whatever the context holds; `max_words` overrides the word budget (the bench uses it to compare
    lengths).
    """
    p = vocabulary_data()["prompt"]
    discipline = context.discipline if context.discipline in p["opening"] else "PT"
    opening, style = p["opening"][discipline], p["style"][discipline]
    budget = (p["max_words"] if max_words is None else max_words) - len(opening.split()) - len(style.split())
    chars = p["max_chars"] - len(opening) - len(style) - 3  # the spaces and the full stop around the terms
    terms = ", ".join(prompt_terms(context, max(budget, 0), max(chars, 0)))
    return " ".join(filter(None, (opening, f"{terms}." if terms else "", style)))
