"""Spoken -> written therapy forms, the ASR prompt and measure spans (services/common/vocabulary.py)."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from proto import scribe_pb2 as pb
from services.common import vocabulary
from services.common.vocabulary import asr_prompt, find_measures, to_written, vocabulary_data
from tests.cases import case_context, case_ids, load_case


def _cases(pairs: str) -> list[tuple[str, str]]:
    return [tuple(line.split(" => ")) for line in pairs.strip().splitlines()]  # type: ignore[misc]


MMT = _cases("""
four out of five => 4/5
Hip abduction strength is three plus out of five. => Hip abduction strength is 3+/5.
four plus out of five => 4+/5
three minus out of five => 3-/5
4 out of 5 => 4/5
4 plus out of 5 => 4+/5
Quad strength four plus, hamstrings four minus => Quad strength 4+/5, hamstrings 4-/5
MMT 4+ => MMT 4+/5
""")
PAIN = _cases("""
pain three out of ten in the knee => pain 3/10 in the knee
it's a seven out of ten. => it's a 7/10.
3 out of 10 => 3/10
eighteen out of twenty correct => 18/20 correct
fifty eight out of eighty => 58/80
""")
DEGREES = _cases("""
flexion one hundred ten degrees => flexion 110 degrees
extension minus fifteen degrees to minus ten degrees => extension -15 degrees to -10 degrees
improved from minus fifteen to minus ten => improved from -15 to -10
dorsiflexion twelve degrees => dorsiflexion 12 degrees
one hundred and five degrees => 105 degrees
""")
SETS = _cases("""
three sets of fifteen => 3x15
two sets of ten. => 2x10.
3 sets of 15 reps => 3x15 reps
two sets of ten each side => 2x10 each side
two hundred feet times two => 200 feet x2
""")
LOADS = _cases("""
forty pounds => 40 pounds
a two pound weight => a 2 pound weight
grip forty two lbs => grip 42 lbs
""")
CLOCK = _cases("""
from ten oh five to ten twenty three => from 10:05 to 10:23
from nine, oh eight until nine thirty => from 9:08 until 9:30
we counted ten, twenty, thirty => we counted ten, twenty, thirty
from ten twenty five to ten forty. => from 10:25 to 10:40.
nine o'clock => 9:00
from eleven o'clock to eleven forty five => from 11:00 to 11:45
at eleven forty five => at 11:45
1025 to 1040 => 10:25 to 10:40
from 905 to 923 => from 9:05 to 9:23
from one ten to one thirty => from 13:10 to 13:30
until 10.55 => until 10:55
from nine o 'clock to nine twenty, => from 9:00 to 9:20,
Session ran from eleven o 'clock to eleven forty five => Session ran from 11:00 to 11:45
evaluation from nine o clock to nine forty five. => evaluation from 9:00 to 9:45.
at 9 o 'clock => at 9:00
Therapeutic exercise 10.05 to 10.23. => Therapeutic exercise 10:05 to 10:23.
from 9.15 to 9.20 => from 9:15 to 9:20
session 10.05-10.23 => session 10:05-10:23
""")
# Whisper's spacing: a space before a hyphen inside a word, or before the apostrophe of a contraction.
SPACING = _cases("""
self -care training => self-care training
long -handled shoe horn => long-handled shoe horn
neuromuscular re -education => neuromuscular re-education
post -op week four => post-op week four
flexion is ninety -five degrees up from eighty -five last week => flexion is 95 degrees up from 85 last week
ninety-five degrees => 95 degrees
twenty-five to thirty reps => 25 to 30 reps
the patient 's knee => the patient's knee
it doesn 't hurt => it doesn't hurt
""")
# Measures heard as impossible stay as heard, in digits, for review: never corrected to a plausible value.
IMPOSSIBLE = _cases("""
Sentence completion, eighty out of twenty correct => Sentence completion, 80/20 correct
six out of five => 6/5
""")
MEASURES = _cases("""
one hundred fifty feet => 150 feet
Your QuickDASH score is forty five. => Your QuickDASH score is 45.
ninety two percent => 92%
92 percent => 92%
thirty seconds each way => 30 seconds each way
Thirty second chair stand test, eight repetitions => 30 second chair stand test, 8 repetitions
Thirteen point four seconds => 13.4 seconds
two times a week => 2 times a week
ten to fifteen reps => 10 to 15 reps
one or two minutes => 1 or 2 minutes
the four inch step => the 4 inch step
code nine two five oh seven => code 92507
CPT code ninety seven one ten => CPT code 97110
mobilization at L four and L five => mobilization at L4 and L5
Build two units of therapeutic exercise for that block. => Build 2 units of therapeutic exercise for that block.
billed as three timed units => billed as 3 timed units
""")
VOCAB = _cases("""
gay training with the walker => gait training with the walker
gate training with the walker => gait training with the walker
Gate belt on, please. => Gait belt on, please.
mild gate deviations noted => mild gait deviations noted
neuromuscular read education from one thirty => neuromuscular re-education from 13:30
heal raises two sets of ten => heel raises 2x10
glides of the right glenohumeral joint, great three, and => glides of the right glenohumeral joint, grade three, and
""")
UNCHANGED = """
four patients
I have two kids
one of them
a couple of
Eight, nine, ten.
Now it's a three.
My grandson had his soccer tournament on Saturday, and they won the whole thing.
visit ten of twelve
Second set, ten more.
1025 steps
walked 1025 feet
from 100 to 120 reps
progress to 120 next week
started at 1025
knee flexion went from 100 to 120
one foot in front of the other
hold on one second
the twenty second of May
twenty twenty five
four plus years
ten thirty
five minus two
On a scale of zero to ten, where is the pain now?
contact guard assist
standby assist
min assist
moderate assist
modified independent
home exercise program
range of motion
Straight leg raise negative at 70 degrees
Gait training now.
90-5 degrees
call 555-1234
pain 5 -10
a - b
close the gate
the gate was open so the dog got out
I made a quick dash to the car
I read the rabbit book to my grandson
the rabbit in the yard
the hinge sits in a rabbet along the door frame
he was stern with the landlord in the negotiation
please stand by
he stood by to assist
contact guard
Oswestry score
the unit was busy
I got this charge from the hospital
walk on an even surface
a new step in her routine
a unit of work
on the new step stool
with the new step ladder
pain with the first step in the morning
my first step in the morning hurts
take a step in the morning and one at night
step to the side
I would like press coverage
a light press over the scar
use a light press to the scar
the men assist the nurses
threats and menaces
pull his arm into flexion
a red rose
it will heal well
there are x-rays
they're excellent
I read education books
re-education
we had a great three day weekend
inferior glides now, great to breathe
I will walk her to the car
"""


@pytest.mark.parametrize(
    ("spoken", "written"), MMT + PAIN + DEGREES + SETS + LOADS + CLOCK + SPACING + IMPOSSIBLE + MEASURES + VOCAB
)
def test_spoken_to_written(spoken: str, written: str) -> None:
    assert to_written(spoken) == written
    assert to_written(written) == written


@pytest.mark.parametrize("text", UNCHANGED.strip().splitlines())
def test_unchanged(text: str) -> None:
    assert to_written(text) == text


def test_data_file_has_version_and_lists() -> None:
    data = vocabulary_data()
    assert isinstance(data["version"], int)
    assert data["context_confusions"] and all(c["heard"] and c["written"] for c in data["context_confusions"])
    assert "confusions" not in data  # phrase mishearings are the lexicon corrector's (tests/test_corrector.py)
    assert {"PT", "OT", "SLP"} <= set(data["prompt"])


def _equivalent_forms(term: str) -> list[str]:
    """The README's equivalences: 110° = 110 degrees, 40 lb = 40 pounds, 3 x 15 = 3x15."""
    forms = {term, term.replace("°", " degrees"), re.sub(r"(\d) x (\d)", r"\1x\2", term)}
    forms |= {f.replace(" lb", " pounds") for f in list(forms)} | {f.replace(" pounds", " lb") for f in list(forms)}
    return [f.lower() for f in forms]


@pytest.mark.parametrize("case_id", case_ids())
def test_case_key_terms_written(case_id: str) -> None:
    case = load_case(case_id)
    written = [to_written(s["text"]) for s in case["segments"]]
    joined = " ".join(written).lower()
    for term in case["gold"]["key_terms"]:
        assert any(f in joined for f in _equivalent_forms(term)), term
    for text in written:
        assert to_written(text) == text


SPOKEN_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve fifteen twenty thirty forty ninety "
    "hundred thousand a and point oh zero minus plus out of sets set times from to until at between "
    "degrees feet pounds percent seconds second minutes reps o'clock strength code L the rib end by "
    "laterally knee write , . 4 5 10 15 1025 110 4/5 3x15 10:05 - +"
).split()
PLAIN_WORDS = (
    "the patient walked today with her walker and a cane knee hip pain better worse stairs from to at "
    "of out sets plus times minus strength code good morning see you Thursday , . ? theraband gait"
).split()
NUMBER_WORDS = set(vocabulary_data()["numbers"]["ones"]) | set(vocabulary_data()["numbers"]["teens"])
NUMBER_WORDS |= set(vocabulary_data()["numbers"]["tens"]) | {"hundred", "thousand"}


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(SPOKEN_WORDS), max_size=14))
@example("one out of one out of one".split())  # a written score must not start another ("1/1/1")
def test_idempotent(words: list[str]) -> None:
    once = to_written(" ".join(words))
    assert to_written(once) == once


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(PLAIN_WORDS), max_size=20))
def test_plain_words_unchanged(words: list[str]) -> None:
    text = " ".join(words)
    assert to_written(text) == text


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(codec="ascii", exclude_characters="0123456789"), max_size=60))
def test_text_without_numbers_unchanged(text: str) -> None:
    tokens = set(re.findall(r"[a-z]+", text.lower()))
    if tokens & NUMBER_WORDS or {"oh", "zero"} & tokens:
        return
    lowered = " ".join(text.lower().split())
    if "write" in lowered:
        return
    if any(h in lowered for c in vocabulary_data()["context_confusions"] for h in c["heard"]):
        return
    if re.search(r"[A-Za-z] +-[A-Za-z]|\w +'(?:clock|s|t|re|ll|ve|d|m)\b", text):  # Whisper's spacing, rejoined
        return
    assert to_written(text) == text


def test_find_measures() -> None:
    text = (
        "Pain 3/10, strength 4+/5 and 4-/5, leg press 3x15 at 40 pounds, 200 feet x2, from 10:05 to 10:23, "
        "SpO2 92%, flexion 110 degrees or 110°, extension -15 degrees to -10, 13.4 seconds, I have two kids"
    )
    found = [text[a:b] for a, b in find_measures(text)]
    assert found == [
        "3/10", "4+/5", "4-/5", "3x15", "40 pounds", "200 feet x2", "10:05", "10:23", "92%",
        "110 degrees", "110°", "-15 degrees", "-10", "13.4 seconds",
    ]  # fmt: skip
    assert find_measures("SpO2 stayed fine, no measures here") == []


def _context(**kw: object) -> pb.SessionContext:
    return pb.SessionContext(**kw)  # type: ignore[arg-type]


def test_prompt_spoken_forms_and_discipline_terms() -> None:
    ctx = _context(
        discipline="PT",
        diagnosis="s/p right total knee arthroplasty",
        goals=["Right knee extension to -5 degrees or better", "Ambulate 300 feet with Tommy's help"],
        vocabulary=["Hawkins Kennedy", "Mrs Smith"],
    )
    prompt = asr_prompt(ctx)
    assert prompt == asr_prompt(ctx)  # deterministic
    assert "plus out of five" in prompt  # the style sentence: scores in words
    assert not re.search(r"\d", prompt)  # no numbers at all: digits in a prompt make tiny.en write "4.5"
    for word in ("arthroplasty", "theraband", "gait", "abductors", "bilaterally", "Hawkins"):
        assert word in prompt
    for name in ("Tommy", "Smith", "Mrs"):
        assert name not in prompt
    assert "three hundred" not in prompt and "five" not in prompt.split("Strength")[0]


@pytest.mark.parametrize("case_id", case_ids())
def test_prompt_fits_whisper(case_id: str) -> None:
    ctx = case_context(load_case(case_id))
    prompt = asr_prompt(ctx)
    assert len(prompt.split()) <= 80  # ~1.9 tokens a word on tiny.en: well under the 224-token limit
    assert not re.search(r"\d", prompt)
    assert "four out of five" in prompt or "out of ten" in prompt


def test_prompt_slp_and_empty_context() -> None:
    assert "phonemic cues" in asr_prompt(_context(discipline="SLP"))
    assert "putty" in asr_prompt(_context(discipline="OT"))
    assert asr_prompt(_context())  # unknown discipline falls back to PT terms


def test_prompt_is_short_and_keeps_the_session_words() -> None:
    """The default prompt fits the data file's budget; the diagnosis and the session's vocabulary come before
    the goals, and the discipline's most-misheard terms before the long tail (bench/PROMPT.md)."""
    budget = vocabulary_data()["prompt"]["max_words"]
    ctx = _context(
        discipline="PT",
        diagnosis="left ankle inversion sprain",
        goals=["walk on uneven ground without the ankle giving way", "return to jogging pain free in six weeks"] * 3,
        vocabulary=["Romberg"],
    )
    prompt = asr_prompt(ctx)
    assert len(prompt.split()) <= budget
    for word in ("inversion", "sprain", "Romberg", "theraband", "gait"):
        assert word in prompt
    assert len(asr_prompt(ctx, max_words=75).split()) > len(prompt.split())  # the bench's long variant
    terms = vocabulary.prompt_terms(ctx)
    assert terms[0] == "theraband" and "Romberg" in terms[-1]


def test_cues_and_wrist_as_the_recogniser_hears_them() -> None:
    assert to_written("she needed verbal queues and two queues for risk position") == (
        "she needed verbal cues and two cues for wrist position")
    assert to_written("We waited in queues at the pharmacy.") == "We waited in queues at the pharmacy."
    assert to_written("It was a risk to drive.") == "It was a risk to drive."


CONTEXT_KEYS = {"heard", "written", "before", "after", "not_after", "not_before", "at_start"}


def test_context_confusion_entries_use_known_keys() -> None:
    for entry in vocabulary_data()["context_confusions"]:
        assert set(entry) <= CONTEXT_KEYS, entry
        assert entry["heard"] and entry["written"]


def test_context_rule_options(monkeypatch: pytest.MonkeyPatch) -> None:
    """`at_start`, `not_before`: the two context options, on a made-up confusion."""
    data = {**vocabulary_data(), "context_confusions": [
        {"heard": ["zork"], "written": "zorkine", "at_start": True, "after": ["take"], "not_before": ["stool"]},
    ]}
    monkeypatch.setattr(vocabulary, "vocabulary_data", lambda: data)
    vocabulary._rules.cache_clear()
    try:
        assert to_written("Zork daily.") == "Zorkine daily."
        assert to_written("Done. zork daily.") == "Done. zorkine daily."
        assert to_written("take zork daily") == "take zorkine daily"
        assert to_written("the zork daily") == "the zork daily"  # neither first nor after "take"
        assert to_written("Zork stool.") == "Zork stool."  # `not_before`
    finally:
        monkeypatch.undo()
        vocabulary._rules.cache_clear()


def test_a_digit_run_beside_a_written_time_stays_a_number() -> None:
    # Found by test_idempotent: "until one ten" is written "until 13:10" on the first pass; a second pass
    # must not then read the run before it as a time.
    once = to_written("1025 until one ten")
    assert once == "1025 until 13:10" and to_written(once) == once
    assert to_written("1025 to 1040") == "10:25 to 10:40"  # two runs are still a range of times


def test_a_spinal_level_spoken_needs_its_space() -> None:
    # Found by test_text_without_numbers_unchanged: "CTWO" is not C2.
    assert to_written("CTWO") == "CTWO"
    assert to_written("L four and L-five, C two") == "L4 and L5, C2"
