"""Live ingest lifecycle (consent, pause, resume, detach, idle stop), and the LiveStack the other
live tests run: the ingest API on a free port with the real asr, drafter and coder services."""

from __future__ import annotations

import asyncio
from types import TracebackType

import numpy as np
import pytest
from aiohttp import web

from proto import scribe_pb2 as pb
from services.asr.engine import WhisperEngine
from services.asr.service import AsrService
from services.coder.service import CoderService
from services.common import keys
from services.common.bus import Bus
from services.common.memory_bus import MemoryBus
from services.common.store import MemoryStore, SessionStore
from services.drafter.service import DrafterService
from services.ingest.http import build_app
from services.ingest.service import ConsentRequired, IngestService
from services.pipeline import EMBEDDED_POLICY
from tests.cases import case_context, load_case

TOKEN = "live-test-token"


class LiveStack:
    """`async with LiveStack(bus, store, engine, port) as stack:` every stage, ingest served over HTTP."""

    def __init__(self, bus: Bus, store: SessionStore, engine: WhisperEngine, port: int) -> None:
        self.bus, self.store = bus, store
        self.ingest = IngestService(bus, store)
        self.asr = AsrService(bus, store, engine)
        self.url = f"http://127.0.0.1:{port}"
        self._port = port
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> LiveStack:
        self._runner = web.AppRunner(build_app(self.ingest, self.bus, self.store, TOKEN))
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self._port).start()
        stages = (self.asr, DrafterService(self.bus, self.store), CoderService(self.bus, self.store))
        self._tasks = [asyncio.create_task(s.run(self._stop)) for s in stages]
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        assert self._runner is not None
        await self._runner.cleanup()
        self._stop.set()
        await asyncio.gather(*self._tasks)
        await self.bus.close()
        await self.store.close()

    async def utterances(self) -> list[pb.AudioChunk]:
        return [pb.AudioChunk.FromString(p) for _id, p in await self.bus.entries(keys.UTTERANCES)]


def _tone(seconds: float, hz: float = 220.0, rate: int = 16_000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * hz * t) * 8000).astype(np.int16)


async def test_live_session_needs_consent() -> None:
    ingest = IngestService(MemoryBus(EMBEDDED_POLICY), MemoryStore())
    ctx = case_context(load_case("pub-001"))
    with pytest.raises(ConsentRequired):
        await ingest.start_session(ctx, live=True)
    sid = await ingest.start_session(ctx, live=True, consent=True)
    assert ingest.is_open(sid)


async def test_audio_while_paused_is_silence_on_a_running_clock() -> None:
    bus = MemoryBus(EMBEDDED_POLICY)
    ingest = IngestService(bus, MemoryStore())
    sid = await ingest.start_session(case_context(load_case("pub-001")), live=True, consent=True)
    silence = np.zeros(16_000, dtype=np.int16)
    await ingest.add_audio(sid, silence)
    await ingest.pause(sid)
    await ingest.add_audio(sid, _tone(3.0))  # said while paused: must not reach the transcript
    await ingest.resume(sid)
    await ingest.add_audio(sid, silence)
    stop = await ingest.stop_session(sid)
    assert stop.last_seq == -1 and await bus.entries(keys.UTTERANCES) == []
    assert stop.duration_s >= 5.0  # the paused 3 s stay on the timeline
    kinds = [pb.SessionEvent.FromString(p).kind for _id, p in await bus.entries(keys.SESSIONS)]
    assert kinds == [pb.SessionEvent.STARTED, pb.SessionEvent.PAUSED, pb.SessionEvent.RESUMED,
                     pb.SessionEvent.STOPPED]


async def test_a_detached_session_stays_open_and_an_idle_one_is_finalised() -> None:
    bus = MemoryBus(EMBEDDED_POLICY)
    ingest = IngestService(bus, MemoryStore())
    sid = await ingest.start_session(case_context(load_case("pub-001")), live=True, consent=True)
    ingest.attach(sid)
    await ingest.add_audio(sid, np.zeros(8000, dtype=np.int16))
    await ingest.detach(sid)
    assert ingest.is_open(sid)
    assert await ingest.stop_idle(idle_s=3600) == []
    assert await ingest.stop_idle(idle_s=0.0) == [sid]
    assert not ingest.is_open(sid)
    stops = [e for e in (pb.SessionEvent.FromString(p) for _id, p in await bus.entries(keys.SESSIONS))
             if e.kind == pb.SessionEvent.STOPPED]
    assert [e.session_id for e in stops] == [sid]
