"""WebRTC loopback (two aiortc peers in one process) into the real services on the real Redis:
committed segments and the live feed, a client that disconnects and comes back, a stalled client."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

from services.asr.engine import WhisperEngine
from services.common.context import context_to_dict
from services.common.redis_bus import RedisBus
from services.common.store import RedisStore
from services.evaluation.score import word_error_rate
from services.ingest.audio import decode_audio
from services.ingest.live_client import LiveClient
from services.ingest.webrtc import AUDIO_PREFETCH, FileTrack, hold_less_audio
from tests.cases import case_audio, case_context, load_case
from tests.test_live_stack import TOKEN, LiveStack

CASE = load_case("pub-004")
SPEED = 4.0  # faster than real time keeps the test short; bench/live.py measures real time


def _stack(redis_url: str, engine: WhisperEngine, port: int) -> LiveStack:
    return LiveStack(RedisBus(redis_url), RedisStore(redis_url), engine, port)


async def _collect(client: LiveClient, sid: str, out: list[dict[str, Any]]) -> None:
    async for event in client.events(sid):
        out.append(event)


async def _stream_case(redis_url: str, engine: WhisperEngine, port: int) -> tuple[list[dict[str, Any]], Any, int]:
    pcm = decode_audio(case_audio(CASE["id"]))
    async with _stack(redis_url, engine, port) as stack, LiveClient(stack.url, TOKEN) as client:
        sid = await client.start(context_to_dict(case_context(CASE)))
        events: list[dict[str, Any]] = []
        feed = asyncio.create_task(_collect(client, sid, events))
        pc, track = await client.stream_webrtc(sid, pcm, speed=SPEED)
        await track.finished.wait()
        await asyncio.sleep(0.3)
        await pc.close()
        stop = await client.stop(sid)
        await asyncio.wait_for(feed, 120)
        result = await client.result(sid, wait_s=30)
        return events, result, int(stop["last_seq"])


def test_webrtc_loopback_gives_committed_segments_and_a_live_feed(redis_url: str, engine: WhisperEngine,
                                                                   free_port: int) -> None:
    events, result, last_seq = asyncio.run(_stream_case(redis_url, engine, free_port))
    segments = [e for e in events if e["type"] == "segment"]
    assert last_seq >= 3 and sorted(s["seq"] for s in segments) == list(range(last_seq + 1))
    assert any(e["type"] == "partial" for e in events)
    assert events[-1]["type"] == "codes" and events[-1]["is_final"]
    assert result is not None and result["codes"]
    hyp = " ".join(s["text"] for s in result["transcript"])
    ref = " ".join(s["text"] for s in CASE["segments"])
    assert word_error_rate(ref, hyp) < 0.3
    for seg, gold in zip(result["transcript"], CASE["segments"], strict=False):
        assert abs(seg["start_s"] - gold["at_s"]) < 1.5  # session clock survives Opus and resampling


class _StallingTrack(FileTrack):
    """Sends its audio, then neither sends nor hangs up (a frozen client)."""

    async def recv(self):  # type: ignore[no-untyped-def]
        try:
            return await super().recv()
        except MediaStreamError:
            await asyncio.Event().wait()
            raise


async def _disconnect_then_resume(redis_url: str, engine: WhisperEngine, port: int) -> dict[str, Any]:
    pcm = decode_audio(case_audio(CASE["id"]))
    half = len(pcm) // 2
    async with _stack(redis_url, engine, port) as stack, LiveClient(stack.url, TOKEN) as client:
        sid = await client.start(context_to_dict(case_context(CASE)))
        pc, track = await client.stream_webrtc(sid, pcm[:half], speed=SPEED)
        await track.finished.wait()
        await asyncio.sleep(0.3)
        await pc.close()  # the client goes away mid-session
        capture = stack.ingest.capture(sid)
        assert capture is not None
        while capture.connections:  # noqa: ASYNC110 - the server notices and detaches; the session stays open
            await asyncio.sleep(0.05)
        kept = len(await stack.utterances())
        assert kept >= 1 and stack.ingest.is_open(sid)
        pc, track = await client.stream_webrtc(sid, pcm[half:], speed=SPEED)  # reconnect and go on
        await track.finished.wait()
        await asyncio.sleep(0.3)
        await pc.close()
        stop = await client.stop(sid)
        assert stop["last_seq"] + 1 > kept
        result = await client.result(sid, wait_s=60)
        assert result is not None
        return result


def test_a_client_that_disconnects_keeps_its_audio_and_can_resume(redis_url: str, engine: WhisperEngine,
                                                                   free_port: int) -> None:
    result = asyncio.run(_disconnect_then_resume(redis_url, engine, free_port))
    hyp = " ".join(s["text"] for s in result["transcript"])
    ref = " ".join(s["text"] for s in CASE["segments"])
    assert word_error_rate(ref, hyp) < 0.35  # both halves are in the transcript


async def _stalled(redis_url: str, engine: WhisperEngine, port: int) -> tuple[dict[str, Any], int]:
    pcm = decode_audio(case_audio(CASE["id"]))[: 16_000 * 20]
    async with _stack(redis_url, engine, port) as stack, LiveClient(stack.url, TOKEN) as client:
        sid = await client.start(context_to_dict(case_context(CASE)))
        track = _StallingTrack(pcm, speed=SPEED)
        pc = await client.connect(sid, track)
        await asyncio.sleep(len(pcm) / 16_000 / SPEED + 1.5)  # everything sent, then the client freezes
        stop = await client.stop(sid)  # the clinician stops it from another device
        result = await client.result(sid, wait_s=60)
        await pc.close()
        assert result is not None
        return result, int(stop["last_seq"])


def test_a_stalled_client_can_be_stopped_with_what_was_received(redis_url: str, engine: WhisperEngine,
                                                                 free_port: int) -> None:
    result, last_seq = asyncio.run(_stalled(redis_url, engine, free_port))
    assert last_seq >= 1 and len(result["transcript"]) == last_seq + 1
    assert np.isclose(result["transcript"][0]["start_s"], CASE["segments"][0]["at_s"], atol=1.5)


def test_the_audio_receiver_holds_one_packet_not_four() -> None:
    """The hook into aiortc's private jitter buffer still finds it (an aiortc upgrade could move it)."""

    async def check() -> None:
        pc = RTCPeerConnection()
        try:
            receiver = pc.addTransceiver("audio", direction="recvonly").receiver
            assert hold_less_audio(receiver)
            assert receiver._RTCRtpReceiver__jitter_buffer._prefetch == AUDIO_PREFETCH == 1  # type: ignore[attr-defined]
        finally:
            await pc.close()

    asyncio.run(check())
