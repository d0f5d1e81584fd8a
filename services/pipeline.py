"""Embedded mode: every stage in one process, joined by the in-memory bus.

The same service objects as the distributed deployment; only the bus and store differ.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any

from proto import scribe_pb2 as pb
from services.asr.engine import WhisperEngine
from services.asr.service import AsrService
from services.coder.rules import CodingRules
from services.coder.service import CoderService
from services.common.bus import DeliveryPolicy
from services.common.errors import InputError
from services.common.memory_bus import MemoryBus
from services.common.results import wait_for_result
from services.common.store import MemoryStore
from services.drafter.service import DrafterService
from services.ingest.service import IngestService

# In one process a failed entry is a bug, not a dead worker: retry soon, give up soon. The idle bound
# stays well above one decode (a 25 s utterance under load), so a slow decode is never done twice.
EMBEDDED_POLICY = DeliveryPolicy(claim_idle_s=10.0, max_deliveries=3, block_s=0.2)


class StageStopped(RuntimeError):
    """A stage of the embedded pipeline ended before the session's result."""


def default_asr_workers() -> int:
    # One single-threaded model per core beats one multi-threaded model.
    return max(1, min(2, os.cpu_count() or 1))


class EmbeddedPipeline:
    """Use as `async with EmbeddedPipeline(...) as p: result = await p.run_file(path, ctx)`."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        asr_workers: int | None = None,
        rules: CodingRules | None = None,
        engines: list[WhisperEngine] | None = None,
    ) -> None:
        self.bus = MemoryBus(EMBEDDED_POLICY)
        self.store = MemoryStore()
        n = asr_workers or default_asr_workers()
        self.engines = engines or [WhisperEngine(model_path) for _ in range(n)]
        self.ingest = IngestService(self.bus, self.store)
        self.asr = [AsrService(self.bus, self.store, e, consumer=f"asr-{i + 1}") for i, e in enumerate(self.engines)]
        self.drafter = DrafterService(self.bus, self.store)
        self.coder = CoderService(self.bus, self.store, rules)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> EmbeddedPipeline:
        self._stop.clear()
        stages: list[AsrService | DrafterService | CoderService] = [*self.asr, self.drafter, self.coder]
        self._tasks = [asyncio.create_task(s.run(self._stop), name=s.stage) for s in stages]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def run_file(self, audio: str | Path | bytes, context: pb.SessionContext,
                       timeout_s: float = 3600.0) -> pb.CodingResult:
        sid = await self.ingest.start_session(context)
        try:
            await self.ingest.add_file(sid, audio)
        finally:
            await self.ingest.stop_session(sid)
        return await self._unless_a_stage_stops(wait_for_result(self.bus, self.store, sid, timeout_s))

    async def _unless_a_stage_stops(self, waiting: Coroutine[Any, Any, pb.CodingResult]) -> pb.CodingResult:
        """The result, or the reason a stage stopped before it (a stage that cannot start, such as a
        drafter given a folder with no sentence model, would otherwise leave the wait to its timeout)."""
        result = asyncio.ensure_future(waiting)
        done, _ = await asyncio.wait([result, *self._tasks], return_when=asyncio.FIRST_COMPLETED)
        if result in done:
            return result.result()
        result.cancel()
        stopped = next(t for t in self._tasks if t.done())
        exc = None if stopped.cancelled() else stopped.exception()
        if isinstance(exc, InputError):
            raise exc
        # Only the exception's type: a stage's own message may quote what it was working on.
        raise StageStopped(f"the {stopped.get_name()} stage stopped ({type(exc).__name__ if exc else 'ended'})"
                           ) from exc
