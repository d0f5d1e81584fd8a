"""Evidence integrity and needs_review on unsure measures."""

from __future__ import annotations

from proto import scribe_pb2 as pb
from services.drafter.evidence import needs_review, unsupported_numbers
from services.drafter.lexicon import SECTIONS
from services.drafter.note import draft_note

AMBIENT = pb.SessionContext(mode="ambient")


def words(spec: list[tuple[str, float]], start: float) -> list[pb.Word]:
    return [pb.Word(start_s=start + k * 0.3, end_s=start + k * 0.3 + 0.3, text=t, probability=p)
            for k, (t, p) in enumerate(spec)]


def check_integrity(transcript: list[pb.TranscriptSegment], note: pb.Note) -> None:
    by_span = {(s.start_s, s.end_s): s.text for s in transcript}
    for section in SECTIONS:
        for item in getattr(note, section):
            assert item.evidence, item.text
            texts = [by_span[(e.start_s, e.end_s)] for e in item.evidence]
            assert not unsupported_numbers(item.text, texts), item.text


def test_integrity_checker_catches_an_invented_number():
    assert unsupported_numbers("Flexion 110 degrees.", ["Flexion 100 degrees."]) == ["110"]
    assert unsupported_numbers("Time 13.4 seconds.", ["13.4 seconds, better"]) == []


def test_items_point_at_their_segments():
    transcript = [
        pb.TranscriptSegment(start_s=0, end_s=3, text="How's the right knee?", speaker="therapist"),
        pb.TranscriptSegment(start_s=3, end_s=6, text="Pain's about 2/10.", speaker="patient"),
        pb.TranscriptSegment(start_s=60, end_s=64, text="Right knee flexion 120 degrees.", speaker="therapist"),
    ]
    note = draft_note(transcript, AMBIENT)
    check_integrity(transcript, note)
    assert [(e.start_s, e.end_s) for e in note.objective[0].evidence] == [(60, 64)]
    assert (3, 6) in [(e.start_s, e.end_s) for e in note.subjective[0].evidence]


def test_unsure_measure_needs_review():
    seg = pb.TranscriptSegment(
        start_s=10, end_s=13, text="Right knee flexion 105 degrees.", speaker="therapist",
        raw_text="Right knee flexion one hundred five degrees.",
        words=words([("Right", 0.99), ("knee", 0.98), ("flexion", 0.97), ("one", 0.31), ("hundred", 0.9),
                     ("five", 0.42), ("degrees.", 0.95)], 10),
    )
    note = draft_note([seg], AMBIENT)
    assert note.objective[0].needs_review


def test_sure_measure_is_not_flagged_and_unsure_chatter_does_not_flag():
    sure = pb.TranscriptSegment(
        start_s=10, end_s=13, text="Right knee flexion 105 degrees.", speaker="therapist",
        words=words([("Right", 0.2), ("knee", 0.98), ("flexion", 0.97), ("one", 0.91), ("hundred", 0.9),
                     ("five", 0.92), ("degrees.", 0.95)], 10),
    )
    note = draft_note([sure], AMBIENT)
    assert not note.objective[0].needs_review
    assert not needs_review("Patient reports less pain.", [sure], 0.5)


def test_digits_from_the_recogniser_are_checked_too():
    seg = pb.TranscriptSegment(
        start_s=0, end_s=3, text="Grip strength 40 pounds.", speaker="therapist",
        words=words([("Grip", 0.9), ("strength", 0.9), ("40", 0.3), ("pounds.", 0.9)], 0),
    )
    assert draft_note([seg], AMBIENT).objective[0].needs_review
