"""Speaker roles: dictation, content-only accuracy on the public cases, and voice pitch."""

from __future__ import annotations

from proto import scribe_pb2 as pb
from services.drafter.roles import assign_roles
from tests.cases import case_ids, gold_transcript, load_case

AMBIENT = pb.SessionContext(mode="ambient")


def _gold_role(speaker: str) -> str:
    return speaker if speaker in ("therapist", "patient") else "other"


def test_dictation_is_all_therapist():
    segs = [pb.TranscriptSegment(text="I have pain in my knee."), pb.TranscriptSegment(text="Plan. Continue.")]
    assert assign_roles(segs, pb.SessionContext(mode="dictation")) == ["therapist", "therapist"]


def test_content_only_accuracy_on_public_cases():
    right = total = 0
    for cid in case_ids():
        case = load_case(cid)
        if case["mode"] != "ambient":
            continue
        transcript = gold_transcript(case)  # gold text has no pitch: content only
        roles = assign_roles(transcript, AMBIENT)
        for seg, role in zip(transcript, roles, strict=True):
            right += role == _gold_role(seg.speaker)
            total += 1
    assert right / total >= 0.9, f"{right}/{total}"


def test_obvious_lines():
    segs = [
        pb.TranscriptSegment(text="How's the left knee feeling today?"),
        pb.TranscriptSegment(text="Sore, maybe a 4/10. My knee was stiff this morning."),
        pb.TranscriptSegment(text="Let's start on the bike, 10 minutes, then leg press 3x15."),
        pb.TranscriptSegment(text="That feels heavy."),
    ]
    assert assign_roles(segs, AMBIENT) == ["therapist", "patient", "therapist", "patient"]


def _pitched(texts_pitch: list[tuple[str, float]]) -> list[pb.TranscriptSegment]:
    return [pb.TranscriptSegment(text=t, voice_pitch_hz=p) for t, p in texts_pitch]


def test_pitch_groups_follow_content_majority():
    # Two voices ~7 semitones apart; the low voice instructs, the high voice answers.
    # The ambiguous lines ("Okay.", "Eight, nine, ten.") take their voice's role.
    segs = _pitched([
        ("How's the right shoulder today?", 110.0),
        ("It aches at night.", 165.0),
        ("Lie on your back, I'll start with joint mobilizations.", 112.0),
        ("Eight, nine, ten.", 163.0),
        ("Okay.", 108.0),
        ("I did my exercises every day.", 168.0),
    ])
    assert assign_roles(segs, AMBIENT) == ["therapist", "patient", "therapist", "patient", "therapist", "patient"]


def test_pitch_does_not_hard_code_which_voice_is_higher():
    segs = _pitched([
        ("How's the right shoulder today?", 200.0),
        ("It aches at night.", 120.0),
        ("Lie on your back, I'll start with joint mobilizations.", 205.0),
        ("Eight, nine, ten.", 118.0),
        ("I did my exercises every day.", 122.0),
    ])
    assert assign_roles(segs, AMBIENT) == ["therapist", "patient", "therapist", "patient", "patient"]


def test_close_pitches_fall_back_to_content():
    segs = _pitched([
        ("How's the right shoulder today?", 120.0),
        ("It aches at night.", 121.0),
        ("Lie on your back, I'll start with joint mobilizations.", 119.0),
        ("My arm is sore.", 122.0),
    ])
    assert assign_roles(segs, AMBIENT) == ["therapist", "patient", "therapist", "patient"]


def test_pitch_between_the_two_voices_lets_content_decide():
    # Two voices 7 semitones apart (100 Hz, 150 Hz); a line said halfway between them (a raised
    # question, a tired answer) takes the role its content points to, not the nearer voice.
    lines = [
        ("therapist", "How's the right wrist since last week?", 100.0),
        ("patient", "Stiff in the mornings, the pain is about 5/10 after I type.", 150.0),
        ("therapist", "Right wrist extension is 45 degrees, grip strength is 40 pounds.", 101.0),
        ("patient", "Is the scar supposed to feel this tight?", 149.0),
        ("therapist", "Oh no, and how's the left one?", 124.0),  # nearer the patient's voice
        ("patient", "My daughter has been doing all the cooking.", 121.0),  # nearer the therapist's voice
        ("therapist", "Pull the coins out of the putty with your right hand.", 99.0),
        ("patient", "This is harder than it looks.", 151.0),
    ]
    segs = _pitched([(t, p) for _, t, p in lines])
    assert assign_roles(segs, AMBIENT) == [r for r, _, _ in lines]
