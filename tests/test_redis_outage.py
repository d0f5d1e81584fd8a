"""Redis going away under ingest (real Redis, stopped and started again): audio is held in order and
sent when it is back, refused with a clear 503 past its bound, and requests that need Redis get 503s."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import numpy as np
import redis
from aiohttp.test_utils import TestClient, TestServer

from proto import scribe_pb2 as pb
from services.common import keys
from services.common.redis_bus import RedisBus
from services.common.store import RedisStore
from services.ingest.audio import SAMPLE_RATE, decode_audio
from services.ingest.http import build_app
from services.ingest.live import LiveCutter
from services.ingest.service import IngestService
from services.ingest.vad import VadOptions
from tests.cases import case_audio, load_case, wav
from tests.redis_server import PrivateRedis

TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CASE = load_case("pub-004")  # 63 s, 8 utterances
BOUND = 1024 * 1024  # bytes of held audio before new audio is refused


async def _ingest_client(url: str, bound: int) -> tuple[TestClient, IngestService]:
    bus, store = RedisBus(url), RedisStore(url)
    ingest = IngestService(bus, store, buffer_bytes=bound)
    client = TestClient(TestServer(build_app(ingest, bus, store, TOKEN)))
    await client.start_server()
    return client, ingest


async def _drained(ingest: IngestService, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while ingest.outbox.holding:
        assert time.monotonic() < deadline, "held writes were never sent after Redis came back"
        await asyncio.sleep(0.05)


def _utterance_seqs(url: str, session_id: str) -> list[int]:
    client = redis.Redis.from_url(url)
    try:
        chunks = [pb.AudioChunk.FromString(f[b"m"]) for _id, f in client.xrange(keys.UTTERANCES)]
    finally:
        client.close()
    return [c.seq for c in chunks if c.session_id == session_id]


def _expected_utterances(pcm: np.ndarray) -> int:
    cutter = LiveCutter(VadOptions())
    return len(cutter.feed(pcm)) + len(cutter.flush())


async def test_ingest_holds_audio_while_redis_is_away_and_sends_it_in_order(private_redis: PrivateRedis) -> None:
    pcm = decode_audio(case_audio("pub-004"))
    first, second, third = pcm[: 10 * SAMPLE_RATE], pcm[10 * SAMPLE_RATE: 30 * SAMPLE_RATE], pcm[30 * SAMPLE_RATE:]
    client, ingest = await _ingest_client(private_redis.url, BOUND)
    try:
        created = await client.post("/v1/sessions", json={**CASE["context"], "mode": CASE["mode"]}, headers=AUTH)
        sid = (await created.json())["session_id"]
        assert (await client.put(f"/v1/sessions/{sid}/audio", data=wav(first), headers=AUTH)).status == 202

        private_redis.stop()
        held = await client.put(f"/v1/sessions/{sid}/audio", data=wav(second), headers=AUTH)
        assert held.status == 202  # taken and held, not refused
        assert ingest.outbox.holding
        result = await client.get(f"/v1/sessions/{sid}/result", headers=AUTH)
        assert result.status == 503 and result.headers["Retry-After"]
        assert "Redis" in (await result.json())["error"]
        refused = await client.put(f"/v1/sessions/{sid}/audio", data=wav(third), headers=AUTH)
        assert refused.status == 503 and refused.headers["Retry-After"]  # past the bound: said, not dropped
        assert "retry" in (await refused.json())["error"]
        stopped = await client.post(f"/v1/sessions/{sid}/stop", headers=AUTH)
        assert stopped.status == 202

        private_redis.start()
        await _drained(ingest)
    finally:
        await client.close()

    seqs = _utterance_seqs(private_redis.url, sid)
    expected = _expected_utterances(np.concatenate([first, second]))  # the refused part is not in the session
    assert seqs == list(range(expected))  # every utterance once, in order
    check = redis.Redis.from_url(private_redis.url)
    try:
        stop = pb.SessionEvent.FromString(check.get(keys.session_key(sid, "stop")))
        kinds = [pb.SessionEvent.FromString(f[b"m"]).kind for _id, f in check.xrange(keys.SESSIONS)]
    finally:
        check.close()
    assert stop.last_seq == expected - 1
    assert kinds == [pb.SessionEvent.STARTED, pb.SessionEvent.STOPPED]


async def test_websocket_audio_past_the_bound_gets_an_error_and_try_again_later(
        private_redis: PrivateRedis) -> None:
    pcm = decode_audio(case_audio("pub-004"))
    client, ingest = await _ingest_client(private_redis.url, 256 * 1024)
    try:
        body = {"context": {**CASE["context"], "mode": CASE["mode"]}, "consent": True}
        sid = (await (await client.post("/v1/sessions", json=body, headers=AUTH)).json())["session_id"]
        private_redis.stop()
        ws = await client.ws_connect(f"/v1/sessions/{sid}/audio/ws?format=pcm&rate=16000&channels=1",
                                     headers=AUTH)
        for start in range(0, len(pcm), SAMPLE_RATE // 2):
            try:
                await ws.send_bytes(pcm[start: start + SAMPLE_RATE // 2].astype("<i2").tobytes())
            except (ConnectionError, aiohttp.ClientError):
                break  # the server refused and closed
        msg = await ws.receive(timeout=30)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        error = json.loads(msg.data)
        assert error["type"] == "error" and error["retry_after_s"]
        closing = await ws.receive(timeout=5)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == aiohttp.WSCloseCode.TRY_AGAIN_LATER
        assert ingest.is_open(sid)  # the session stays open for a reconnect

        private_redis.start()
        await _drained(ingest)
    finally:
        await client.close()
    seqs = _utterance_seqs(private_redis.url, sid)
    assert seqs and seqs == list(range(len(seqs)))
