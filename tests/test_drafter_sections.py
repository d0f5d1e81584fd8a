"""Sentence splitting, small talk, cleaning and section assignment."""

from __future__ import annotations

from proto import scribe_pb2 as pb
from services.drafter.clean import clean_sentence, strip_fillers
from services.drafter.lexicon import load_lexicon
from services.drafter.note import draft_note
from services.drafter.sections import Classification, classify, rule_classifier, set_classifier
from services.drafter.sentences import split_text
from services.drafter.smalltalk import strip_small_talk

LEX = load_lexicon()


def seg(t: float, text: str, speaker: str = "") -> pb.TranscriptSegment:
    return pb.TranscriptSegment(start_s=t, end_s=t + 4, text=text, speaker=speaker)


def test_lexicon_is_versioned():
    assert LEX.version >= 1


def test_split_keeps_decimals_and_scores():
    assert split_text("Time was 13.4 seconds. Strength 4+/5 today! Next?") == [
        "Time was 13.4 seconds.", "Strength 4+/5 today!", "Next?"]


def test_small_talk_clause_dropped_inside_clinical_sentence():
    assert strip_small_talk("My knees are grumpy, it's the cold front coming in.", LEX) == "My knees are grumpy."
    assert strip_small_talk("The Steelers game is on tonight, my husband will yell.", LEX) == ""
    sentence = "She walked on the uneven grass at her son's baseball game without the ankle giving way."
    out = strip_small_talk(sentence, LEX)
    assert "uneven" in out and "baseball" not in out


def test_fillers_and_coaching():
    assert strip_fillers("Okay. ", LEX) == ""
    assert strip_fillers("Good job.", LEX) == ""
    assert strip_fillers("Okay, right knee flexion 120 degrees.", LEX) == "right knee flexion 120 degrees."
    assert classify("Push through both heels, squeeze your glutes.", "therapist", LEX).section is None
    assert classify("Relax the arm and breathe.", "therapist", LEX).section is None


def test_third_person_rewrites_never_touch_numbers():
    assert clean_sentence("I'm still using the walker everywhere.", "patient", LEX) == (
        "Patient is still using the walker everywhere.")
    assert clean_sentence("You needed 2 cues for wrist position.", "therapist", LEX) == (
        "Patient needed 2 cues for wrist position.")
    assert clean_sentence("Sore, maybe a 4/10.", "patient", LEX) == "Patient reports sore, maybe a 4/10."


def test_sentence_classes():
    cases = {
        "Right knee flexion 105 degrees actively.": "objective",
        "Seated leg press 3x15 at 40 pounds.": "objective",
        "Therapeutic exercise from 10:05 to 10:23.": "objective",
        "Patient reports pain 3/10 in the right knee.": "subjective",
        "This looks like tendinopathy, a moderate complexity evaluation.": "assessment",
        "The patient is making good progress toward walking in the community.": "assessment",
        "Next visit we'll try a single point cane.": "plan",
        "Continue 2 times a week for 6 weeks.": "plan",
        "How's the knee?": None,
    }
    for text, section in cases.items():
        assert classify(text, "therapist", LEX).section == section, text
    assert classify("My knee hurts going down stairs.", "patient", LEX).section == "subjective"


def test_dictation_headers_are_honoured():
    ctx = pb.SessionContext(mode="dictation", note_type="daily")
    note = draft_note([
        seg(0, "Subjective. Patient reports she is better. Objective. Right knee flexion 110 degrees."),
        seg(5, "Assessment. Tolerated well. Plan. Continue twice a week."),
    ], ctx)
    assert [i.text for i in note.subjective] == ["Patient reports she is better."]
    assert "110 degrees" in note.objective[0].text
    assert note.assessment[0].text == "Tolerated well."
    assert "twice a week" in note.plan[0].text


def test_ambient_utterance_split_across_sections():
    ctx = pb.SessionContext(mode="ambient")
    note = draft_note([
        seg(0, "How's the left hip?", "therapist"),
        seg(5, "Sore, maybe a 4/10.", "patient"),
        seg(10, "That builds toward your goal of walking to the mailbox. Next time we'll add step ups.", "therapist"),
    ], ctx)
    assert note.subjective[0].text.startswith("Left hip:")
    assert "mailbox" in note.assessment[0].text and "step ups" in note.plan[0].text
    assert "mailbox" not in " ".join(i.text for i in note.plan)


def test_evaluation_parts_land_in_sections():
    ctx = pb.SessionContext(mode="dictation", note_type="evaluation", discipline="PT")
    note = draft_note([
        seg(0, "History. Patient lives alone, comorbidities include diabetes and hypertension."),
        seg(5, "Systems review. Skin intact, heart rate 72."),
        seg(10, "Tests and measures. Knee flexion 90 degrees, Berg balance 41/56."),
        seg(15, "Clinical presentation is evolving, moderate complexity evaluation."),
        seg(20, "Goals. Ambulate 300 feet independently in 6 weeks."),
        seg(25, "Plan of care. Physical therapy 2 times a week for 6 weeks."),
    ], ctx)
    assert "comorbidities" in note.subjective[0].text
    objective = " ".join(i.text for i in note.objective)
    assert "Skin intact" in objective and "41/56" in objective
    assessment = " ".join(i.text for i in note.assessment)
    assert "moderate complexity" in assessment and "300 feet" in assessment
    assert "6 weeks" in note.plan[0].text


def test_classifier_seam():
    calls = []

    def model(text: str, role: str, lex):  # a stand-in for a sentence model
        calls.append(text)
        return Classification("plan", "plan", 9.0)

    set_classifier(model)
    try:
        note = draft_note([seg(0, "Right knee flexion 105 degrees.", "therapist")], pb.SessionContext(mode="ambient"))
    finally:
        set_classifier(None)
    assert calls and note.plan and not note.objective
    assert classify("Right knee flexion 105 degrees.", "therapist", LEX) == rule_classifier(
        "Right knee flexion 105 degrees.", "therapist", LEX)


def test_headers_as_a_recogniser_writes_them():
    from services.drafter.sentences import strip_header

    assert strip_header("Subjective, patient reports pain 3/10.", LEX) == ("subjective", "patient reports pain 3/10.")
    assert strip_header("Plan continue 3 times per week.", LEX) == ("plan", "continue 3 times per week.")
    assert strip_header("Assessment, symptoms are centralizing.", LEX) == ("assessment", "symptoms are centralizing.")
    assert strip_header("Objective right knee flexion 105 degrees.", LEX)[0] == "objective"
    # The header word belongs to the sentence: no header.
    for text in ("Plan of care is reviewed with the patient.", "Plan to continue.", "Assessment of gait shows a limp.",
                 "Planned 3 visits.", "Goals are to reach the shelf."):
        assert strip_header(text, LEX) == (None, text), text


def test_comma_headers_in_a_dictation_place_and_clean_the_items():
    ctx = pb.SessionContext(mode="dictation", note_type="daily")
    note = draft_note([
        seg(0, "Subjective, patient's wife reports he gets stuck on the names of foods at restaurants."),
        seg(5, "Objective, right knee flexion 105 degrees, assessment, patient is progressing toward the goal "
               "of stairs. She needed fewer cues by the end."),
        seg(10, "Plan continue 3 times per week, add step ups."),
    ], ctx)
    assert "restaurants" in note.subjective[0].text and not note.subjective[0].text.lower().startswith("subjective")
    assert note.objective[0].text == "Right knee flexion 105 degrees."
    assessment = " ".join(i.text for i in note.assessment)
    assert "progressing toward the goal" in assessment and "fewer cues" in assessment
    assert note.plan[0].text.startswith("Continue 3 times per week")


def test_run_on_filler_clause_does_not_drop_the_sentence():
    assert strip_fillers("Good, we're done with exercise, all of this is working toward the cupboard.", LEX) == (
        "all of this is working toward the cupboard.")
    assert strip_fillers("That's it for the activities, this builds toward your goal of cooking.", LEX) == (
        "this builds toward your goal of cooking.")
    assert strip_fillers("Let me measure your hip, left hip flexion is 95 degrees.", LEX) == (
        "left hip flexion is 95 degrees.")
    assert strip_fillers("No, it does not hurt.", LEX) == "No, it does not hurt."
    assert strip_fillers("Eight, nine, ten.", LEX) == ""


def test_run_on_sentence_split_where_it_turns_to_assessment_or_plan():
    ctx = pb.SessionContext(mode="ambient")
    note = draft_note([
        seg(0, "Your QuickDASH score is 45, that means moderate limitation with daily tasks.", "therapist"),
        seg(5, "At home, keep doing the putty 3 times a day, we'll progress to weights next week.", "therapist"),
    ], ctx)
    assert [i.text for i in note.objective] == ["Patient's QuickDASH score is 45."]
    assert note.assessment[0].text == "That means moderate limitation with daily tasks."
    assert "At home" in note.plan[0].text and not note.subjective  # "At home" alone is no sentence


def test_an_assessment_sentence_is_not_taken_for_a_preamble():
    assert LEX.is_preamble("This is the daily note for today's visit.")
    assert LEX.is_preamble("This is a physical therapy evaluation.")
    assert not LEX.is_preamble("This is a moderate complexity evaluation.")


def test_speech_language_sample_measures_are_objective():
    # "2.8 words": a mean length of utterance is a measure (it went to the assessment with no unit known)
    assert LEX.has_measure("Mean length of utterance 2.8 words.")
    assert LEX.has_measure("MLU of 3.1 today.")
    assert rule_classifier("Mean length of utterance 2.8 words.", "therapist", LEX).section == "objective"
    assert not LEX.has_measure("In other words, it was fine.")
    assert not LEX.has_measure("He said two words.")  # a count in words is no measure


def test_a_home_programme_instruction_is_plan():
    assert rule_classifier("Keep squeezing the putty at home.", "therapist", LEX).section == "plan"
    assert rule_classifier("Practice the word list at home.", "therapist", LEX).section == "plan"
    # a report of what happens at home stays where it was
    assert rule_classifier("She continues to fall at home.", "therapist", LEX).section != "plan"
    assert rule_classifier("Keep your wrist level as you lift.", "therapist", LEX).section != "plan"
