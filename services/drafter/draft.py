"""The draft as a pure function of a session's segments so far and its context."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from proto import scribe_pb2 as pb
from services.drafter.embeddings import PrototypeClassifier, install_from_env
from services.drafter.note import draft_note
from services.drafter.roles import assign_roles

log = logging.getLogger("scribe.drafter")


def load_sentence_model() -> PrototypeClassifier | None:
    """Put the MiniLM sentence classifier behind the drafter's seam (SCRIBE_EMBEDDINGS=0: rules only)."""
    model = install_from_env()
    if model is None:
        log.warning("drafter: sentence model off or not installed; sectioning by rules only")
    return model


def build_draft(
    session_id: str,
    segments: Sequence[pb.TranscriptSegment],
    context: pb.SessionContext,
    *,
    is_final: bool,
    duration_s: float = 0.0,
) -> pb.DraftUpdate:
    """Order the segments, give each a speaker role, write the note. Same input, same draft."""
    spoken = [s for s in sorted(segments, key=lambda s: (s.seq, s.start_s)) if s.text.strip()]
    transcript = [pb.TranscriptSegment() for _ in spoken]
    for copy, seg in zip(transcript, spoken, strict=True):
        copy.CopyFrom(seg)
    for seg, role in zip(transcript, assign_roles(transcript, context), strict=True):
        seg.speaker = role
    return pb.DraftUpdate(
        session_id=session_id,
        version=len(segments),
        is_final=is_final,
        context=context,
        transcript=transcript,
        note=draft_note(transcript, context),
        duration_s=duration_s or (max((s.end_s for s in spoken), default=0.0)),
    )
