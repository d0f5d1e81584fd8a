"""Drafter stage: committed segments and session events in, draft updates out.

State lives in the session store, keyed by (session, seq); the draft is recomputed from it on
every event, so a redelivered segment or a second drafter worker changes nothing.
"""

from __future__ import annotations

import asyncio

from proto import scribe_pb2 as pb
from services.common import keys, metrics
from services.common.bus import Bus
from services.common.consumer import StageFailure, consume
from services.common.store import SessionStore
from services.drafter.draft import build_draft, load_sentence_model


class DrafterService:
    stage = "drafter"

    def __init__(self, bus: Bus, store: SessionStore, consumer: str = "drafter-1") -> None:
        self.bus = bus
        self.store = store
        self.consumer = consumer

    async def run(self, stop: asyncio.Event) -> None:
        # Loaded off the event loop and before the first draft, while the ASR stage decodes.
        await asyncio.to_thread(load_sentence_model)
        await asyncio.gather(
            consume(self.bus, keys.SEGMENTS, keys.GROUP_DRAFTER, self.consumer, self.handle_segment, stop,
                    stage=self.stage),
            consume(self.bus, keys.SESSIONS, keys.GROUP_DRAFTER, self.consumer, self.handle_event, stop,
                    stage=self.stage),
        )

    async def handle_segment(self, payload: bytes) -> None:
        segment = pb.TranscriptSegment.FromString(payload)
        await self.store.put_segment(segment)
        await self.redraft(segment.session_id)

    async def handle_event(self, payload: bytes) -> None:
        event = pb.SessionEvent.FromString(payload)
        if event.kind == pb.SessionEvent.STOPPED:
            await self.redraft(event.session_id)

    async def redraft(self, session_id: str) -> pb.DraftUpdate:
        context = await self.store.get_context(session_id)
        if context is None:
            raise StageFailure(session_id, "unknown_session", "segment for a session that was never started")
        segments = await self.store.segments(session_id)
        stop = await self.store.get_stop(session_id)
        # Final once every utterance announced at stop has its segment (segments are keyed by seq).
        is_final = stop is not None and len(segments) == stop.last_seq + 1
        with metrics.DRAFT_SECONDS.time():
            draft = build_draft(
                session_id, segments, context, is_final=is_final, duration_s=stop.duration_s if stop else 0.0
            )
        if stop is not None:
            draft.end_reason = stop.end_reason  # how the session ended, for the result (never patient words)
        await self.bus.publish(keys.DRAFTS, draft)
        return draft
