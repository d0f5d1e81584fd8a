"""Checks on a message read off the bus before a stage acts on it.

Messages on the bus come from our own stages, but Redis is a boundary: a message written by another
version, by hand, or damaged must be refused as bad input (StageFailure: acked and reported on
scribe:errors, services/common/consumer.py), not crash the stage and be retried until dead-lettered.
Found by tests/test_fuzz_inputs.py. Messages never carry their text into an error (patient words).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from proto import scribe_pb2 as pb
from services.common.consumer import StageFailure
from services.common.context import context_from_dict, context_to_dict
from services.common.errors import ContextError


def check_context(session_id: str, ctx: pb.SessionContext) -> None:
    """The context a message carries is one the ingest API would have accepted."""
    try:
        context_from_dict({**context_to_dict(ctx), "date": ctx.date}, source="the message's context")
    except ContextError as exc:
        raise StageFailure(session_id, "bad_message", str(exc)) from None


def check_times(session_id: str, what: str, values: Iterable[float]) -> None:
    """Session-clock times are finite and not negative (NaN would poison every sum and comparison)."""
    if not all(math.isfinite(v) and v >= 0 for v in values):
        raise StageFailure(session_id, "bad_message", f"{what} has a time that is negative or not a number")


def check_segment(session_id: str, segment: pb.TranscriptSegment) -> None:
    times = [segment.start_s, segment.end_s, segment.speech_end_s]
    times += [t for w in segment.words for t in (w.start_s, w.end_s)]
    check_times(session_id, f"segment {segment.seq}", times)


def check_draft(draft: pb.DraftUpdate) -> pb.DraftUpdate:
    """A draft fit for the coder: a valid context, finite times, a duration."""
    check_context(draft.session_id, draft.context)
    check_times(draft.session_id, "the draft", [draft.duration_s])
    for segment in draft.transcript:
        check_segment(draft.session_id, segment)
    notes = (draft.note.subjective, draft.note.objective, draft.note.assessment, draft.note.plan)
    spans = [t for items in notes for item in items for e in item.evidence for t in (e.start_s, e.end_s)]
    check_times(draft.session_id, "the draft's note", spans)
    return draft
