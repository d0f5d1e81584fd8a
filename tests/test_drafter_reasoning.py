"""Ambient sessions: the therapist's reasoning and plan said aloud reach the assessment and the plan.

Every sentence here is invented for these tests (no eval or development case wording).
"""

from __future__ import annotations

import pytest

from proto import scribe_pb2 as pb
from services.drafter.clean import drop_vocatives
from services.drafter.lexicon import load_lexicon
from services.drafter.note import _reasoned_section, draft_note
from services.drafter.roles import content_score
from services.drafter.sections import set_classifier

LEX = load_lexicon()


def seg(t: float, text: str, speaker: str) -> pb.TranscriptSegment:
    return pb.TranscriptSegment(start_s=t, end_s=t + 4, text=text, speaker=speaker)


def ambient() -> pb.SessionContext:
    return pb.SessionContext(mode="ambient", discipline="PT", note_type="daily")


def texts(note: pb.Note, section: str) -> str:
    return " ".join(i.text for i in getattr(note, section)).lower()


def note_of(*lines: tuple[str, str]) -> pb.Note:
    set_classifier(None)  # rules only: the mechanisms under test are rules
    return draft_note([seg(6.0 * k, text, who) for k, (who, text) in enumerate(lines)], ambient())


def test_purpose_markers():
    for text in (
        "Getting the ankle to bend further is what lets you step up onto a bus.",
        "This is exactly how you'll manage the steps into the garden.",
        "These are the muscles you need to get up from the bathtub.",
        "That's the balance for standing at the sink to shave.",
        "Stronger hips mean getting off the sofa without a push.",
    ):
        assert LEX.is_purpose(text), text
    for text in ("That's how you do it.", "This is what we did last time.", "Squeeze the ball ten times."):
        assert not LEX.is_purpose(text), text


def test_purpose_of_a_measured_exercise_goes_to_assessment_and_keeps_its_measure():
    note = note_of(("therapist", "Step ups on the 6 inch box, 2x10, and that is what gets you onto the bus."))
    assert "bus" in texts(note, "assessment")
    assert "2x10" in texts(note, "objective")  # the measurement stays with the session data


def test_purpose_without_clinical_word_is_not_dropped_as_chatter():
    note = note_of(("therapist", "This is how you'll keep the bills sorted without anyone checking on you."))
    assert "bills" in texts(note, "assessment")


def test_purpose_is_never_taken_from_a_patient():
    note = note_of(("patient", "Honestly that's what gets me through the whole week."))
    assert texts(note, "assessment") == ""


def test_home_instruction_with_counts_goes_to_plan_only():
    note = note_of(("therapist", "Clamshells with the band, 2x12, every evening before bed."))
    assert "clamshells" in texts(note, "plan")
    assert "clamshells" not in texts(note, "objective")


def test_home_instruction_opening_and_vocative():
    assert _reasoned_section("Marta, for home: the wall slides and the towel squeeze.", LEX) == ("plan", "hep")
    assert _reasoned_section("Keep up the hamstring stretch on the stairs.", LEX) == ("plan", "hep")
    assert _reasoned_section("Wear the wrist brace when you type.", LEX) == ("plan", "hep")


def test_home_times_in_a_report_or_question_are_not_plan():
    assert _reasoned_section("She has been doing the marching every morning.", LEX) is None
    assert _reasoned_section("Did you do them every day?", LEX) is None
    assert _reasoned_section("This is the same grab bar you have at home.", LEX) is None


def test_home_instruction_run_on_stays_one_plan_line():
    note = note_of(("therapist", "Keep the red band, and do the rows once a day."))
    plan = texts(note, "plan")
    assert "red band" in plan and "rows" in plan
    assert "red band" not in texts(note, "objective")


def test_frequency_and_duration_of_care_reach_the_plan():
    note = note_of(("therapist", "I'd like to see you three times a week for 5 weeks."))
    assert "5 weeks" in texts(note, "plan")
    note = note_of(("therapist", "Once a week for 3 weeks."))
    assert "3 weeks" in texts(note, "plan")


def test_observation_of_tolerance_goes_to_assessment():
    note = note_of(("therapist", "You start to shuffle once you pass the nurses station."))
    assert "shuffle" in texts(note, "assessment")
    note = note_of(("therapist", "Fifth lap on the track, 400 feet, you tire quickly after the turn."))
    assert "tire quickly" in texts(note, "assessment")
    assert "400 feet" in texts(note, "objective")


def test_observation_never_takes_a_report():
    note = note_of(("therapist", "Her husband reports she gets winded on the stairs at home."))
    assert "winded" in texts(note, "subjective")
    assert "winded" not in texts(note, "assessment")


def test_goal_status_and_named_goals_are_assessment():
    note = note_of(("therapist", "The dressing goal is partially met, the shoes are still hard."))
    assert "partially met" in texts(note, "assessment")


def test_therapist_planning_in_first_person_is_the_therapist():
    assert content_score("I'm giving you a new sheet, I'd like you to do the first page.", LEX) > 0
    assert content_score("I'm recommending two more weeks and then a home program.", LEX) > 0


def test_dictation_is_untouched_by_the_ambient_rules():
    ctx = pb.SessionContext(mode="dictation", discipline="PT", note_type="daily")
    set_classifier(None)
    note = draft_note([seg(0, "Objective. Bridges 2x10, that is what gets her off the floor.", "")], ctx)
    assert "bridges" in texts(note, "objective")
    assert texts(note, "assessment") == ""


def test_recap_of_results_goes_to_assessment_and_stays_objective():
    note = note_of(("therapist", "Overall, 250 feet with the rollator, two seated rests, curb with a light touch."))
    assert "250 feet" in texts(note, "assessment")
    assert "250 feet" in texts(note, "objective")


def test_an_announcement_is_not_a_recap():
    note = note_of(("therapist", "So, we'll start the rowing machine, 6 minutes, level 2."))
    assert "rowing" not in texts(note, "assessment")


@pytest.mark.parametrize(("said", "kept"), [
    ("Keep the walker close on the turn, Marguerite.", "Keep the walker close on the turn."),
    ("Mrs. Albright, sit tall for me.", "Sit tall for me."),
    ("Stay tall, Reggie, and breathe out as you lift.", "Stay tall, and breathe out as you lift."),
    ("We'll repeat the TUG, Berg, and the 6 minute walk.", "We'll repeat the TUG, Berg, and the 6 minute walk."),
    ("Next visit is Thursday, Monday.", "Next visit is Thursday, Monday."),
])
def test_a_name_said_to_address_someone_stays_out_of_the_note(said: str, kept: str) -> None:
    assert drop_vocatives(said, load_lexicon()) == kept
