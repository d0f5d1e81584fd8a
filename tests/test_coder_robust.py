"""Wording and recogniser forms the coder must tolerate, and flags a therapist dismisses."""

from __future__ import annotations

import pytest

from proto import scribe_pb2 as pb
from services.coder.coding import apply_dismissals, code_draft
from services.coder.rules import load_default_rules
from services.coder.text import find_durations, find_ranges

RULES = load_default_rules()


def draft(lines: list[str], *, discipline: str = "PT", note_type: str = "daily", payer: str = "medicare",
          start: str = "9:00", diagnosis: str = "s/p right total knee arthroplasty",
          method: str = "") -> pb.DraftUpdate:
    ctx = pb.SessionContext(mode="dictation", discipline=discipline, note_type=note_type, payer=payer,
                            session_start=start, diagnosis=diagnosis, billing_method=method, date="2025-05-01")
    segs = [pb.TranscriptSegment(seq=i, start_s=i * 10.0, end_s=i * 10.0 + 9, speaker="therapist", text=t)
            for i, t in enumerate(lines)]
    return pb.DraftUpdate(session_id="t", version=len(segs), is_final=True, context=ctx, transcript=segs)


def codes(d: pb.DraftUpdate) -> dict[str, tuple[str, str, int]]:
    return {c.cpt: (c.start, c.stop, c.minutes) for c in code_draft(d, RULES).codes}


# ---------------------------------------------------------------- clock forms


@pytest.mark.parametrize("text, span", [
    ("Therapeutic exercise from nine o 'clock to nine twenty,", (540, 560)),  # the recogniser's "o 'clock"
    ("from nine o' clock to nine twenty", (540, 560)),
    ("from nine o’clock to nine twenty", (540, 560)),
    ("from nine oclock to nine twenty", (540, 560)),
    ("from 9 o 'clock to 9:20", (540, 560)),
    ("from nine to nine twenty", (540, 560)),  # a bare hour opposite a full time
    ("from 9 to 9:20", (540, 560)),
    ("from 9:40 to 10", (580, 600)),
    ("from nine forty -five to ten oh five", (585, 605)),
    ("between 9:05 and 9:20", (545, 560)),
    ("from two oh five to two twenty eight", (845, 868)),  # a 12-hour time after a 9:00 start is p.m.
])
def test_clock_ranges(text: str, span: tuple[int, int]) -> None:
    ranges = find_ranges(text, 540)
    assert [(r.start, r.stop) for r in ranges] == [span]


@pytest.mark.parametrize("text", [
    "from ten to twelve minutes", "knee flexion improved from ninety to one hundred five degrees",
    "from three to five sets", "pain went from four to two out of ten", "from 8 to 10 reps",
    "walked from nine to ten feet", "from two to one",
])
def test_not_clock_ranges(text: str) -> None:
    assert find_ranges(text, 540) == []


def test_hyphen_spaced_numbers() -> None:
    assert [d for d, _ in find_durations("about twenty -five minutes of exercise")] == [25]


def test_recognised_dictation_with_o_clock() -> None:
    d = draft(["Therapeutic exercise from nine o 'clock to nine twenty, prone press ups 2x10 toward the goal of "
               "sitting at work. Knee flexion 110 degrees, up from 100.",
               "Manual therapy from 9:15 to 9:30, joint mobilizations to the right knee."])
    result = code_draft(d, RULES)
    assert codes(d)["97110"] == ("9:00", "9:20", 20)
    assert "overlapping_times" in {f.kind for f in result.flags}
    assert "missing_times" not in {f.kind for f in result.flags}


# ---------------------------------------------------------------- service names


@pytest.mark.parametrize("line, cpt", [
    ("TherEx from 9:05 to 9:28. Leg press 3x15 at 40 pounds.", "97110"),
    ("Ther ex from 9:05 to 9:28. Leg press 3x15 at 40 pounds.", "97110"),
    ("Ther-Ex from 9:05 to 9:28. Leg press 3x15 at 40 pounds.", "97110"),
    ("Manual from 9:05 to 9:28. Patellar glides to the right knee.", "97140"),
    ("Manual, about 12 minutes. Patellar glides to the right knee.", "97140"),
    ("Neuro re-ed from 9:05 to 9:28, single leg stance on foam with tactile cues.", "97112"),
    ("Neuro reeducation from 9:05 to 9:28, single leg stance on foam with tactile cues.", "97112"),
    ("Balance from 9:05 to 9:28, single leg stance on foam with tactile cues.", "97112"),
    ("Ther act from 9:05 to 9:28, floor transfers with verbal cues for sequencing and balance.", "97530"),
    ("Gait from 9:05 to 9:28 with the rolling walker, 200 feet.", "97116"),
    ("Self care from 9:05 to 9:28, lower body dressing with a reacher.", "97535"),
])
def test_short_service_names(line: str, cpt: str) -> None:
    assert set(codes(draft([line]))) == {cpt}


@pytest.mark.parametrize("line, expected", [
    ("We worked on balance from 9:20 to 9:35 on the foam with tactile cues.", ("97112", "9:20", "9:35", 15)),
    ("Worked on balance from 9:20 to 9:35 on the foam with tactile cues.", ("97112", "9:20", "9:35", 15)),
    ("Twelve minutes of balance work on foam with tactile cues.", ("97112", "", "", 12)),
    ("Spent 15 minutes on gait with the rolling walker, cues for step length.", ("97116", "", "", 15)),
    ("We did ten minutes on the NuStep and leg press 3x15, therapeutic exercise 20 minutes in all.",
     ("97110", "", "", 20)),
])
def test_worked_on_and_minutes_of(line: str, expected: tuple[str, str, str, int]) -> None:
    cpt, start, stop, minutes = expected
    assert codes(draft([line])) == {cpt: (start, stop, minutes)}


def test_units_said_with_the_times() -> None:
    d = draft(["Manual therapy from 9:00 to 9:12, patellar glides to the right knee.",
               "Therex from 9:12 to 9:35, bill three units."])
    result = code_draft(d, RULES)
    assert {c.cpt: (c.start, c.stop, c.units, c.units_stated) for c in result.codes} == {
        "97140": ("9:00", "9:12", 1, 0), "97110": ("9:12", "9:35", 1, 3)}
    assert [f.cpt for f in result.flags if f.kind == "units_not_supported"] == ["97110"]


def test_short_names_need_a_time_and_the_head_of_the_sentence() -> None:
    d = draft(["Therapeutic exercise from 9:05 to 9:28, leg press, with manual guarding at the knee.",
               "Manual cues for knee alignment throughout.",
               "Balance is improving, no loss of balance today.",
               "Exercise tolerance improved, she walked 10 minutes without a rest.",
               "Subjective. Walking from 7 to 7:30 every morning with her husband."])
    assert set(codes(d)) == {"97110"}


def test_evaluation_test_results_are_not_a_treatment() -> None:
    d = draft(["Speech language evaluation from 1:00 to 1:50.",
               "Test of articulation standard score 72, expressive language standard score 78, auditory "
               "comprehension 94, naming 20 of 30.",
               "Goals. Produce s in words with 80% accuracy to talk with peers at school."],
              discipline="SLP", note_type="evaluation", payer="commercial", start="13:00")
    assert set(codes(d)) == {"92523"}


def test_an_evaluation_is_tied_to_goals_stated_anywhere() -> None:
    d = draft(["Occupational therapy evaluation from 9:00 to 9:45, moderate complexity. Grip 40 pounds on the right.",
               "Self care training from 9:45 to 9:58 with a sock aid and verbal cues, supporting her goal of "
               "dressing independently."],
              discipline="OT", note_type="evaluation", diagnosis="Parkinson's disease")
    result = code_draft(d, RULES)
    assert {c.cpt for c in result.codes} == {"97166", "97535"}
    assert "missing_goal_link" not in {f.kind for f in result.flags}


# ---------------------------------------------------------------- dismissals


def _flagged() -> pb.CodingResult:
    d = draft(["Therapeutic exercise from 9:00 to 9:20, leg press 3x15.",
               "Manual therapy from 9:15 to 9:30, joint mobilizations."])
    return code_draft(d, RULES)


def test_apply_dismissals_marks_matching_flags_only() -> None:
    result = _flagged()
    kinds = {(f.kind, f.cpt) for f in result.flags}
    assert ("missing_outcome_measure", "97110") in kinds and ("overlapping_times", "97140") in kinds
    reason = "measured at the last visit, documented in the progress note"
    out = apply_dismissals(result, {("missing_outcome_measure", "97110"): reason,
                                    ("overlapping_times", "97110"): "wrong code: not applied",
                                    ("under_8_minutes", "97140"): "no such flag: ignored"})
    assert len(out.flags) == len(result.flags)
    for f in out.flags:
        if (f.kind, f.cpt) == ("missing_outcome_measure", "97110"):
            assert f.dismissed and f.dismiss_reason == reason
        else:
            assert not f.dismissed and f.dismiss_reason == ""
    # pure: the input is unchanged, codes and the rest are copied
    assert not any(f.dismissed for f in result.flags)
    assert list(out.codes) == list(result.codes) and out.session_id == result.session_id


def test_apply_dismissals_empty_and_codeless_flags() -> None:
    result = pb.CodingResult(session_id="s", flags=[pb.Flag(kind="missing_times", message="m", cpt=""),
                                                    pb.Flag(kind="missing_times", message="m2", cpt="97110")])
    assert apply_dismissals(result, {}) == result
    out = apply_dismissals(result, {("missing_times", ""): "visit-level"})
    assert [f.dismissed for f in out.flags] == [True, False]
    assert out.flags[0].dismiss_reason == "visit-level"


def test_ambient_close_and_next_opener_in_one_recognised_sentence() -> None:
    ctx = pb.SessionContext(mode="ambient", discipline="PT", note_type="daily", payer="medicare",
                            session_start="10:00", diagnosis="left hemiparesis after stroke", date="2025-05-01")
    lines = [(130.0, "Let's start on the NuStep, 10 minutes at level three, left foot strapped in."),
             (850.0, "NuStep is done, now we'll work on balance, stand at the counter, feet together, 30 seconds."),
             (1130.0, "Now step onto the foam, shift your weight onto the left leg, keep your knee soft."),
             (1510.0, "Balance work is done, have a seat.")]
    segs = [pb.TranscriptSegment(seq=i, start_s=at, end_s=at + 5, speaker="therapist", text=t)
            for i, (at, t) in enumerate(lines)]
    d = pb.DraftUpdate(session_id="t", version=len(segs), is_final=True, context=ctx, transcript=segs)
    assert codes(d) == {"97110": ("10:02", "10:14", 12), "97112": ("10:14", "10:25", 11)}


def test_recogniser_forms_of_short_names_and_units() -> None:
    d = draft(["Subjective, patient says the right knee pain is 2/10.",
               "They're X from 9:05 to 9:28, leg press 3x15, toward her goal of stairs. Knee flexion 110 degrees, "
               "up from 100.",
               "Neurorehead from 9:28 to 9:40, single leg stance on foam with tactile cues.",
               "Gait from 9:40 to 9:54 with a cane, verbal cues for sequencing, built to units of gait training."])
    result = code_draft(d, RULES)
    assert {c.cpt: (c.start, c.stop) for c in result.codes} == {
        "97110": ("9:05", "9:28"), "97112": ("9:28", "9:40"), "97116": ("9:40", "9:54")}
    assert {c.cpt: c.units_stated for c in result.codes}["97116"] == 2


# ---------------------------------------------------------------- a service described, not named

def _review(d: pb.DraftUpdate) -> dict[str, bool]:
    return {c.cpt: c.needs_review for c in code_draft(d, RULES).codes}


def test_a_time_range_said_of_described_work_bills_what_it_describes() -> None:
    d = draft(["Therapeutic exercise from 9:05 to 9:20, leg press and step ups.",
               "9:21 to 9:33 we did tandem stance and single leg stance on the foam pad with eyes closed.",
               "Patient tolerated well."])
    got = codes(d)
    assert got["97110"] == ("9:05", "9:20", 15)
    assert got["97112"] == ("9:21", "9:33", 12)
    assert _review(d)["97112"]  # named by what was done: the therapist confirms the service


def test_a_duration_bills_described_work_only_when_it_is_plain() -> None:
    plain = draft(["Therapeutic exercise from 9:05 to 9:20, leg press and step ups.",
                   "Then about 12 minutes of tandem stance and single leg stance on foam."])
    assert codes(plain)["97112"] == ("", "", 12)
    vague = draft(["Therapeutic exercise from 9:05 to 9:20, leg press and step ups.",
                   "Ice to the knee for 10 minutes afterwards."])
    assert set(codes(vague)) == {"97110"}
