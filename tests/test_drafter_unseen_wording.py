"""General rule families for wording the public cases never used (synthetic sentences)."""

from __future__ import annotations

from proto import scribe_pb2 as pb
from services.drafter.lexicon import load_lexicon
from services.drafter.note import draft_note
from services.drafter.sections import rule_classifier
from services.drafter.smalltalk import strip_small_talk

LEX = load_lexicon()


def seg(t: float, text: str, speaker: str = "") -> pb.TranscriptSegment:
    return pb.TranscriptSegment(start_s=t, end_s=t + 4, text=text, speaker=speaker)


def section_texts(note: pb.Note, section: str) -> str:
    return " ".join(i.text for i in getattr(note, section)).lower()


def test_venues_and_screen_stories_are_small_talk():
    assert strip_small_talk("We got stuck leaving the arena, it took 40 minutes.", LEX) == ""
    assert strip_small_talk("Did you see the episode where the detective lies?", LEX) == ""
    assert strip_small_talk("I can't wait for the season premiere.", LEX) == ""
    kept = strip_small_talk("My back was sore after sitting through the concert.", LEX)
    assert "sore" in kept and "concert" not in kept


def test_cant_is_not_the_can_equipment():
    assert not LEX.has_intervention("I can't believe she said that.")
    assert LEX.has_intervention("Lift the soup cans onto the shelf.")


def test_voice_and_language_words_are_clinical():
    for text in ("People say I mumble at dinner.", "His sentences are getting longer.",
                 "I did my practice every morning.", "Strangers understand him about a third of the time."):
        assert LEX.has_clinical(text), text
    assert LEX.has_measure("Sustained vowel at 72 decibels.")
    assert LEX.has_measure("Reading rate 110 words per minute.")


def test_equipment_technique_and_task_names_are_interventions():
    for text in ("Eight minutes on the UBE.", "Inferior glides of the shoulder, grade two.",
                 "Suboccipital release for tension.", "Monster walks with a band.",
                 "Pitch glides up and down, five each.", "Reading aloud at the paragraph level.",
                 "Folding towels while standing.", "Zipper practice on a jacket."):
        assert LEX.has_intervention(text), text


def test_self_care_and_household_reports_are_clinical():
    for text in ("I couldn't finish the vacuuming.", "The jar lids are still too hard.",
                 "Doing the laundry wears me out."):
        assert LEX.has_clinical(text), text


def test_reported_speech_by_a_family_member_is_subjective():
    c = rule_classifier("Father reports the toddler points instead of talking.", "therapist", LEX)
    assert c.section == "subjective"


def test_home_practice_and_discharge_phrasing_is_plan():
    for text in ("Speech therapy once a week with a home practice log.",
                 "Discharge from occupational therapy with an independent home program."):
        assert rule_classifier(text, "therapist", LEX).section == "plan", text


def test_dictated_plan_with_teaching_home_practice_is_kept():
    ctx = pb.SessionContext(mode="dictation", discipline="SLP", note_type="daily")
    note = draft_note([seg(0, "Plan. Teach the caregiver a home practice routine, therapy twice a week.")], ctx)
    assert "twice a week" in section_texts(note, "plan")


def test_sentence_after_a_report_continues_the_report():
    ctx = pb.SessionContext(mode="dictation", discipline="OT", note_type="daily")
    note = draft_note([seg(0, "Patient reports pain 3/10 in the wrist. She has stopped doing the laundry and relies "
                              "on her son for it.")], ctx)
    assert "laundry" in section_texts(note, "subjective")
    assert "laundry" not in section_texts(note, "objective")
