"""End to end: one small synthetic session per note type (daily, evaluation, progress, discharge)."""

from __future__ import annotations

from proto import scribe_pb2 as pb
from services.drafter.evidence import unsupported_numbers
from services.drafter.lexicon import SECTIONS
from services.drafter.note import draft_note


def transcript(lines: list[tuple[str, str]]) -> list[pb.TranscriptSegment]:
    return [pb.TranscriptSegment(seq=i, start_s=i * 30.0, end_s=i * 30.0 + 8, speaker=s, text=t)
            for i, (s, t) in enumerate(lines)]


def text_of(note: pb.Note, section: str) -> str:
    return " ".join(i.text for i in getattr(note, section)).lower()


def assert_sound(segs: list[pb.TranscriptSegment], note: pb.Note) -> None:
    by_span = {(s.start_s, s.end_s): s.text for s in segs}
    for section in SECTIONS:
        assert getattr(note, section), section
        for item in getattr(note, section):
            assert item.evidence
            assert not unsupported_numbers(item.text, [by_span[(e.start_s, e.end_s)] for e in item.evidence])


def test_daily_ambient_ot():
    segs = transcript([
        ("therapist", "Hi, did you get stuck in the snow this morning?"),
        ("patient", "A little. The plows were out early."),
        ("therapist", "How's the right hand?"),
        ("patient", "Stiff, about a 3/10. I opened a jar at home yesterday."),
        ("therapist", "Let's start with fine motor work. Pick up the pegs and place them in the board, 2x10."),
        ("therapist", "Pinch strength is 12 pounds, up from 9 last week."),
        ("therapist", "You needed 1 cue for thumb position instead of 4 last time."),
        ("therapist", "This builds toward your goal of buttoning your shirt."),
        ("therapist", "Next week we'll add resistive putty. Keep doing the tendon glides at home."),
    ])
    ctx = pb.SessionContext(mode="ambient", discipline="OT", note_type="daily", goals=["Button a shirt independently"])
    note = draft_note(segs, ctx)
    assert_sound(segs, note)
    assert "3/10" in text_of(note, "subjective") and "hand" in text_of(note, "subjective")
    assert "12 pounds" in text_of(note, "objective") and "2x10" in text_of(note, "objective")
    assert "button" in text_of(note, "assessment")
    assert "putty" in text_of(note, "plan")
    full = " ".join(text_of(note, s) for s in SECTIONS)
    assert "snow" not in full and "plows" not in full


def test_evaluation_dictated_slp():
    segs = transcript([
        ("therapist", "Speech therapy evaluation. Diagnosis dysphagia after stroke."),
        ("therapist", "History. Patient lives with his daughter, reports coughing with thin liquids for 3 weeks."),
        ("therapist", "Oral motor exam shows reduced lip closure."),
        ("therapist", "Bedside swallow, coughing on 3 of 5 thin liquid trials."),
        ("therapist", "Impression. Moderate oral pharyngeal dysphagia, moderate complexity. Good rehab potential."),
        ("therapist", "Goals. Tolerate thin liquids with chin tuck in 90% of trials in 4 weeks."),
        ("therapist", "Plan. Speech therapy 3 times a week for 4 weeks, modified barium swallow study recommended."),
    ])
    note = draft_note(segs, pb.SessionContext(mode="dictation", discipline="SLP", note_type="evaluation"))
    assert_sound(segs, note)
    assert "coughing" in text_of(note, "subjective")
    assert "3 of 5" in text_of(note, "objective")
    assert "moderate complexity" in text_of(note, "assessment") and "90%" in text_of(note, "assessment")
    assert "3 times a week" in text_of(note, "plan")


def test_progress_dictated_pt():
    segs = transcript([
        ("therapist", "Progress note, physical therapy, visit 8 of 12, neck pain."),
        ("therapist", "Patient reports neck pain 2/10, was 6/10 at evaluation, and can drive 30 minutes."),
        ("therapist", "Cervical rotation left 70 degrees, up from 45 degrees."),
        ("therapist", "Neck Disability Index 18%, down from 40%."),
        ("therapist", "Manual therapy from 2:00 to 2:15, grade 3 mobilizations to C5 and C6."),
        ("therapist", "Patient has met the short term goal for driving and is progressing toward the long term goals."),
        ("therapist", "Continue twice a week for 4 more weeks and progress the home exercise program."),
    ])
    note = draft_note(segs, pb.SessionContext(mode="dictation", discipline="PT", note_type="progress"))
    assert_sound(segs, note)
    assert "2/10" in text_of(note, "subjective")
    assert "18%" in text_of(note, "objective")
    assert "70 degrees" in text_of(note, "objective") and "2:00" in text_of(note, "objective")
    assert "goal" in text_of(note, "assessment") and "45 degrees" in text_of(note, "assessment")
    assert "4 more weeks" in text_of(note, "plan")


def test_discharge_ambient_pt():
    segs = transcript([
        ("therapist", "This is your last visit. How's the left knee?"),
        ("patient", "No pain at all. I walked the whole mall on Saturday."),
        ("therapist", "Let me check. Left knee flexion 125 degrees, extension 0."),
        ("therapist", "Timed up and go 9 seconds, was 16 seconds."),
        ("therapist", "You've met all your goals, you're independent with your home program."),
        ("therapist", "Patient is discharged from therapy to continue the home exercise program independently."),
        ("patient", "Thanks so much. Say hi to your family."),
    ])
    note = draft_note(segs, pb.SessionContext(mode="ambient", discipline="PT", note_type="discharge"))
    assert_sound(segs, note)
    assert "knee" in text_of(note, "subjective")
    assert "125 degrees" in text_of(note, "objective")
    assert "met all" in text_of(note, "assessment")
    assert "discharged" in text_of(note, "plan")
    assert "family" not in " ".join(text_of(note, s) for s in SECTIONS)
