"""Ingest stage: session lifecycle and audio in; VAD-cut utterances out on the bus.

A session's capture state (the VAD cutter and the next sequence number) lives in the ingest
process that receives its audio; everything downstream is stateless per utterance.

Live sessions (WebRTC / WebSocket) also publish the growing prefix of the open utterance about
once a second on scribe:partials, and keep the session clock on the wall clock across pauses and
disconnects: audio received while paused counts as silence, and a gap (pause or disconnect) is
filled with silence when audio resumes, so time blocks stay exact. Silence is never sent to Whisper.

Every write to the bus and store goes through an Outbox (services/ingest/outbox.py): while Redis is
away, audio is still taken and its utterances held, in order, up to a bound in bytes; audio past the
bound is refused with BufferFull before any of it is taken.

Uploaded files (add_file) are decoded and cut off the event loop, so other sessions' audio and
`/healthz` are answered meanwhile; their decoded duration is capped (services/ingest/audio.py). An
upload is refused (SessionConflict), with nothing taken, while the session is paused (a recording
cannot be "paused": resume first), and when its bytes are identical to an upload the session already
took (a retried or repeated PUT would otherwise count the same minutes twice). Each capture's audio
is taken under one lock, so two uploads, a pause or a stop never interleave inside the VAD cutter.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from proto import scribe_pb2 as pb
from services.common import keys, metrics
from services.common.bus import Bus
from services.common.errors import InputError
from services.common.store import SessionStore
from services.ingest.audio import MAX_AUDIO_S, SAMPLE_RATE, decode_pieces
from services.ingest.live import LIVE_VAD, LiveCutter, OpenUtterance
from services.ingest.outbox import DEFAULT_MAX_BYTES, Outbox
from services.ingest.vad import Utterance, VadOptions

PARTIAL_EVERY_S = 1.0  # session time between two partials of one open utterance
PARTIAL_MIN_S = 0.5  # no partial for a shorter open utterance (0.35 s of speech after the 0.15 s lead pad)
# Quiet this long by the quick VAD, an open utterance is offered for a speculative commit decode
# (services/asr/speculation.py): the commit itself waits for LIVE_VAD's 300 ms, and a decode started
# now is mostly done by then. Shorter offers more speculations that speech then makes useless.
SPECULATE_AFTER_S = 0.06
GAP_FILL_CHUNK = SAMPLE_RATE * 10  # silence is fed in 10 s pieces so the loop stays responsive
# Audio longer than this is cut by the VAD in a worker thread: a live frame is cheaper to cut in place
# than to hand over, an uploaded hour would hold the event loop for seconds.
CUT_OFF_LOOP_SAMPLES = SAMPLE_RATE * 5
# A session started while Redis is away has no STARTED entry id yet; its feed reads from this long
# before now instead (Redis stamps the entry later, by its own clock, which may differ a little).
HELD_START_MARGIN_MS = 60_000


class UnknownSession(InputError):
    """Audio or a stop for a session this ingest does not hold open."""


class ConsentRequired(InputError):
    """A live session was started without the patient's recorded consent."""


class SessionConflict(InputError):
    """Audio the session's state refuses (paused, or already received): HTTP 409, nothing taken."""


@dataclass
class Capture:
    session_id: str
    cutter: LiveCutter
    next_seq: int = 0
    utterances: list[tuple[float, float]] = field(default_factory=list)
    live: bool = False
    start_entry_id: str = "0-0"  # the STARTED event on scribe:sessions: where a feed starts reading
    paused: bool = False
    gap_from: float | None = None  # wall time a pause or disconnect began (None: audio flowing)
    gap_audio_s: float = 0.0  # audio received since gap_from (counted as silence while paused)
    connections: int = 0
    last_activity: float = field(default_factory=time.monotonic)
    last_partial_end_s: float = 0.0
    speculation: Speculation | None = None  # the last one offered
    uploads: set[str] = field(default_factory=set)  # SHA-256 of every file upload taken (or being taken)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # held while audio goes through the cutter


@dataclass(frozen=True)
class Speculation:
    seq: int
    end_s: float  # where the speculative chunk ended
    voiced_end_s: float  # the quick VAD's last speech before it: later speech makes it useless


class IngestService:
    stage = "ingest"

    def __init__(self, bus: Bus, store: SessionStore, vad: VadOptions | None = None,
                 live_vad: VadOptions | None = None, buffer_bytes: int = DEFAULT_MAX_BYTES,
                 max_audio_s: float = MAX_AUDIO_S, ingest_id: str | None = None) -> None:
        """vad: cutting rules for uploaded files; live_vad: for live capture (ends utterances sooner);
        buffer_bytes: how much audio is held while Redis is away before new audio is refused;
        max_audio_s: the longest file upload (decoded duration) taken;
        ingest_id: this process's heartbeat id: its open sessions are recorded under it, so they are
        finalised if it dies (services/common/retention.py); None: not recorded (embedded mode)."""
        self.bus = bus
        self.store = store
        self.ingest_id = ingest_id
        self.outbox = Outbox(bus, buffer_bytes)
        self.max_audio_s = max_audio_s
        self.vad = vad or VadOptions()
        self.live_vad = live_vad or LIVE_VAD
        self._captures: dict[str, Capture] = {}
        self.clinic = metrics.clinic_from_env()  # a label value only (services/common/metrics.py)
        self._audio_in = metrics.AUDIO_SECONDS_IN.labels(self.clinic)
        self._open_gauge = metrics.SESSIONS_OPEN.labels(self.clinic)

    async def start_session(self, context: pb.SessionContext, session_id: str | None = None, *,
                            live: bool = False, consent: bool = False) -> str:
        """Open a session. A live session (audio streamed as it is spoken) needs consent=True."""
        if live and not consent:
            raise ConsentRequired("a live session needs the patient's consent (\"consent\": true)")
        sid = session_id or uuid.uuid4().hex
        if sid in self._captures:
            raise InputError(f"session {sid} is already open")
        # Context goes to the store before any audio, so every later stage can read it.
        await self.outbox.send(functools.partial(self.store.put_context, sid, context), context.ByteSize())
        if self.ingest_id:
            await self.outbox.send(functools.partial(self.store.mark_open, sid, self.ingest_id))
        capture = Capture(sid, LiveCutter(self.live_vad if live else self.vad), live=live)
        self._captures[sid] = capture
        metrics.SESSIONS_STARTED.labels(self.clinic, "live" if live else "upload").inc()
        self._open_gauge.set(len(self._captures))
        started = pb.SessionEvent(session_id=sid, kind=pb.SessionEvent.STARTED, context=context)
        entry_id = await self.outbox.send(functools.partial(self.bus.publish, keys.SESSIONS, started),
                                          started.ByteSize())
        capture.start_entry_id = entry_id or f"{max(0, int(time.time() * 1000) - HELD_START_MARGIN_MS)}-0"
        return sid

    async def add_audio(self, session_id: str, pcm: np.ndarray, *, tail: bool = False) -> int:
        """Feed 16 kHz mono int16 audio; publishes every utterance it completes. Returns how many.

        Raises BufferFull, having taken none of it, when Redis is away and the held audio is at its
        bound. tail: a decoder's last few samples at a disconnect or stop, always taken.
        """
        async with self._locked(session_id) as capture:
            return await self._take(capture, [pcm], tail=tail)

    async def _take(self, capture: Capture, pieces: list[np.ndarray], tail: bool = False) -> int:
        """Audio (in pieces, in order) through the cutter; every completed utterance published."""
        if not tail:
            self.outbox.admit(sum(p.nbytes for p in pieces))
        capture.last_activity = time.monotonic()
        self._audio_in.inc(sum(len(p) for p in pieces) / SAMPLE_RATE)
        if capture.gap_from is not None:
            if capture.paused:
                capture.gap_audio_s += sum(len(p) for p in pieces) / SAMPLE_RATE
                # paused: the clock runs, the words are dropped
                pieces = [np.zeros(len(p), dtype=np.int16) for p in pieces]
            else:
                await self._fill_gap(capture)
        n = await self._publish(capture, await _cut(capture.cutter, pieces))
        if capture.live:
            await self._maybe_partial(capture)
            await self._maybe_speculate(capture)
        return n

    async def pause(self, session_id: str) -> None:
        async with self._locked(session_id) as capture:
            if not capture.paused:
                await self._publish(capture, capture.cutter.flush())  # what was said before the pause is kept
                capture.paused = True
                capture.gap_from, capture.gap_audio_s = capture.gap_from or time.monotonic(), 0.0
                await self._announce(pb.SessionEvent(session_id=session_id, kind=pb.SessionEvent.PAUSED))

    async def resume(self, session_id: str) -> None:
        async with self._locked(session_id) as capture:
            await self._resume(capture)

    async def _resume(self, capture: Capture) -> None:
        if capture.paused:
            capture.paused = False
            await self._fill_gap(capture)
            await self._announce(pb.SessionEvent(session_id=capture.session_id, kind=pb.SessionEvent.RESUMED))

    def attach(self, session_id: str) -> Capture:
        """A live connection (WebRTC or WebSocket) starts sending audio for the session."""
        capture = self._capture(session_id)
        capture.connections += 1
        capture.last_activity = time.monotonic()
        return capture

    async def detach(self, session_id: str, tail: np.ndarray | None = None) -> None:
        """A connection ended (closed or lost). What was received is kept and the session stays open:
        the client can reconnect and go on, or stop it. The gap until then becomes silence."""
        capture = self._captures.get(session_id)
        if capture is None:
            return
        if tail is not None and len(tail):
            await self.add_audio(session_id, tail, tail=True)
        capture.connections = max(0, capture.connections - 1)
        capture.last_activity = time.monotonic()
        if capture.connections == 0 and capture.gap_from is None:
            capture.gap_from, capture.gap_audio_s = time.monotonic(), 0.0

    async def stop_idle(self, idle_s: float) -> list[str]:
        """Finalise sessions with no connection and no audio for idle_s (a client that vanished, or an
        upload never stopped), marked "idle" so the result says it was not stopped."""
        now = time.monotonic()
        idle = [c.session_id for c in self._captures.values()
                if c.connections == 0 and now - c.last_activity > idle_s]
        for sid in idle:
            await self.stop_session(sid, end_reason="idle")
        return idle

    def capture(self, session_id: str) -> Capture | None:
        return self._captures.get(session_id)

    async def add_file(self, session_id: str, source: str | Path | bytes) -> int:
        """Decode a whole audio file (any common format) into the session; returns its utterances.

        SessionConflict, with nothing taken, while the session is paused or when the same bytes were
        taken before; AudioTooLong past max_audio_s of decoded audio."""
        capture = self._capture(session_id)  # fail before decoding if the session is unknown
        _refuse_if_paused(capture)
        # Hashing and decoding a long file take a while: off the event loop, so other sessions (and
        # /healthz) are answered meanwhile.
        digest = await asyncio.to_thread(_content_digest, source)
        if digest in capture.uploads:
            raise SessionConflict(f"this audio was already uploaded to session {session_id} (identical "
                                  "content); it was not added again")
        capture.uploads.add(digest)  # claimed before decoding: an identical PUT racing this one is refused
        try:
            pieces = await asyncio.to_thread(decode_pieces, source, self.max_audio_s)
            async with self._locked(session_id) as capture:
                _refuse_if_paused(capture)  # paused while it decoded
                return await self._take(capture, pieces)
        except BaseException:
            capture.uploads.discard(digest)  # nothing was taken: the same file may be sent again
            raise

    async def stop_session(self, session_id: str, end_reason: str = "") -> pb.SessionEvent:
        """end_reason: "" when the client stops it, else why ingest did (SessionEvent.end_reason)."""
        async with self._locked(session_id) as capture:
            if capture.paused:
                await self._resume(capture)  # a session stopped while paused: its clock runs to now
            await self._publish(capture, capture.cutter.flush())
            event = pb.SessionEvent(
                session_id=session_id,
                kind=pb.SessionEvent.STOPPED,
                last_seq=capture.next_seq - 1,
                duration_s=capture.cutter.clock_s,
                end_reason=end_reason,
            )
            # The stop marker is stored before it is announced: a drafter that sees the event
            # (or any later segment) also sees the marker.
            await self.outbox.send(functools.partial(self.store.put_stop, event), event.ByteSize())
            await self._announce(event)
            if self.ingest_id:
                await self.outbox.send(functools.partial(self.store.mark_closed, session_id))
            del self._captures[session_id]
            self._open_gauge.set(len(self._captures))
            return event

    async def close(self) -> None:
        """Shutting down: give writes held for Redis a last chance to go out."""
        await self.outbox.close()

    async def _announce(self, event: pb.SessionEvent) -> None:
        await self.outbox.send(functools.partial(self.bus.publish, keys.SESSIONS, event), event.ByteSize())

    def is_open(self, session_id: str) -> bool:
        return session_id in self._captures

    def _capture(self, session_id: str) -> Capture:
        try:
            return self._captures[session_id]
        except KeyError:
            raise UnknownSession(f"no open session {session_id}") from None

    @contextlib.asynccontextmanager
    async def _locked(self, session_id: str) -> AsyncIterator[Capture]:
        """The open capture, held alone: audio, a pause or a stop waits for the one before to finish."""
        capture = self._capture(session_id)
        async with capture.lock:
            if self._captures.get(session_id) is not capture:  # stopped while this one waited
                raise UnknownSession(f"no open session {session_id}")
            yield capture

    async def _fill_gap(self, capture: Capture) -> None:
        assert capture.gap_from is not None
        missing = int((time.monotonic() - capture.gap_from - capture.gap_audio_s) * SAMPLE_RATE)
        capture.gap_from, capture.gap_audio_s = None, 0.0
        while missing > 0:
            n = min(missing, GAP_FILL_CHUNK)
            await self._publish(capture, capture.cutter.feed(np.zeros(n, dtype=np.int16)))
            missing -= n
            await asyncio.sleep(0)

    async def _maybe_partial(self, capture: Capture) -> None:
        """Publish the open utterance's prefix about once a second while someone is speaking."""
        open_utt = capture.cutter.open_utterance()
        if open_utt is None or not open_utt.speaking:
            return  # in trailing silence the commit is due within end_silence_ms: no partial needed
        if open_utt.end_s - open_utt.start_s < PARTIAL_MIN_S:
            return
        since = open_utt.end_s - capture.last_partial_end_s
        if capture.last_partial_end_s > open_utt.start_s and since < PARTIAL_EVERY_S:
            return  # the first partial as soon as there is enough speech, then one a second
        first = capture.last_partial_end_s <= open_utt.start_s
        capture.last_partial_end_s = open_utt.end_s
        await self._offer_open(capture, open_utt, first=first)

    async def _maybe_speculate(self, capture: Capture) -> None:
        """Offer the open utterance for a speculative commit once per pause, when it has just gone quiet."""
        cutter = capture.cutter
        open_utt = cutter.open_utterance()
        if open_utt is None or cutter.quiet_s < SPECULATE_AFTER_S:
            return
        voiced_end = cutter.quick_voiced_end_s
        if voiced_end - open_utt.start_s < PARTIAL_MIN_S:
            return  # nothing heard by the quick VAD in this utterance yet, or too little to decode
        if self._standing_speculation(capture):
            return  # this pause was offered already
        capture.speculation = Speculation(capture.next_seq, open_utt.end_s, voiced_end)
        await self._offer_open(capture, open_utt, speculative=True, speech_end_s=voiced_end)

    def _standing_speculation(self, capture: Capture) -> float:
        """end_s of the speculation that stands for the current utterance (open, or closing now), or 0:
        one was offered for this seq and the quick VAD heard no speech after it."""
        spec = capture.speculation
        if spec is None or spec.seq != capture.next_seq or spec.voiced_end_s != capture.cutter.quick_voiced_end_s:
            return 0.0
        return spec.end_s

    async def _offer_open(self, capture: Capture, open_utt: OpenUtterance, speculative: bool = False,
                          speech_end_s: float = 0.0, first: bool = False) -> None:
        """The open utterance as it stands, on the droppable partials stream."""
        chunk = pb.AudioChunk(session_id=capture.session_id, seq=capture.next_seq, start_s=open_utt.start_s,
                              end_s=open_utt.end_s, sample_rate=SAMPLE_RATE, is_partial=True,
                              speculative=speculative, pcm_s16le=open_utt.pcm.astype("<i2").tobytes(),
                              sent_unix_s=time.time(), speech_end_s=speech_end_s, live=True,
                              first_partial=first)
        # A partial is stale by the time Redis is back: never held (the commit carries the words).
        await self.outbox.send_droppable(functools.partial(self.bus.publish, keys.PARTIALS, chunk))
        await self.outbox.send_droppable(functools.partial(_cap_stream, self.bus, keys.PARTIALS,
                                                           keys.PARTIALS_MAXLEN))

    async def _publish(self, capture: Capture, utterances: list[Utterance]) -> int:
        for utt in utterances:
            ends = capture.cutter.closed_speech_end_s
            chunk = pb.AudioChunk(
                session_id=capture.session_id,
                seq=capture.next_seq,
                start_s=utt.start_s,
                end_s=utt.end_s,
                sample_rate=SAMPLE_RATE,
                pcm_s16le=utt.pcm.astype("<i2").tobytes(),
                sent_unix_s=time.time(),
                speech_end_s=ends.pop(0) if ends else utt.end_s,
                live=capture.live,
                speculation_end_s=self._standing_speculation(capture) if capture.live else 0.0,
            )
            await self.outbox.send(functools.partial(self.bus.publish, keys.UTTERANCES, chunk), chunk.ByteSize())
            capture.utterances.append((utt.start_s, utt.end_s))
            capture.next_seq += 1
        capture.cutter.closed_speech_end_s.clear()  # dropped clicks leave entries behind
        return len(utterances)


def _refuse_if_paused(capture: Capture) -> None:
    # Live audio while paused becomes silence (a microphone left on); an uploaded recording would become
    # a silent note without a word of it, so it is refused instead: the clinician resumes, then uploads.
    if capture.paused:
        raise SessionConflict(f"session {capture.session_id} is paused: resume it (POST .../resume) before "
                              "uploading audio")


def _content_digest(source: str | Path | bytes) -> str:
    """SHA-256 of an upload's bytes (a path's file read in blocks; a missing one is the decoder's to report)."""
    digest = hashlib.sha256()
    if isinstance(source, bytes):
        digest.update(source)
        return digest.hexdigest()
    with contextlib.suppress(OSError), open(source, "rb") as handle:
        for block in iter(functools.partial(handle.read, 1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


async def _cut(cutter: LiveCutter, pieces: list[np.ndarray]) -> list[Utterance]:
    """The utterances the pieces complete; a long run of audio is cut in a worker thread (the caller
    holds the capture's lock, so nothing else touches the cutter meanwhile)."""
    if sum(len(p) for p in pieces) <= CUT_OFF_LOOP_SAMPLES:
        return [utt for piece in pieces for utt in cutter.feed(piece)]
    work = asyncio.ensure_future(asyncio.to_thread(_feed_all, cutter, pieces))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        await asyncio.wait({work})  # the thread still feeds the cutter: keep the lock until it is done
        raise


def _feed_all(cutter: LiveCutter, pieces: list[np.ndarray]) -> list[Utterance]:
    # In slices of GAP_FILL_CHUNK: the cutter copies what it is fed, so one hour fed at once would be
    # copied whole (twice), where slices keep the extra memory to ten seconds.
    return [utt for piece in pieces for i in range(0, len(piece), GAP_FILL_CHUNK)
            for utt in cutter.feed(piece[i : i + GAP_FILL_CHUNK])]


async def _cap_stream(bus: Bus, stream: str, maxlen: int) -> None:
    """Keep a droppable Redis stream short (the bus caps streams only loosely); no-op in memory."""
    redis = getattr(bus, "redis", None)
    if redis is not None:
        await redis.xtrim(stream, maxlen=maxlen, approximate=True)
