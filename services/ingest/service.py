"""Ingest stage: session lifecycle and audio in; VAD-cut utterances out on the bus.

A session's capture state (the VAD cutter and the next sequence number) lives in the ingest
process that receives its audio; everything downstream is stateless per utterance.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from proto import scribe_pb2 as pb
from services.common import keys
from services.common.bus import Bus
from services.common.errors import InputError
from services.common.store import SessionStore
from services.ingest.audio import SAMPLE_RATE, decode_audio
from services.ingest.vad import Utterance, UtteranceCutter, VadOptions


class UnknownSession(InputError):
    """Audio or a stop for a session this ingest does not hold open."""


@dataclass
class Capture:
    session_id: str
    cutter: UtteranceCutter
    next_seq: int = 0
    utterances: list[tuple[float, float]] = field(default_factory=list)


class IngestService:
    stage = "ingest"

    def __init__(self, bus: Bus, store: SessionStore, vad: VadOptions | None = None) -> None:
        self.bus = bus
        self.store = store
        self.vad = vad or VadOptions()
        self._captures: dict[str, Capture] = {}

    async def start_session(self, context: pb.SessionContext, session_id: str | None = None) -> str:
        sid = session_id or uuid.uuid4().hex
        if sid in self._captures:
            raise InputError(f"session {sid} is already open")
        # Context goes to the store before any audio, so every later stage can read it.
        await self.store.put_context(sid, context)
        self._captures[sid] = Capture(sid, UtteranceCutter(self.vad))
        await self.bus.publish(
            keys.SESSIONS, pb.SessionEvent(session_id=sid, kind=pb.SessionEvent.STARTED, context=context)
        )
        return sid

    async def add_audio(self, session_id: str, pcm: np.ndarray) -> int:
        """Feed 16 kHz mono int16 audio; publishes every utterance it completes. Returns how many."""
        capture = self._capture(session_id)
        return await self._publish(capture, capture.cutter.feed(pcm))

    async def add_file(self, session_id: str, source: str | Path | bytes) -> int:
        """Decode a whole audio file (any common format) into the session."""
        self._capture(session_id)  # fail before decoding if the session is unknown
        # Decoding a long file takes a while: keep the event loop (and other sessions) responsive.
        pcm = await asyncio.to_thread(decode_audio, source)
        return await self.add_audio(session_id, pcm)

    async def stop_session(self, session_id: str) -> pb.SessionEvent:
        capture = self._capture(session_id)
        await self._publish(capture, capture.cutter.flush())
        event = pb.SessionEvent(
            session_id=session_id,
            kind=pb.SessionEvent.STOPPED,
            last_seq=capture.next_seq - 1,
            duration_s=capture.cutter.clock_s,
        )
        # The stop marker is stored before it is announced: a drafter that sees the event
        # (or any later segment) also sees the marker.
        await self.store.put_stop(event)
        await self.bus.publish(keys.SESSIONS, event)
        del self._captures[session_id]
        return event

    def is_open(self, session_id: str) -> bool:
        return session_id in self._captures

    def _capture(self, session_id: str) -> Capture:
        try:
            return self._captures[session_id]
        except KeyError:
            raise UnknownSession(f"no open session {session_id}") from None

    async def _publish(self, capture: Capture, utterances: list[Utterance]) -> int:
        for utt in utterances:
            chunk = pb.AudioChunk(
                session_id=capture.session_id,
                seq=capture.next_seq,
                start_s=utt.start_s,
                end_s=utt.end_s,
                sample_rate=SAMPLE_RATE,
                pcm_s16le=utt.pcm.astype("<i2").tobytes(),
            )
            await self.bus.publish(keys.UTTERANCES, chunk)
            capture.utterances.append((utt.start_s, utt.end_s))
            capture.next_seq += 1
        return len(utterances)
