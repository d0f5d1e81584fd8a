"""Coder stage: draft updates in, coding results out; the final one is kept for clients."""

from __future__ import annotations

import asyncio

from proto import scribe_pb2 as pb
from services.coder import activity
from services.coder.coding import apply_dismissals, code_draft
from services.coder.rules import CodingRules, load_default_rules
from services.common import keys, metrics
from services.common.bus import Bus
from services.common.consumer import consume
from services.common.messages import check_draft
from services.common.store import SessionStore


class CoderService:
    stage = "coder"

    def __init__(self, bus: Bus, store: SessionStore, rules: CodingRules | None = None,
                 consumer: str = "coder-1") -> None:
        self.bus = bus
        self.store = store
        self.rules = rules or load_default_rules()
        self.consumer = consumer

    async def run(self, stop: asyncio.Event) -> None:
        # The activity classifier's sentence model, loaded off the event loop before the first draft.
        await asyncio.to_thread(activity.install_from_env)
        await consume(self.bus, keys.DRAFTS, keys.GROUP_CODER, self.consumer, self.handle, stop, stage=self.stage)

    async def handle(self, payload: bytes) -> None:
        draft = check_draft(pb.DraftUpdate.FromString(payload))  # refused as bad input, not a crash
        with metrics.CODING_SECONDS.time():
            result = code_draft(draft, self.rules)
        dismissals = await self.store.dismissals(draft.session_id)
        if dismissals:
            result = apply_dismissals(result, dismissals)
        await self.bus.publish(keys.CODES, result)
        if draft.is_final:
            # A session may be drafted final twice (its stop and its last segment): count its note once.
            first = await self.store.get_result(draft.session_id) is None
            await self.store.put_result(result)
            if first:
                metrics.NOTES_FINAL.labels(metrics.ended_label(draft.end_reason)).inc()
