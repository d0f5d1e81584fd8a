"""How an asr worker shares its one model between commits and best-effort partials, with the real
model: an utterance goes to a worker whose model is free, a new utterance's first partial goes
before refreshes and never rests, and partial decodes are capped in length."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import numpy as np

from proto import scribe_pb2 as pb
from services.asr.engine import TOKEN_ALLOWANCE, WhisperEngine
from services.asr.service import AsrService
from services.asr.streaming import PARTIAL_DECODE, DecodeGate
from services.common import keys
from services.common.bus import Delivery, DeliveryPolicy
from services.common.consumer import consume
from services.common.memory_bus import MemoryBus
from services.common.store import MemoryStore
from services.ingest.audio import decode_audio, pcm_to_float
from services.ingest.vad import cut_utterances
from tests.cases import case_audio, case_context, live_session_chunks, load_case


def _utterance_pcm(index: int = 1) -> np.ndarray:
    return cut_utterances(decode_audio(case_audio("pub-001")))[index].pcm


def _live(pcm: np.ndarray, session_id: str, seq: int, **extra: object) -> pb.AudioChunk:
    return pb.AudioChunk(session_id=session_id, seq=seq, start_s=10.0, end_s=10.0 + len(pcm) / 16_000,
                         sample_rate=16_000, pcm_s16le=pcm.astype("<i2").tobytes(), live=True,
                         sent_unix_s=time.time(), **extra)


async def _wait_for(check: object, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_an_utterance_goes_to_the_worker_whose_model_is_free(engine: WhisperEngine) -> None:
    """Worker A is busy with a best-effort decode: the utterance is decoded by B at once, not queued
    behind A's partial (both read the same stream)."""
    bus, store = MemoryBus(), MemoryStore()
    await store.put_context("s1", case_context(load_case("pub-001")))
    a = AsrService(bus, store, engine, consumer="asr-a")
    b = AsrService(bus, store, engine, consumer="asr-b")
    a.gate.several_sessions = True  # as its PartialDecoder sets it with partials of several sessions
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in (a, b)]
    try:
        async with a.gate.best_effort():  # as if A were decoding a long partial
            for seq in range(3):  # three in a row: a reader on A would have taken one of them
                await bus.publish(keys.UTTERANCES, _live(_utterance_pcm(), "s1", seq))

            async def all_out() -> bool:
                return len(await bus.entries(keys.SEGMENTS)) == 3

            await _wait_for(all_out)
            assert a.calls == 0 and b.calls == 3
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)


async def test_back_to_back_partials_leave_the_commit_reader_a_turn() -> None:
    """A worker with best-effort work queued back to back still takes a commit between two decodes."""
    bus, gate, stop = MemoryBus(), DecodeGate(), asyncio.Event()
    gate.several_sessions = True
    handled: list[bytes] = []
    decodes = 0

    async def handle(payload: bytes) -> None:
        handled.append(payload)

    async def partials() -> None:
        nonlocal decodes
        while not stop.is_set():
            async with gate.best_effort():
                await asyncio.sleep(0.05)  # a partial decode
                decodes += 1

    tasks = [asyncio.create_task(consume(bus, "u", "g", "c", handle, stop, stage="asr", guard=gate.taking_commits)),
             asyncio.create_task(partials())]
    try:
        await asyncio.sleep(0.2)
        await bus.publish("u", pb.TranscriptSegment(session_id="s1", seq=1))
        await asyncio.sleep(0.5)
        assert len(handled) == 1 and decodes >= 5  # both kinds of work went on
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)


async def test_a_worker_serving_one_session_reads_in_long_blocks_and_partials_do_not_wait() -> None:
    """No polling and no stepping aside while a worker serves one session; with several, a partial does
    not wait out the reader's long block either, and the reader then reads in short blocks."""
    bus, gate, stop = MemoryBus(DeliveryPolicy(block_s=1.0)), DecodeGate(), asyncio.Event()
    reads = 0
    read = bus.read

    async def counted_read(*args: Any, **kwargs: Any) -> list[Delivery]:
        nonlocal reads
        reads += 1
        return await read(*args, **kwargs)

    bus.read = counted_read  # type: ignore[method-assign]

    async def handle(payload: bytes) -> None:
        pass

    task = asyncio.create_task(consume(bus, "u", "g", "c", handle, stop, stage="asr", guard=gate.taking_commits))
    loop = asyncio.get_running_loop()
    try:
        await asyncio.sleep(0.3)
        assert reads == 1  # one read, waiting its whole block
        for several in (False, True):  # one session; then the first partial of a second one
            gate.several_sessions = several
            t0 = loop.time()
            async with gate.best_effort():
                assert loop.time() - t0 < 0.1
        await asyncio.sleep(1.0)  # the long read has ended
        before = reads
        await asyncio.sleep(0.3)
        assert reads - before >= 5  # short blocks now
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_a_first_partial_goes_before_refreshes_and_does_not_rest(engine: WhisperEngine) -> None:
    bus, store = MemoryBus(), MemoryStore()
    service = AsrService(bus, store, engine)
    assert service.partials is not None
    service.partials.duty = 0.001  # after one decode, refreshes rest for minutes
    pcm = _utterance_pcm()
    stop = asyncio.Event()
    task = asyncio.create_task(service.partials.run(stop))

    async def texts() -> list[pb.PartialTranscript]:
        return [pb.PartialTranscript.FromString(p) for _id, p in await bus.entries(keys.PARTIAL_TEXT)]

    try:
        # Pending together: a refresh (its utterance already on screen) and a new utterance's first partial.
        await bus.publish(keys.PARTIALS, _live(pcm, "s1", 1, is_partial=True))
        await bus.publish(keys.PARTIALS, _live(pcm[:16_000], "s2", 1, is_partial=True, first_partial=True))

        async def two() -> bool:
            return len(await texts()) >= 1

        await _wait_for(two)
        assert (await texts())[0].session_id == "s2"  # the first partial went first
        # The worker now rests from refreshes, but not from another utterance's first partial.
        await bus.publish(keys.PARTIALS, _live(pcm[:16_000], "s3", 1, is_partial=True, first_partial=True))

        async def s3_shown() -> bool:
            return any(t.session_id == "s3" for t in await texts())

        await _wait_for(s3_shown, timeout_s=5.0)
        assert not any(t.session_id == "s1" for t in await texts())  # the refresh still rests
    finally:
        stop.set()
        await bus.publish(keys.PARTIALS, pb.AudioChunk(session_id="wake", seq=0))  # end the blocking read
        await asyncio.wait_for(task, 10)


def test_a_partial_decode_stops_at_its_token_cap(engine: WhisperEngine) -> None:
    """A greedy partial cannot loop for seconds: the cap cuts it, keeping what came before."""
    audio = pcm_to_float(_utterance_pcm())
    full = engine.transcribe(audio, "", dataclasses.replace(PARTIAL_DECODE, tokens_per_s=None)).text.split()
    capped = engine.transcribe(audio, "", dataclasses.replace(PARTIAL_DECODE, tokens_per_s=0.1)).text.split()
    assert len(audio) / 16_000 * 0.1 + TOKEN_ALLOWANCE < len(full)  # the cap binds on this utterance
    assert 0 < len(capped) < len(full)
    assert capped[:-1] == full[: len(capped) - 1]  # greedy: the same start, cut short


async def test_ingest_marks_only_the_first_partial_of_each_utterance() -> None:
    partials, _commits = await live_session_chunks("pub-004", decode_audio(case_audio("pub-004"))[: 16_000 * 40])
    offers = [c for c in partials if not c.speculative]
    by_seq: dict[int, list[pb.AudioChunk]] = {}
    for c in offers:
        by_seq.setdefault(c.seq, []).append(c)
    assert len(by_seq) >= 3 and any(len(v) > 1 for v in by_seq.values())
    for chunks in by_seq.values():
        assert [c.first_partial for c in chunks] == [True] + [False] * (len(chunks) - 1)
