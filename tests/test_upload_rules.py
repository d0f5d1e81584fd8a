"""Audio uploads and WebSocket audio under hostile or mistaken input (issue 16), through the real HTTP
app: a decoded-duration cap, /healthz answering while a long upload is decoded and cut, an upload
while paused, the same upload twice, and an empty Opus packet on the WebSocket."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient, TestServer

from proto import scribe_pb2 as pb
from services.common import keys
from services.common.memory_bus import MemoryBus
from services.common.store import MemoryStore
from services.ingest.audio import decode_audio
from services.ingest.http import build_app
from services.ingest.service import IngestService
from tests.cases import case_audio, load_case, wav

TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CASE = load_case("pub-004")  # 63 s, 8 utterances
CONTEXT: dict[str, Any] = {**CASE["context"], "mode": CASE["mode"]}
HEALTHZ_WAIT_S = 2.0  # generous: a loop that is not blocked answers in milliseconds


def _silent_flac(path: Path, minutes: int) -> Path:
    """Digital silence as FLAC: a few KB a minute that decode to 1.9 MB a minute of PCM."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("flac", rate=16_000, layout="mono")
        minute = np.zeros((1, 16_000 * 60), np.int16)
        for _ in range(minutes):
            frame = av.AudioFrame.from_ndarray(minute, format="s16", layout="mono")
            frame.sample_rate = 16_000
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


@pytest.fixture(scope="module")
def three_hours_of_silence(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return _silent_flac(tmp_path_factory.mktemp("audio") / "silence.flac", 180).read_bytes()


class Api:
    def __init__(self, client: TestClient, ingest: IngestService, bus: MemoryBus) -> None:
        self.client, self.ingest, self.bus = client, ingest, bus

    async def start(self, body: dict[str, Any] | None = None) -> str:
        resp = await self.client.post("/v1/sessions", json=body or CONTEXT, headers=AUTH)
        assert resp.status == 201
        sid: str = (await resp.json())["session_id"]
        return sid

    async def put(self, sid: str, data: bytes) -> tuple[int, dict[str, Any]]:
        resp = await self.client.put(f"/v1/sessions/{sid}/audio", data=data, headers=AUTH)
        return resp.status, await resp.json()

    async def utterances(self, sid: str) -> list[pb.AudioChunk]:
        chunks = [pb.AudioChunk.FromString(p) for _id, p in await self.bus.entries(keys.UTTERANCES)]
        return [c for c in chunks if c.session_id == sid]


@pytest.fixture
async def api(request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    bus, store = MemoryBus(), MemoryStore()
    ingest = IngestService(bus, store, **getattr(request, "param", {}))
    client = TestClient(TestServer(build_app(ingest, bus, store, TOKEN)))
    await client.start_server()
    yield Api(client, ingest, bus)
    await client.close()


# --- decoded duration ------------------------------------------------------------------------------


@pytest.mark.parametrize("api", [{"max_audio_s": 60.0}], indirect=True)
async def test_audio_longer_than_the_cap_is_refused_with_413(api: Api, tmp_path: Path) -> None:
    sid = await api.start()
    status, body = await api.put(sid, _silent_flac(tmp_path / "long.flac", 3).read_bytes())
    assert status == 413
    assert body["error"] == ("upload is longer than the 1 minute allowed; split the recording and upload "
                             "the parts")
    assert await api.utterances(sid) == []
    status, _ = await api.put(sid, wav(decode_audio(case_audio(CASE["id"]))[: 50 * 16_000]))
    assert status == 202  # under the cap: taken; the refused upload left nothing behind
    stop = await (await api.client.post(f"/v1/sessions/{sid}/stop", headers=AUTH)).json()
    assert abs(stop["duration_s"] - 50.0) < 0.1


def test_the_decoder_stops_at_the_cap(tmp_path: Path) -> None:
    from services.ingest.audio import MAX_AUDIO_S, AudioTooLong

    assert MAX_AUDIO_S == 4 * 3600  # the documented default (SCRIBE_MAX_AUDIO_S is unset in tests)
    path = _silent_flac(tmp_path / "ten.flac", 10)
    with pytest.raises(AudioTooLong, match="longer than the 2 minutes allowed"):
        decode_audio(path, max_s=120)
    assert len(decode_audio(path)) == 10 * 60 * 16_000


def _poll_healthz(url: str, stop: threading.Event, answers: list[int], failures: list[str]) -> None:
    """Ask /healthz back to back from another thread (the test's own loop is the server's, so a blocked
    loop cannot delay the asking, only the answer)."""
    while not stop.is_set():
        try:
            with urllib.request.urlopen(url, timeout=HEALTHZ_WAIT_S) as resp:
                answers.append(resp.status)
        except OSError as exc:
            failures.append(type(exc).__name__)
        time.sleep(0.02)


async def test_healthz_answers_while_a_long_upload_is_decoded_and_cut(api: Api,
                                                                       three_hours_of_silence: bytes) -> None:
    """3 hours of silence in 2 MB of FLAC (under the 4-hour cap): decoding and VAD take seconds, off the
    event loop, so /healthz (and every other session) is answered meanwhile."""
    sid = await api.start()
    answers: list[int] = []
    failures: list[str] = []
    stop = threading.Event()
    poller = threading.Thread(target=_poll_healthz, args=(str(api.client.make_url("/healthz")), stop, answers,
                                                          failures))
    poller.start()
    try:
        status, body = await api.put(sid, three_hours_of_silence)
    finally:
        stop.set()
        await asyncio.to_thread(poller.join)
    assert status == 202 and body == {"utterances": 0}
    assert failures == []  # no /healthz went unanswered for HEALTHZ_WAIT_S
    assert len(answers) >= 3 and set(answers) == {200}  # and it was asked while the upload was in work
    stop_reply = await (await api.client.post(f"/v1/sessions/{sid}/stop", headers=AUTH)).json()
    assert abs(stop_reply["duration_s"] - 3 * 3600) < 1  # every second of it is on the session clock


# --- the session's state ---------------------------------------------------------------------------


async def test_upload_while_paused_is_refused_with_409_until_resumed(api: Api) -> None:
    audio = wav(decode_audio(case_audio(CASE["id"]))[: 20 * 16_000])
    sid = await api.start()
    assert (await api.client.post(f"/v1/sessions/{sid}/pause", headers=AUTH)).status == 200
    status, body = await api.put(sid, audio)
    assert status == 409
    assert body["error"] == f"session {sid} is paused: resume it (POST .../resume) before uploading audio"
    assert (await api.client.post(f"/v1/sessions/{sid}/resume", headers=AUTH)).status == 200
    status, body = await api.put(sid, audio)  # refused before: it may be sent again now
    assert status == 202 and body["utterances"] >= 1
    assert len(await api.utterances(sid)) == body["utterances"]
    assert all(len(c.pcm_s16le) and np.frombuffer(c.pcm_s16le, "<i2").any() for c in await api.utterances(sid))


async def test_the_same_upload_twice_is_taken_once(api: Api) -> None:
    pcm = decode_audio(case_audio(CASE["id"]))
    first, second = wav(pcm[: 30 * 16_000]), wav(pcm[30 * 16_000 :])
    sid = await api.start()
    status, body = await api.put(sid, first)
    assert status == 202
    taken = len(await api.utterances(sid))
    assert taken == body["utterances"] >= 1
    again_status, again = await api.put(sid, first)
    assert again_status == 409
    assert again["error"] == (f"this audio was already uploaded to session {sid} (identical content); "
                              "it was not added again")
    assert len(await api.utterances(sid)) == taken  # nothing appended
    assert (await api.put(sid, second))[0] == 202  # the next part of the recording is taken
    stop = await (await api.client.post(f"/v1/sessions/{sid}/stop", headers=AUTH)).json()
    assert abs(stop["duration_s"] - len(pcm) / 16_000) < 0.1  # billed once: 63 s, not 93
    other = await api.start()
    assert (await api.put(other, first))[0] == 202  # the rule is per session


async def test_two_identical_uploads_at_once_are_taken_once(api: Api) -> None:
    audio = wav(decode_audio(case_audio(CASE["id"]))[: 30 * 16_000])
    sid = await api.start()
    results = await asyncio.gather(api.put(sid, audio), api.put(sid, audio))
    assert sorted(status for status, _ in results) == [202, 409]
    stop = await (await api.client.post(f"/v1/sessions/{sid}/stop", headers=AUTH)).json()
    assert abs(stop["duration_s"] - 30.0) < 0.1


async def test_a_refused_upload_is_not_remembered_as_taken(api: Api) -> None:
    sid = await api.start()
    assert (await api.put(sid, b"not audio at all" * 64))[0] == 400
    assert (await api.put(sid, b"not audio at all" * 64))[0] == 400  # refused for what it is, not as a repeat


# --- the WebSocket ---------------------------------------------------------------------------------


async def test_an_empty_opus_packet_gets_an_error_and_the_socket_stays(api: Api) -> None:
    from tests.test_live_ws import _opus_packets

    sid = await api.start({"context": CONTEXT, "consent": True})
    packets = _opus_packets(decode_audio(case_audio(CASE["id"]))[: 4 * 16_000])
    async with api.client.ws_connect(f"/v1/sessions/{sid}/audio/ws?format=opus", headers=AUTH) as ws:
        await ws.send_bytes(packets[0])
        await ws.send_bytes(b"")
        assert await ws.receive_json(timeout=10) == {
            "type": "error", "error": "an empty Opus packet (send one non-empty packet per message)"}
        await ws.send_bytes(b"garbage" * 10)
        assert (await ws.receive_json(timeout=10))["error"] == "a message that is not an Opus packet"
        for packet in packets[1:]:  # the decoder still works after both
            await ws.send_bytes(packet)
        await ws.send_json({"type": "stop"})
        reply = await ws.receive_json(timeout=30)
    assert reply["type"] == "stopped" and abs(reply["duration_s"] - 4.0) < 0.1


async def test_a_stream_of_non_opus_messages_is_closed_with_a_reason(api: Api) -> None:
    sid = await api.start({"context": CONTEXT, "consent": True})
    async with api.client.ws_connect(f"/v1/sessions/{sid}/audio/ws?format=opus", headers=AUTH) as ws:
        for _ in range(60):
            await ws.send_bytes(b"")
        errors = 0
        while True:
            msg = await ws.receive(timeout=10)
            if msg.type != WSMsgType.TEXT:
                break
            errors += 1
        assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
        assert ws.close_code == 1003 and errors == 50
    assert api.ingest.is_open(sid)  # the session stays open for a client that sends audio
