"""Partial results for live sessions: best-effort decodes of open utterances' growing prefixes.

A worker has one single-threaded model, shared by two kinds of work: committed utterances
(scribe:utterances, never dropped) and partials (scribe:partials, droppable). The DecodeGate runs
one decode at a time and lets a waiting utterance go first; a partial is decoded only when the
model is idle. A `speculative` partial (services/asr/speculation.py) goes before other partials
and is decoded as its commit would be. Partials are read in batches, and of each (session, seq)
only the newest prefix is kept; one older than MAX_AGE_S (wall clock, from ingest's timestamp) or
whose utterance this worker already committed is skipped, because a partial nobody sees in time is worthless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable

import numpy as np

from proto import scribe_pb2 as pb
from services.asr.engine import DecodeOptions, Recognition
from services.common import keys
from services.common.bus import Bus

log = logging.getLogger("scribe.asr.partials")

MAX_AGE_S = 2.0
# Partials are drafts on screen: greedy, a 10 s encoder window, no fallback (each cheaper; together
# a partial costs about a third of a commit, so one never holds a commit up for long); the commit
# decodes properly.
PARTIAL_DECODE = DecodeOptions(beam_size=1, word_timestamps=False, temperatures=(0.0,), window_s=10.0)
_IDLE_POLL_S = 0.02
# Share of a worker's time that partials may take. Idle time is not free on a small machine: ingest
# (Opus decoding, VAD) and the other stages need the same cores, and partials of many sessions would
# otherwise fill every idle moment. After a best-effort decode (partial or speculation) of d seconds
# the worker rests d * (1 / PARTIAL_DUTY - 1) before the next partial; commits and speculations
# (commit work done early, limited by SPECULATE_QUIET_S instead) never wait for that.
PARTIAL_DUTY = 0.25
# A speculation pays only on a lightly loaded worker: one that committed an utterance this recently, or
# holds other sessions' partials, is serving several sessions, and a speculation wasted (speech went
# on) would hold up their commits.
SPECULATE_QUIET_S = 2.0


class DecodeGate:
    """One decode at a time on this worker's model; committed utterances before partials."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._commits_waiting = 0

    @contextlib.asynccontextmanager
    async def commit(self) -> AsyncIterator[None]:
        self._commits_waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._commits_waiting -= 1
        try:
            yield
        finally:
            self._lock.release()

    def idle(self) -> bool:
        return not self._lock.locked() and self._commits_waiting == 0

    @contextlib.asynccontextmanager
    async def partial(self) -> AsyncIterator[None]:
        """Only enter when idle() (checked without awaiting in between, so nothing can slip in)."""
        assert self.idle()
        await self._lock.acquire()
        try:
            yield
        finally:
            self._lock.release()


Decode = Callable[[np.ndarray, str, DecodeOptions], Awaitable[Recognition]]
Speculate = Callable[[pb.AudioChunk], Awaitable[str]]  # decodes as a commit would, returns the text


class PartialDecoder:
    """Reads scribe:partials for one worker and publishes PartialTranscript on scribe:partial-text."""

    def __init__(self, bus: Bus, gate: DecodeGate, decode: Decode, prompt: Callable[[str], Awaitable[str]],
                 consumer: str, max_age_s: float = MAX_AGE_S, speculate: Speculate | None = None,
                 duty: float = PARTIAL_DUTY) -> None:
        """speculate: how to decode a `speculative` chunk (None: like any partial)."""
        self.bus = bus
        self.gate = gate
        self.decode = decode
        self.speculate = speculate
        self.duty = duty
        self._rest_until = 0.0  # loop time before which no best-effort decode starts
        self._last_commit = -SPECULATE_QUIET_S  # loop time of this worker's last commit
        self.prompt = prompt
        self.consumer = consumer
        self.max_age_s = max_age_s
        self._latest: dict[tuple[str, int], pb.AudioChunk] = {}
        self._committed: OrderedDict[tuple[str, int], None] = OrderedDict()
        self.decoded = 0
        self.skipped = 0

    def committed(self, session_id: str, seq: int) -> None:
        """The utterance was committed here: its partials are outdated."""
        self._last_commit = asyncio.get_running_loop().time()
        self._committed[(session_id, seq)] = None
        self._latest.pop((session_id, seq), None)
        while len(self._committed) > 1024:
            self._committed.popitem(last=False)

    async def run(self, stop: asyncio.Event) -> None:
        await self.bus.ensure_group(keys.PARTIALS, keys.GROUP_ASR)
        while not stop.is_set():
            if not self._latest:  # a read blocks when the stream is empty: only when there is nothing to do
                for d in await self.bus.read(keys.PARTIALS, keys.GROUP_ASR, self.consumer, count=32):
                    await self.bus.ack(keys.PARTIALS, keys.GROUP_ASR, d.entry_id)  # best effort: ack at once
                    self._offer(pb.AudioChunk.FromString(d.payload))
            chunk = self._next()
            if chunk is None:
                continue
            loop = asyncio.get_running_loop()
            resting = loop.time() < self._rest_until and not chunk.speculative  # a speculation is a commit, early
            if not self.gate.idle() or resting:
                await asyncio.sleep(_IDLE_POLL_S)
                continue
            others_waiting = any(sid != chunk.session_id for sid, _seq in self._latest)
            del self._latest[(chunk.session_id, chunk.seq)]
            started = loop.time()
            if chunk.speculative and (others_waiting or started - self._last_commit < SPECULATE_QUIET_S):
                self.skipped += 1  # busy with other sessions: the commit will decode it
                continue
            async with self.gate.partial():
                if chunk.speculative and self.speculate is not None:
                    text = await self.speculate(chunk)
                else:
                    prompt = await self.prompt(chunk.session_id)
                    pcm = np.frombuffer(chunk.pcm_s16le, dtype=np.int16)
                    text = (await self.decode(pcm, prompt, PARTIAL_DECODE)).text
            self._rest_until = loop.time() + (loop.time() - started) * (1 / self.duty - 1)
            self.decoded += 1
            await self.bus.publish(keys.PARTIAL_TEXT, pb.PartialTranscript(
                session_id=chunk.session_id, seq=chunk.seq, start_s=chunk.start_s, end_s=chunk.end_s,
                text=text, sent_unix_s=chunk.sent_unix_s))
            redis = getattr(self.bus, "redis", None)
            if redis is not None:
                await redis.xtrim(keys.PARTIAL_TEXT, maxlen=keys.PARTIAL_TEXT_MAXLEN, approximate=True)

    def _offer(self, chunk: pb.AudioChunk) -> None:
        key = (chunk.session_id, chunk.seq)
        if key in self._committed:
            self.skipped += 1
            return
        held = self._latest.get(key)
        if held is None or chunk.end_s > held.end_s:
            if held is not None:
                self.skipped += 1
            self._latest[key] = chunk

    def _next(self) -> pb.AudioChunk | None:
        """The oldest partial still fresh enough to show (oldest first: every session gets its turn);
        speculations first, because a commit may be waiting on one."""
        now = time.time()
        for key, chunk in list(self._latest.items()):
            if now - chunk.sent_unix_s > self.max_age_s:
                del self._latest[key]
                self.skipped += 1
        if not self._latest:
            return None
        return min(self._latest.values(), key=lambda c: (not c.speculative, c.sent_unix_s))
