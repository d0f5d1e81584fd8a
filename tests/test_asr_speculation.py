"""Speculative commits: ingest offers an utterance that has just gone quiet, a worker decodes it as
the commit would be, and the commit reuses that result only when no speech followed."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from proto import scribe_pb2 as pb
from services.asr.engine import WhisperEngine
from services.asr.service import AsrService
from services.asr.speculation import Speculations, speculation_key
from services.common import keys
from services.common.memory_bus import MemoryBus
from services.common.store import MemoryStore, RedisStore, SessionStore
from services.ingest.audio import decode_audio
from services.ingest.vad import cut_utterances
from tests.cases import case_audio, case_context, live_session_chunks, load_case


def _chunk(pcm: np.ndarray, speech_end_s: float, **extra: object) -> pb.AudioChunk:
    return pb.AudioChunk(session_id="s1", seq=3, start_s=10.0, end_s=10.0 + len(pcm) / 16_000, sample_rate=16_000,
                         pcm_s16le=pcm.astype("<i2").tobytes(), speech_end_s=speech_end_s, live=True, **extra)


async def _service(engine: WhisperEngine) -> tuple[AsrService, MemoryBus]:
    bus, store = MemoryBus(), MemoryStore()
    await store.put_context("s1", case_context(load_case("pub-001")))
    return AsrService(bus, store, engine), bus


async def test_a_commit_with_no_speech_after_the_speculation_reuses_it(engine: WhisperEngine) -> None:
    utt = cut_utterances(decode_audio(case_audio("pub-001")))[1]
    service, bus = await _service(engine)
    quiet_for_150ms = utt.pcm[: len(utt.pcm) - 16_000 * 15 // 100]
    spec = _chunk(quiet_for_150ms, 12.5, is_partial=True, speculative=True)
    assert service.partials is not None and service.partials.speculate is not None
    text = await service.partials.speculate(spec)
    calls = service.calls
    await service.handle(_chunk(utt.pcm, 12.5, speculation_end_s=spec.end_s).SerializeToString())
    (entry,) = await bus.entries(keys.SEGMENTS)
    seg = pb.TranscriptSegment.FromString(entry[1])
    assert service.calls == calls and service.speculations.reused == 1  # no second decode
    assert seg.text == text and "3/10" in seg.text
    assert seg.seq == 3 and seg.start_s == 10.0 and seg.end_s == 10.0 + len(utt.pcm) / 16_000
    assert seg.speech_end_s == 12.5


async def test_speech_after_the_speculation_means_a_fresh_decode(engine: WhisperEngine) -> None:
    utts = cut_utterances(decode_audio(case_audio("pub-001")))
    service, bus = await _service(engine)
    assert service.partials is not None and service.partials.speculate is not None
    await service.partials.speculate(_chunk(utts[1].pcm[:16_000], 11.0, is_partial=True, speculative=True))
    calls = service.calls
    await service.handle(_chunk(utts[1].pcm, 12.5).SerializeToString())  # speech went on: ingest names none
    seg = pb.TranscriptSegment.FromString((await bus.entries(keys.SEGMENTS))[0][1])
    assert service.calls == calls + 1 and service.speculations.reused == 0
    assert "3/10" in seg.text


def _pair() -> tuple[pb.AudioChunk, pb.AudioChunk]:
    """A speculative chunk and the commit that names it."""
    spec = _chunk(np.zeros(1600, np.int16), 11.0, is_partial=True, speculative=True)
    return spec, _chunk(np.zeros(3200, np.int16), 11.0, speculation_end_s=spec.end_s)


async def _claim_after(store: SessionStore, delay_s: float, wait_s: float) -> pb.TranscriptSegment | None:
    spec = Speculations(store, wait_s=wait_s)
    chunk, commit = _pair()
    await spec.started(chunk)

    async def finish() -> None:
        await asyncio.sleep(delay_s)
        await spec.finished(chunk, pb.TranscriptSegment(session_id="s1", seq=3, start_s=10.0, end_s=10.1, text="ok"))

    task = asyncio.create_task(finish())
    got = await spec.claim(commit)
    await task
    return got


async def test_a_commit_waits_for_a_speculation_in_progress_but_not_forever(redis_url: str) -> None:
    store = RedisStore(redis_url)
    try:
        got = await _claim_after(store, 0.2, wait_s=1.0)
        assert got is not None and got.text == "ok"
        assert await store.take_speculation("s1", speculation_key(_pair()[1])) is None  # taken
        assert await _claim_after(store, 0.5, wait_s=0.1) is None  # the speculating worker is too slow
    finally:
        await store.close()


async def test_files_and_commits_naming_no_speculation_are_decoded() -> None:
    spec = Speculations(MemoryStore())
    chunk, commit = _pair()
    await spec.started(chunk)
    commit.live = False
    assert await spec.claim(commit) is None
    commit.live, commit.speculation_end_s = True, 0.0
    assert await spec.claim(commit) is None


async def test_ingest_offers_each_pause_once_and_each_commit_names_its_speculation() -> None:
    """Fed a dictation in 20 ms frames, ingest offers each pause once, and each commit names the
    speculation offered when its speech ended."""
    partials, commits = await live_session_chunks("pub-004", decode_audio(case_audio("pub-004"))[: 16_000 * 40])
    specs = [c for c in partials if c.speculative]
    assert commits and specs
    spec_keys = [speculation_key(c) for c in specs]
    assert len(spec_keys) == len(set(spec_keys))
    assert all(c.speculation_end_s > 0 for c in commits)  # every pause was offered, no speech after it
    assert {speculation_key(c) for c in commits} <= set(spec_keys)
    assert all(c.is_partial and c.live and len(c.pcm_s16le) > 0 for c in specs)


async def _live_commits(pcm: np.ndarray) -> tuple[list[pb.AudioChunk], list[pb.AudioChunk]]:
    """(speculative chunks, commits) of one live session fed `pcm` in 20 ms frames, then stopped."""
    partials, commits = await live_session_chunks("pub-001", pcm, stop=True)
    return [c for c in partials if c.speculative], commits


async def test_speech_after_a_speculation_makes_the_commit_name_none_or_a_later_one() -> None:
    speech = cut_utterances(decode_audio(case_audio("pub-001")))[1].pcm[: -16_000 * 45 // 100]  # no end pad
    gap = np.zeros(16_000 * 15 // 100, np.int16)  # a pause too short to end the utterance
    half = len(speech) // 2
    pcm = np.concatenate([speech[:half], gap, speech[half:]])
    # Stopped while still speaking: the speculation from the pause does not stand for the commit.
    specs, (commit,) = await _live_commits(pcm)
    assert any(s.end_s < commit.end_s - 0.5 for s in specs) and commit.speculation_end_s == 0
    # The same speech, then silence: the commit names the speculation offered when it ended.
    specs, (commit,) = await _live_commits(np.concatenate([pcm, np.zeros(16_000, np.int16)]))
    assert commit.speculation_end_s == max(s.end_s for s in specs)


async def _run_partials(service: AsrService, bus: MemoryBus, chunks: list[pb.AudioChunk], texts: int) -> None:
    """Run the worker's partial decoder on `chunks` until `texts` partial texts are out (or 30 s)."""
    assert service.partials is not None
    for c in chunks:
        await bus.publish(keys.PARTIALS, c)
    stop = asyncio.Event()
    task = asyncio.create_task(service.partials.run(stop))
    for _ in range(1500):
        if len(await bus.entries(keys.PARTIAL_TEXT)) >= texts:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await bus.publish(keys.PARTIALS, pb.AudioChunk(session_id="wake", seq=0))  # end the blocking read
    await asyncio.wait_for(task, 10)


def _live_partial(pcm: np.ndarray, session_id: str, speculative: bool) -> pb.AudioChunk:
    chunk = _chunk(pcm, 12.5, is_partial=True, speculative=speculative, sent_unix_s=time.time())
    chunk.session_id = session_id
    return chunk


async def test_an_idle_worker_speculates_a_busy_one_leaves_it_to_the_commit(engine: WhisperEngine) -> None:
    utt = cut_utterances(decode_audio(case_audio("pub-001")))[1]
    service, bus = await _service(engine)
    await service.store.put_context("s2", case_context(load_case("pub-001")))
    spec = _live_partial(utt.pcm, "s1", speculative=True)
    # Alone on the worker: decoded as the commit would be, and left in the store.
    await _run_partials(service, bus, [spec], texts=1)
    assert await service.store.take_speculation("s1", speculation_key(spec))
    # Another session's partial waiting beside it: the worker serves several sessions, no speculation.
    await _run_partials(service, bus, [_live_partial(utt.pcm[:16_000], "s2", False), spec], texts=2)
    assert await service.store.take_speculation("s1", speculation_key(spec)) is None
    assert service.partials is not None and service.partials.skipped >= 1
