"""WebSocket audio ingest (PCM at any rate and layout, Opus packets), token checks, and silence-only
live audio: no utterances, no partials, no Whisper calls."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import av
import numpy as np

from services.asr.engine import WhisperEngine
from services.common import keys
from services.common.context import context_to_dict
from services.common.memory_bus import MemoryBus
from services.common.store import MemoryStore
from services.evaluation.score import word_error_rate
from services.ingest.audio import decode_audio
from services.ingest.live_client import LiveClient
from services.pipeline import EMBEDDED_POLICY
from tests.cases import case_audio, case_context, load_case
from tests.test_live_stack import TOKEN, LiveStack

CASE = load_case("pub-011")


def _stack(engine: WhisperEngine, port: int) -> LiveStack:
    return LiveStack(MemoryBus(EMBEDDED_POLICY), MemoryStore(), engine, port)


def _to_48k_stereo(pcm: np.ndarray) -> bytes:
    resampler = av.AudioResampler(format="s16", layout="stereo", rate=48_000)
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = 16_000
    out = [*resampler.resample(frame), *resampler.resample(None)]
    return b"".join(bytes(f.to_ndarray().astype("<i2").tobytes()) for f in out)


def _opus_packets(pcm: np.ndarray) -> list[bytes]:
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48_000, "mono", "s16"  # type: ignore[attr-defined]
    resampler = av.AudioResampler(format="s16", layout="mono", rate=48_000, frame_size=960)
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = 16_000
    packets: list[bytes] = []
    for f in [*resampler.resample(frame), *resampler.resample(None)]:
        packets += [bytes(p) for p in encoder.encode(f)]
    return packets


async def _send_ws(stack: LiveStack, sid: str, query: str, messages: list[bytes]) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.ws_connect(
            f"{stack.url}/v1/sessions/{sid}/audio/ws?{query}", headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
        for i, msg in enumerate(messages):
            await ws.send_bytes(msg)
            if i % 50 == 0:
                await asyncio.sleep(0)  # let the server's reader run
        await ws.send_json({"type": "stop"})
        reply: dict[str, Any] = await ws.receive_json(timeout=60)
        return reply


async def _run(engine: WhisperEngine, port: int, fmt: str) -> tuple[dict[str, Any], dict[str, Any]]:
    pcm = decode_audio(case_audio(CASE["id"]))
    async with _stack(engine, port) as stack, LiveClient(stack.url, TOKEN) as client:
        sid = await client.start(context_to_dict(case_context(CASE)))
        if fmt == "pcm":
            data = _to_48k_stereo(pcm)
            step = 48_000 * 2 * 2 // 50 + 2  # 20 ms and a torn sample frame, which must be carried over
            messages = [data[i : i + step] for i in range(0, len(data), step)]
            reply = await _send_ws(stack, sid, "format=pcm&rate=48000&channels=2", messages)
        else:
            reply = await _send_ws(stack, sid, "format=opus", _opus_packets(pcm))
        result = await client.result(sid, wait_s=60)
        assert result is not None
        return reply, result


def _wer(result: dict[str, Any]) -> float:
    hyp = " ".join(s["text"] for s in result["transcript"])
    return word_error_rate(" ".join(s["text"] for s in CASE["segments"]), hyp)


def test_websocket_pcm_48k_stereo(engine: WhisperEngine, free_port: int) -> None:
    reply, result = asyncio.run(_run(engine, free_port, "pcm"))
    assert reply["type"] == "stopped" and reply["last_seq"] >= 2
    assert abs(reply["duration_s"] - CASE_DURATION_S) < 0.1  # the timeline is exactly the audio sent
    assert len(result["transcript"]) == reply["last_seq"] + 1
    assert _wer(result) < 0.3


def test_websocket_opus(engine: WhisperEngine, free_port: int) -> None:
    reply, result = asyncio.run(_run(engine, free_port, "opus"))
    assert reply["type"] == "stopped" and reply["last_seq"] >= 2
    assert _wer(result) < 0.3


CASE_DURATION_S = len(decode_audio(case_audio(CASE["id"]))) / 16_000


async def _tokens(engine: WhisperEngine, port: int) -> list[int]:
    async with _stack(engine, port) as stack, LiveClient(stack.url, TOKEN) as client:
        sid = await client.start(context_to_dict(case_context(CASE)))
        statuses = []
        async with aiohttp.ClientSession() as http:
            ws_url = f"{stack.url}/v1/sessions/{sid}/audio/ws"
            for headers in ({}, {"Authorization": "Bearer wrong"}):
                async with http.get(ws_url, headers=headers) as resp:
                    statuses.append(resp.status)
            async with http.get(f"{ws_url}?token={TOKEN}") as resp:  # the right token, but in the URL
                statuses.append(resp.status)
            async with http.post(f"{stack.url}/v1/sessions", json={"context": context_to_dict(case_context(CASE))},
                                 headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
                statuses.append(resp.status)  # no consent
            async with http.get(f"{stack.url}/v1/sessions/{sid}/events") as resp:
                statuses.append(resp.status)
        await client.stop(sid)
        return statuses


def test_every_live_route_needs_the_token_and_live_needs_consent(engine: WhisperEngine, free_port: int) -> None:
    assert asyncio.run(_tokens(engine, free_port)) == [401, 401, 400, 403, 401]


async def _silence(engine: WhisperEngine, port: int) -> tuple[dict[str, Any], LiveStack, dict[str, Any]]:
    async with _stack(engine, port) as stack, LiveClient(stack.url, TOKEN) as client:
        sid = await client.start(context_to_dict(case_context(CASE)))
        silence = np.zeros(16_000 * 30, dtype=np.int16).astype("<i2").tobytes()
        reply = await _send_ws(stack, sid, "format=pcm&rate=16000&channels=1",
                               [silence[i : i + 640] for i in range(0, len(silence), 640)])
        result = await client.result(sid, wait_s=30)
        assert result is not None
        assert await stack.bus.entries(keys.UTTERANCES) == [] and await stack.bus.entries(keys.PARTIALS) == []
        return reply, stack, result


def test_silence_only_gives_no_segments_and_no_whisper_calls(engine: WhisperEngine, free_port: int) -> None:
    reply, stack, result = asyncio.run(_silence(engine, free_port))
    assert reply["last_seq"] == -1 and abs(reply["duration_s"] - 30.0) < 0.05
    assert stack.asr.calls == 0 and stack.asr.decoded_seconds == 0.0
    assert result["transcript"] == [] and result["codes"] == []
