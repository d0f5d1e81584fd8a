"""Each flag fires on a transcript with the gap and stays quiet on a well-documented one."""

from __future__ import annotations

import pytest

from proto import scribe_pb2 as pb
from services.coder.coding import code_draft
from services.coder.rules import load_default_rules

RULES = load_default_rules()


def draft(lines: list[str | tuple[float, str, str]], *, mode: str = "dictation", discipline: str = "PT",
          note_type: str = "daily", payer: str = "medicare", start: str = "10:00",
          diagnosis: str = "s/p right total knee arthroplasty", method: str = "") -> pb.DraftUpdate:
    ctx = pb.SessionContext(mode=mode, discipline=discipline, note_type=note_type, payer=payer, session_start=start,
                            diagnosis=diagnosis, billing_method=method, date="2025-05-01")
    segs = []
    for i, line in enumerate(lines):
        at, speaker, text = line if isinstance(line, tuple) else (i * 10.0, "therapist", line)
        segs.append(pb.TranscriptSegment(seq=i, start_s=at, end_s=at + 5, speaker=speaker, text=text))
    return pb.DraftUpdate(session_id="t", version=len(segs), is_final=True, context=ctx, transcript=segs)


def kinds(d: pb.DraftUpdate) -> set[str]:
    return {f.kind for f in code_draft(d, RULES).flags}


GOOD = [
    "Daily note, physical therapy, right knee replacement, week six.",
    "Subjective. Pain 2/10 in the right knee, walked to church this weekend.",
    "Therapeutic exercise from 10:00 to 10:20. Leg press 3x12 at 50 pounds and step ups on the right, to build "
    "quad strength needed for stairs at home.",
    "Therapeutic activities from 10:20 to 10:35. Floor transfers and carrying a laundry basket on the stairs, "
    "with verbal cues for sequencing and tactile cues for trunk control, working on balance and strength together.",
    "Objective. Right knee flexion 118 degrees, up from 105 degrees last week.",
    "Assessment. Progressing toward her goal of carrying laundry up the stairs independently.",
    "Plan. Continue twice weekly.",
]


def test_well_documented_visit_is_quiet() -> None:
    result = code_draft(draft(GOOD), RULES)
    assert {c.cpt: c.units for c in result.codes} == {"97110": 1, "97530": 1}
    assert [f.kind for f in result.flags] == []


def test_missing_times() -> None:
    d = draft([GOOD[0], "Roughly 15 minutes of therapeutic exercise, leg press and step ups on the right for stairs.",
               *GOOD[3:]])
    result = code_draft(d, RULES)
    ex = {c.cpt: c for c in result.codes}["97110"]
    assert (ex.start, ex.stop, ex.minutes) == ("", "", 15)
    flags = [f for f in result.flags if f.kind == "missing_times"]
    assert [f.cpt for f in flags] == ["97110"]
    assert "15 minutes" in flags[0].message


def test_overlapping_times() -> None:
    d = draft([GOOD[0], GOOD[2].replace("10:00 to 10:20", "10:00 to 10:25"), *GOOD[3:]])
    flags = [f for f in code_draft(d, RULES).flags if f.kind == "overlapping_times"]
    assert len(flags) == 1 and "10:00-10:25" in flags[0].message and "10:20-10:35" in flags[0].message
    assert "overlapping_times" not in kinds(draft(GOOD))


def test_units_not_supported() -> None:
    d = draft([*GOOD[:3], "Billing 3 units of therapeutic exercise.", *GOOD[3:]])
    flags = [f for f in code_draft(d, RULES).flags if f.kind == "units_not_supported"]
    assert len(flags) == 1 and flags[0].cpt == "97110" and "supported units: 1" in flags[0].message
    assert "units_not_supported" not in kinds(draft([*GOOD[:3], "One unit of therapeutic exercise.", *GOOD[3:]]))


def test_missing_goal_link() -> None:
    d = draft([GOOD[0], "Therapeutic exercise from 10:00 to 10:20. Leg press 3x12 at 50 pounds.",
               GOOD[3].replace(", working on balance and strength together", ""), GOOD[4], "Plan. Continue."])
    d.transcript[2].text = ("Therapeutic activities from 10:20 to 10:35. Floor transfers with verbal cues for "
                            "sequencing and tactile cues for trunk control.")
    flags = [f for f in code_draft(d, RULES).flags if f.kind == "missing_goal_link"]
    assert {f.cpt for f in flags} == {"97110", "97530"}
    assert "97530 block 10:20-10:35 has no sentence tying it to a functional goal" in {f.message for f in flags}
    # One block tied in its own words, the other by the assessment.
    assert "missing_goal_link" not in kinds(draft(GOOD))


def test_missing_laterality() -> None:
    d = draft(["Therapeutic exercise from 10:00 to 10:20. Knee extension with a band, knee flexion stretch, "
               "toward the goal of stairs. Knee flexion 110 degrees, up from 100 degrees."],
              diagnosis="knee osteoarthritis")
    flags = [f for f in code_draft(d, RULES).flags if f.kind == "missing_laterality"]
    assert [f.cpt for f in flags] == ["97110"] and "lower extremity" in flags[0].message
    d.context.diagnosis = "left knee osteoarthritis"
    assert "missing_laterality" not in kinds(d)
    # A balance class with incidental limb words needs no side.
    group = draft([(0, "therapist", "Let's begin the balance group, everyone hands on your chair, feet together."),
                   (600, "therapist", "Ankle circles and heel raises, 2x10, toward your goal of walking safely."),
                   (1300, "therapist", "That's the end of group today.")], mode="ambient",
                  diagnosis="history of falls")
    assert "missing_laterality" not in kinds(group)


def test_missing_outcome_measure() -> None:
    no_measure = [line for line in GOOD if not line.startswith("Objective")]
    flags = [f for f in code_draft(draft(no_measure), RULES).flags if f.kind == "missing_outcome_measure"]
    assert [f.cpt for f in flags] == ["97110"]
    # Evaluation visits set the baseline: not raised.
    ev = draft(["Physical therapy evaluation from 10:00 to 10:40, low complexity.",
                "Therapeutic exercise from 10:40 to 10:50, quad sets and heel slides on the right for walking."],
               note_type="evaluation")
    assert "missing_outcome_measure" not in kinds(ev)


def test_missing_skilled_cues() -> None:
    d = draft([GOOD[0], GOOD[2], "Neuromuscular re-education from 10:20 to 10:35. Single leg stance on foam and "
               "tandem walking on the right, for walking on uneven ground.", *GOOD[4:]])
    flags = [f for f in code_draft(d, RULES).flags if f.kind == "missing_skilled_cues"]
    assert [f.cpt for f in flags] == ["97112"]
    d.transcript[2].text += " Tactile cues at the pelvis to correct lateral sway."
    assert "missing_skilled_cues" not in kinds(d)


def test_single_deficit_97530() -> None:
    d = draft([GOOD[0], GOOD[2], "Therapeutic activities from 10:20 to 10:35. Sit to stand from a low chair, 3x10, "
               "with verbal cues for hand placement, to build quad strength for getting off the couch. "
               "Her quad strength is what holds her back.", *GOOD[4:]])
    flags = [f for f in code_draft(d, RULES).flags if f.kind == "single_deficit_97530"]
    assert [f.cpt for f in flags] == ["97530"] and "strength" in flags[0].message
    assert "single_deficit_97530" not in kinds(draft(GOOD))


def test_ptp_modifier_needed() -> None:
    d = draft([GOOD[0], "Manual therapy from 10:00 to 10:10. Patellar mobilizations and soft tissue mobilization "
               "to the right knee.", GOOD[3], *GOOD[4:]])
    result = code_draft(d, RULES)
    assert {c.cpt: sorted(c.modifiers) for c in result.codes} == {"97140": ["GP", "XU"], "97530": ["GP"]}
    assert [f.cpt for f in result.flags if f.kind == "ptp_modifier_needed"] == ["97140"]
    assert "ptp_modifier_needed" not in kinds(draft(GOOD))


def test_under_8_minutes() -> None:
    d = draft([*GOOD[:3], GOOD[3].replace("10:20 to 10:35", "10:20 to 10:26"), *GOOD[4:]])
    result = code_draft(d, RULES)
    codes = {c.cpt: c for c in result.codes}
    assert codes["97530"].minutes == 6
    assert [f.cpt for f in result.flags if f.kind == "under_8_minutes"] == ["97530"]
    assert "under_8_minutes" not in kinds(draft(GOOD))


@pytest.mark.parametrize("kind", ["missing_goal_link", "missing_skilled_cues", "missing_laterality"])
def test_messages_do_not_quote_patient_words(kind: str) -> None:
    d = draft([(0, "patient", "My secret word is flamingo and my knee hurts."),
               (10, "therapist", "Therapeutic activities from 10:00 to 10:15. Sit to stand with the knee.")],
              diagnosis="knee pain")
    for f in code_draft(d, RULES).flags:
        assert "flamingo" not in f.message


AMBIENT = [
    (5, "therapist", "Morning! How was the weekend?"),
    (9, "patient", "Good, we went to the lake."),
    (120, "therapist", "Let's start with the recumbent bike, 8 minutes, then leg press."),
    (600, "therapist", "Leg press now, right leg only, 3 sets of 12 at 50 pounds. This builds the strength you need "
                       "for the stairs at work."),
    (900, "therapist", "Right knee flexion is 118 degrees, up from 110 last week."),
    (1080, "therapist", "Okay, that's it for the exercises. Next we'll work on balance."),
    (1140, "therapist", "Stand on the foam, single leg stance on the right. Keep your hips level, eyes ahead."),
    (1500, "therapist", "Good, we're done with balance for today."),
]


def test_ambient_blocks_and_quiet() -> None:
    result = code_draft(draft(AMBIENT, mode="ambient", diagnosis="right knee osteoarthritis"), RULES)
    got = {c.cpt: (c.start, c.stop, c.minutes, c.units) for c in result.codes}
    # The balance block opens at its announcement, said in the utterance that closes the exercises.
    assert got == {"97110": ("10:02", "10:18", 16, 1), "97112": ("10:18", "10:25", 7, 1)}
    assert {f.kind for f in result.flags} == {"under_8_minutes"}


@pytest.mark.parametrize("mode", ["ambient", "dictation"])
def test_empty_and_partial_drafts(mode: str) -> None:
    empty = code_draft(draft([], mode=mode), RULES)
    assert list(empty.codes) == [] and list(empty.flags) == []
    ctx_only = pb.DraftUpdate(context=pb.SessionContext(mode=mode, payer="nobody"))
    assert list(code_draft(ctx_only, RULES).codes) == []
    evaluation = code_draft(draft([], mode=mode, note_type="evaluation"), RULES)
    assert [c.cpt for c in evaluation.codes] == ["97161"]
