"""WebRTC ingest with aiortc: one RTCPeerConnection per session, HTTP signalling, no STUN/TURN by default.

Server: POST /v1/sessions/{id}/webrtc with the client's SDP offer; `WebRtcIngest.answer` returns the
answer (ICE candidates gathered in it, so one round trip is enough). Each received audio frame
(Opus decoded by aiortc: 48 kHz stereo s16, 20 ms) is resampled to 16 kHz mono and fed to the
session. A connection that fails or closes detaches from the session, which stays open.

ICE host candidates are gathered on every non-loopback interface whatever the API's --host: aiortc
1.16/aioice 0.13 offer no way to choose them (README "Live capture" says what to do instead).

Client: `FileTrack` plays an audio file as a microphone would, paced in real time (or `speed` x),
for `scribe stream` and the tests.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from fractions import Fraction

import av
import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCSessionDescription,
)
from aiortc.exceptions import InvalidAccessError, InvalidStateError, OperationError
from aiortc.jitterbuffer import JitterBuffer
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import SessionDescription

from services.common.errors import InputError
from services.ingest.audio import SAMPLE_RATE
from services.ingest.live import Resampler
from services.ingest.outbox import BufferFull
from services.ingest.service import IngestService, UnknownSession

log = logging.getLogger("scribe.webrtc")

FRAME_SAMPLES = SAMPLE_RATE // 50  # 20 ms, what a browser sends
# aiortc holds 4 audio packets (80 ms) before decoding the oldest, a playout cushion; we never play
# audio out, and a missing packet still holds back the ones after it whatever the prefetch, so one
# packet is enough and the words reach the VAD 60 ms sooner.
AUDIO_PREFETCH = 1
_JITTER_ATTR = "_RTCRtpReceiver__jitter_buffer"  # aiortc 1.x keeps it private; no option exists
# A track whose connection never came up is not ended by closing it (aiortc ends a receiver's track
# only once it started): its pump is cancelled after this long instead of waiting forever.
PUMP_END_S = 1.0
# What aiortc raises on an offer it parsed but cannot use (fuzzing found an offer without a=setup
# giving AttributeError on the missing DTLS role, one without codecs giving OperationError): each is
# the offer's fault (the connection is new), answered with 400.
OFFER_ERRORS = (ValueError, AssertionError, AttributeError, KeyError, IndexError, TypeError, av.error.FFmpegError,
                InvalidAccessError, InvalidStateError, OperationError)


def check_offer(sdp: str) -> None:
    """InputError unless aiortc's SDP parser takes the text (it asserts, indexes and converts freely,
    so a malformed offer raises almost anything: AssertionError, IndexError, KeyError, ValueError)."""
    try:
        SessionDescription.parse(sdp)
    except Exception as exc:  # any failure of a pure parser means the text is bad
        raise InputError(f"unusable SDP offer ({type(exc).__name__} while parsing it)") from None


def hold_less_audio(receiver: RTCRtpReceiver) -> bool:
    """Shrink an audio receiver's prefetch before packets arrive. False if aiortc no longer has it."""
    buffer = getattr(receiver, _JITTER_ATTR, None)
    if not isinstance(buffer, JitterBuffer):
        log.warning("aiortc's audio jitter buffer not found: keeping its default prefetch")
        return False
    setattr(receiver, _JITTER_ATTR, JitterBuffer(capacity=buffer.capacity, prefetch=AUDIO_PREFETCH))
    return True


def ice_servers_from_env(value: str | None = None) -> list[RTCIceServer]:
    """SCRIBE_ICE_SERVERS: empty (clinic LAN, host candidates only), a comma-separated list of
    stun:/turn: URLs, or a JSON list of {"urls", "username", "credential"} objects."""
    raw = (value if value is not None else os.environ.get("SCRIBE_ICE_SERVERS", "")).strip()
    if not raw:
        return []
    if raw.startswith("["):
        try:
            return [RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
                    for s in json.loads(raw)]
        except (ValueError, KeyError, TypeError):
            raise InputError("SCRIBE_ICE_SERVERS is not a JSON list of {urls, username, credential}") from None
    return [RTCIceServer(urls=u.strip()) for u in raw.split(",") if u.strip()]


class WebRtcIngest:
    """Answers offers and pumps each session's incoming audio track into the ingest service."""

    def __init__(self, ingest: IngestService, ice_servers: list[RTCIceServer] | None = None) -> None:
        self.ingest = ingest
        self.ice_servers = ice_servers or []
        self._peers: dict[str, RTCPeerConnection] = {}
        self._pumps: dict[asyncio.Task[None], RTCPeerConnection] = {}

    async def answer(self, session_id: str, sdp: str, kind: str = "offer") -> RTCSessionDescription:
        capture = self.ingest.capture(session_id)
        if capture is None or not capture.live:
            raise UnknownSession(f"no open live session {session_id}")
        if kind != "offer":
            raise InputError("expected an SDP offer")
        check_offer(sdp)
        old = self._peers.pop(session_id, None)
        if old is not None:  # a reconnect replaces the previous connection
            await self._end(old)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=self.ice_servers))
        self._peers[session_id] = pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                for receiver in pc.getReceivers():
                    if receiver.track is track:
                        hold_less_audio(receiver)
                task = asyncio.create_task(self._pump(session_id, track, pc))
                self._pumps[task] = pc
                task.add_done_callback(lambda t: self._pumps.pop(t, None))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await pc.close()  # ends the track, so the pump detaches

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
            await pc.setLocalDescription(await pc.createAnswer())
        except OFFER_ERRORS as exc:
            await self._end(pc)
            self._peers.pop(session_id, None)
            raise InputError(f"unusable SDP offer ({type(exc).__name__})") from None
        return pc.localDescription

    async def _end(self, pc: RTCPeerConnection) -> None:
        """Close a connection and see its pump end (cancelled if its track never started)."""
        await pc.close()
        pumps = [task for task, owner in self._pumps.items() if owner is pc]
        if not pumps:
            return
        _done, pending = await asyncio.wait(pumps, timeout=PUMP_END_S)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _pump(self, session_id: str, track: MediaStreamTrack, pc: RTCPeerConnection) -> None:
        resampler = Resampler()
        self.ingest.attach(session_id)
        try:
            await self._receive(session_id, track, pc, resampler)
        except UnknownSession:
            await pc.close()  # the session was stopped: nothing more to receive
            return
        except asyncio.CancelledError:  # closed before its track ever started (see _end)
            await self.ingest.detach(session_id, resampler.flush())
            raise
        await self.ingest.detach(session_id, resampler.flush())
        if self._peers.get(session_id) is pc:
            del self._peers[session_id]

    async def _receive(self, session_id: str, track: MediaStreamTrack, pc: RTCPeerConnection,
                       resampler: Resampler) -> None:
        try:
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    break
                if isinstance(frame, av.AudioFrame):
                    await self.ingest.add_audio(session_id, resampler.frame(frame))
        except BufferFull:
            # Redis is away and the held audio is at its bound: end the call rather than lose audio
            # unseen; the session stays open and the client can reconnect once Redis is back.
            log.warning("webrtc: ingest buffer full while Redis is away; closing the connection of %s", session_id)
            await pc.close()

    async def close(self, session_id: str | None = None) -> None:
        """Close one session's connection (stop) or all of them (shutdown)."""
        sids = [session_id] if session_id else list(self._peers)
        for sid in sids:
            pc = self._peers.pop(sid, None)
            if pc is not None:
                await self._end(pc)
        if session_id is None and self._pumps:
            await asyncio.gather(*self._pumps, return_exceptions=True)


class FileTrack(MediaStreamTrack):
    """16 kHz mono PCM played as a live microphone: 20 ms frames, `speed` x real time.

    After the audio, `tail_s` of silence flushes what is still in the network and the jitter buffer.
    `sent_at(t)` maps a time of the audio to the wall time it was sent (for latency figures).
    """

    kind = "audio"

    def __init__(self, pcm: np.ndarray, speed: float = 1.0, tail_s: float = 1.0) -> None:
        super().__init__()
        tail = np.zeros(int(tail_s * SAMPLE_RATE), dtype=np.int16)
        self._pcm = np.concatenate([pcm.astype(np.int16, copy=False), tail])
        self.speed = speed
        self.audio_s = len(pcm) / SAMPLE_RATE
        self._sent = 0
        self.started_at: float | None = None  # wall time (time.time) of the first frame
        self.finished = asyncio.Event()

    def sent_at(self, audio_s: float) -> float:
        assert self.started_at is not None
        return self.started_at + audio_s / self.speed

    async def recv(self) -> av.AudioFrame:
        if self._sent >= len(self._pcm):
            self.finished.set()
            self.stop()
            raise MediaStreamError
        if self.started_at is None:
            self.started_at = time.time()
        due = self.started_at + self._sent / SAMPLE_RATE / self.speed
        delay = due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        chunk = self._pcm[self._sent : self._sent + FRAME_SAMPLES]
        if len(chunk) < FRAME_SAMPLES:
            chunk = np.pad(chunk, (0, FRAME_SAMPLES - len(chunk)))
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._sent
        frame.time_base = Fraction(1, SAMPLE_RATE)
        self._sent += FRAME_SAMPLES
        return frame


async def connect_track(track: MediaStreamTrack, signal: object,
                        ice_servers: list[RTCIceServer] | None = None) -> RTCPeerConnection:
    """Client side: offer `track`, hand the offer to `signal(sdp, type) -> (sdp, type)`, apply the answer."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=ice_servers or []))
    pc.addTrack(track)
    await pc.setLocalDescription(await pc.createOffer())
    sdp, kind = await signal(pc.localDescription.sdp, pc.localDescription.type)  # type: ignore[operator]
    await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
    return pc
