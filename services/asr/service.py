"""ASR stage: utterances (AudioChunk) in, committed transcript segments out; for live sessions also
partial hypotheses of open utterances (services/asr/streaming.py), decoded only when the model is idle."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict

import numpy as np

from proto import scribe_pb2 as pb
from services.asr.engine import DecodeOptions, Recognition, WhisperEngine
from services.asr.pitch import median_pitch_hz
from services.asr.speculation import Speculations
from services.asr.streaming import DecodeGate, PartialDecoder
from services.common import keys, metrics
from services.common.bus import Bus
from services.common.consumer import StageFailure, consume
from services.common.corrector import context_text, default_corrector, write_recognised
from services.common.store import SessionStore
from services.common.vocabulary import asr_prompt
from services.ingest.audio import SAMPLE_RATE, pcm_to_float

log = logging.getLogger("scribe.asr")

FILE_COMMIT = DecodeOptions()
# Someone is watching a live session: a 20 s encoder window answers 1.75x sooner (see DecodeOptions),
# and 3 beams instead of 5 save a fifth of the decoder's time (about 45 ms an utterance here); on the
# 12 public cases' live cuts, WER 0.0474 against 0.0481 with 5 beams, the same 74/78 key terms.
LIVE_COMMIT = DecodeOptions(window_s=20.0, beam_size=3)


class AsrService:
    """Decodes each utterance on its own: no state between utterances, so any worker can take any."""

    stage = "asr"

    def __init__(self, bus: Bus, store: SessionStore, engine: WhisperEngine, consumer: str = "asr-1",
                 partials: bool = True) -> None:
        """partials: also decode live sessions' open-utterance prefixes when idle."""
        self.bus = bus
        self.store = store
        self.engine = engine
        self.consumer = consumer
        # per-session prompt and context words for the term corrector (LRU)
        self._prompts: OrderedDict[str, tuple[str, tuple[str, ...]]] = OrderedDict()
        default_corrector()  # load the lexicon and word counts now, not on a live session's first segment
        self.decoded_seconds = 0.0
        self.busy_seconds = 0.0
        self.calls = 0  # Whisper calls, committed and partial
        self.gate = DecodeGate()
        self.speculations = Speculations(store)
        self.partials = (PartialDecoder(bus, self.gate, self._decode_partial, self._prompt, consumer,
                                        speculate=self._speculate)
                         if partials else None)

    async def run(self, stop: asyncio.Event) -> None:
        if self.partials is None:
            await consume(self.bus, keys.UTTERANCES, keys.GROUP_ASR, self.consumer, self.handle, stop,
                          stage=self.stage)
            return
        # Partials share the model: utterances are read only while it is free (DecodeGate).
        commits = consume(self.bus, keys.UTTERANCES, keys.GROUP_ASR, self.consumer, self.handle, stop,
                          stage=self.stage, guard=self.gate.taking_commits)
        await asyncio.gather(commits, self.partials.run(stop))

    async def handle(self, payload: bytes) -> None:
        chunk = pb.AudioChunk.FromString(payload)
        if chunk.sample_rate != SAMPLE_RATE:
            raise StageFailure(
                chunk.session_id, "bad_audio", f"utterance {chunk.seq} is {chunk.sample_rate} Hz, not 16000"
            )
        if len(chunk.pcm_s16le) % 2:
            raise StageFailure(chunk.session_id, "bad_audio", f"utterance {chunk.seq} has a torn 16-bit sample")
        segment = await self.speculations.claim(chunk)
        if segment is None:
            segment = await self.transcribe_chunk(chunk, LIVE_COMMIT if chunk.live else FILE_COMMIT)
        else:
            segment.seq, segment.speech_end_s = chunk.seq, chunk.speech_end_s
        await self.bus.publish(keys.SEGMENTS, segment)
        _observe_commit(chunk)
        if self.partials is not None:
            self.partials.committed(chunk.session_id, chunk.seq)

    async def transcribe_chunk(self, chunk: pb.AudioChunk, options: DecodeOptions | None = None
                               ) -> pb.TranscriptSegment:
        pcm = np.frombuffer(chunk.pcm_s16le, dtype=np.int16)
        prompt, session_text = await self._session_bias(chunk.session_id)
        loop = asyncio.get_running_loop()
        async with self.gate.commit():
            t0 = loop.time()
            # The model call blocks for 0.4 s or more: keep the event loop free for reads and acks.
            rec, pitch = await asyncio.to_thread(self._decode, pcm, prompt, options or FILE_COMMIT)
            busy = loop.time() - t0
            self.busy_seconds += busy
        self.decoded_seconds += len(pcm) / SAMPLE_RATE
        _observe_decode(len(pcm) / SAMPLE_RATE, busy)
        return segment_from_recognition(chunk, rec, pitch, session_text)

    def _decode(self, pcm: np.ndarray, prompt: str, options: DecodeOptions) -> tuple[Recognition, float]:
        if pcm.size == 0:
            return Recognition(text=""), 0.0
        self.calls += 1
        return self.engine.transcribe(pcm_to_float(pcm), prompt, options), median_pitch_hz(pcm)

    async def _speculate(self, chunk: pb.AudioChunk) -> str:
        """Decode a speculative chunk as its commit would be and leave the segment for the commit.
        Runs inside the gate (as a partial): the model is this call's alone."""
        await self.speculations.started(chunk)
        pcm = np.frombuffer(chunk.pcm_s16le, dtype=np.int16)
        prompt, session_text = await self._session_bias(chunk.session_id)
        rec, pitch = await asyncio.to_thread(self._decode, pcm, prompt, LIVE_COMMIT)
        segment = segment_from_recognition(chunk, rec, pitch, session_text)
        await self.speculations.finished(chunk, segment)
        return segment.text

    async def _decode_partial(self, pcm: np.ndarray, prompt: str, options: DecodeOptions) -> Recognition:
        if pcm.size == 0:
            return Recognition(text="")
        self.calls += 1
        return await asyncio.to_thread(self.engine.transcribe, pcm_to_float(pcm), prompt, options)

    async def _prompt(self, session_id: str) -> str:
        return (await self._session_bias(session_id))[0]

    async def _session_bias(self, session_id: str) -> tuple[str, tuple[str, ...]]:
        """The recogniser's prompt and the context's own words (the corrector's session terms)."""
        if session_id in self._prompts:
            self._prompts.move_to_end(session_id)
            return self._prompts[session_id]
        ctx = await self.store.get_context(session_id)
        bias = (asr_prompt(ctx), context_text(ctx)) if ctx is not None else ("", ())
        self._prompts[session_id] = bias
        while len(self._prompts) > 256:
            self._prompts.popitem(last=False)
        return bias


def _observe_decode(audio_s: float, busy_s: float) -> None:
    metrics.ASR_AUDIO_SECONDS.inc(audio_s)
    metrics.ASR_BUSY_SECONDS.inc(busy_s)
    if audio_s > 0:
        metrics.ASR_REALTIME_FACTOR.observe(busy_s / audio_s)


def _observe_commit(chunk: pb.AudioChunk) -> None:
    """Latency to the committed segment. Live: from the end of speech, which ingest stamped as its send
    time less the silence the VAD waited for after it; upload: from the send time. Wall clocks of two
    machines: skew between them shows here (keep them on NTP)."""
    if not chunk.sent_unix_s:
        return
    if chunk.live and chunk.speech_end_s:
        since = chunk.sent_unix_s - max(0.0, chunk.end_s - chunk.speech_end_s)
        metrics.COMMIT_LATENCY.labels("live").observe(max(0.0, time.time() - since))
    else:
        metrics.COMMIT_LATENCY.labels("upload").observe(max(0.0, time.time() - chunk.sent_unix_s))


def segment_from_recognition(chunk: pb.AudioChunk, rec: Recognition, pitch_hz: float,
                             session_text: tuple[str, ...] = ()) -> pb.TranscriptSegment:
    """Place the recognition on the session clock and write it in the written forms notes use
    (`session_text`: the context's words, which the term corrector expects to hear)."""
    words = [
        pb.Word(
            start_s=chunk.start_s + w.start_s,
            end_s=chunk.start_s + w.end_s,
            text=w.text,
            probability=w.probability,
        )
        for w in rec.words
    ]
    start = words[0].start_s if words else chunk.start_s
    end = words[-1].end_s if words else chunk.end_s
    return pb.TranscriptSegment(
        session_id=chunk.session_id,
        seq=chunk.seq,
        start_s=start,
        end_s=max(end, start),
        text=write_recognised(rec.text, session_text),
        raw_text=rec.text,
        words=words,
        confidence=rec.confidence,
        voice_pitch_hz=pitch_hz,
        speech_end_s=chunk.speech_end_s,
    )
