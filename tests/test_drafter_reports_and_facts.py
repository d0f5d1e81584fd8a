"""Facts in an ambient note: what the patient and a caregiver report goes to subjective; a sentence with
a measure, a load, a count or a device is never dropped as small talk. Sentences written for this file."""

from __future__ import annotations

import pytest

from proto import scribe_pb2 as pb
from services.coder.text import resolve_clock
from services.drafter.note import draft_note

CTX = pb.SessionContext(mode="ambient", discipline="PT", note_type="daily", payer="medicare", session_start="15:00",
                        diagnosis="left total hip arthroplasty", date="2025-06-02")


def note_of(lines: list[tuple[float, str, str]]) -> pb.Note:
    segs = [pb.TranscriptSegment(seq=i, start_s=t, end_s=t + 4, speaker=who, text=text)
            for i, (t, who, text) in enumerate(lines)]
    return draft_note(segs, CTX)


def section_text(note: pb.Note, section: str) -> str:
    return " ".join(item.text for item in getattr(note, section))


SESSION = [
    (0, "therapist", "Come on in, how has the hip been since Friday?"),
    (5, "patient", "Sore after the car ride, maybe a four out of ten, better in the mornings."),
    (12, "caregiver", "He's been skipping the evening exercises because he gets tired after dinner."),
    (20, "therapist", "Okay, let's start with bridges on the mat."),
    (80, "therapist", "Now the green band around your knees, side steps, two sets of fifteen each way."),
    (300, "therapist", "Hip abduction strength on the left is 4-/5 today."),
    (330, "patient", "Did you see the storm last night? The power went out for an hour."),
    (600, "therapist", "He walked 300 feet with the rolling walker and standby assist."),
]


def test_patient_and_caregiver_reports_go_to_subjective() -> None:
    note = note_of(SESSION)
    subjective = section_text(note, "subjective").lower()
    assert "4/10" in subjective or "four out of ten" in subjective
    assert "caregiver reports" in subjective and "evening exercises" in subjective
    everything = " ".join(section_text(note, s) for s in ("subjective", "objective", "assessment", "plan")).lower()
    assert "storm" not in everything and "power went out" not in everything


def test_loads_counts_measures_and_devices_are_kept() -> None:
    objective = section_text(note_of(SESSION), "objective").lower()
    assert "green" in objective and ("2x15" in objective or "two sets of fifteen" in objective)
    assert "4-/5" in objective
    assert "300 feet" in objective and "rolling walker" in objective


@pytest.mark.parametrize("hour,minute,anchor,want", [
    (2, 15, 14 * 60, 14 * 60 + 15),  # a 2 o'clock session: 2:15 is in the afternoon
    (9, 40, 14 * 60, 9 * 60 + 40),  # dictated at 2 pm about the morning: 9:40 am is nearer
    (11, 50, 12 * 60 + 10, 11 * 60 + 50),  # just before noon
    (12, 5, 12 * 60 + 10, 12 * 60 + 5),
    (7, 30, 19 * 60, 19 * 60 + 30),  # an evening clinic
    (7, 30, None, 7 * 60 + 30),  # no session start: clinic hours decide
    (3, 0, None, 15 * 60),
    (15, 20, 8 * 60, 15 * 60 + 20),  # a 24-hour time is taken as said
    (10, 75, 10 * 60, None),
])
def test_one_am_pm_rule_the_reading_nearest_the_session_start(hour: int, minute: int, anchor: int | None,
                                                                want: int | None) -> None:
    assert resolve_clock(hour, minute, "", anchor) == want
