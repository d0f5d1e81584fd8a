"""Partial results for live sessions: best-effort decodes of open utterances' growing prefixes.

A worker has one single-threaded model, shared by two kinds of work: committed utterances
(scribe:utterances, never dropped) and best-effort decodes of open utterances (scribe:partials,
droppable). The DecodeGate runs one decode at a time; a worker serving several sessions takes an
utterance from the stream only while its model is free, so a commit does not wait here behind a
partial while the other worker is idle.

Of the best-effort work, in this order:
- a `speculative` chunk (services/asr/speculation.py) is decoded as its commit would be;
- a first partial (ingest's first offer of an utterance) puts something on screen, once per utterance;
- a refresh of an utterance already shown goes last, and only within the refresh duty (REFRESH_DUTY).
Partials are read in batches, and of each (session, seq) only the newest prefix is kept; one older
than MAX_AGE_S (wall clock, from ingest's timestamp) or whose utterance this worker already committed
is skipped, because a partial nobody sees in time is worthless.
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
from services.common.outage import OutageWatch, StopRequested, outlasting

log = logging.getLogger("scribe.asr.partials")

MAX_AGE_S = 2.0
# Partials are drafts on screen: greedy, a 10 s encoder window, no fallback, a token cap (each
# cheaper; together a partial costs about a third of a commit, so one never holds a commit up for
# long); the commit decodes properly.
PARTIAL_DECODE = DecodeOptions(beam_size=1, word_timestamps=False, temperatures=(0.0,), window_s=10.0,
                               tokens_per_s=12.0)
_IDLE_POLL_S = 0.02
# Share of a worker's time that refreshes may take, divided among the sessions it serves. Idle time is
# not free on a small machine: ingest (Opus decoding, VAD) and the other stages need the same cores, and
# refreshes of many sessions would otherwise fill every idle moment and slow every commit. After a
# best-effort decode of d seconds the worker rests d * (1 / duty - 1) before the next refresh, where
# duty is REFRESH_DUTY over the sessions whose partials it received in the last ACTIVE_WINDOW_S.
# Speculations (commit work done early, limited by SPECULATE_QUIET_S instead) and first partials (one
# per utterance) never rest. On 8 live sessions (bench.live's probe), refreshes at a fixed 25% took as
# much model time as the commits and the first partial came 2-3 s after speech began; with first
# partials first and this division, about 0.65 s.
REFRESH_DUTY = 0.25
ACTIVE_WINDOW_S = 5.0
# A speculation pays only on a lightly loaded worker: one that committed an utterance this recently, or
# holds other sessions' partials, is serving several sessions, and a speculation wasted (speech went
# on) would hold up their commits.
SPECULATE_QUIET_S = 2.0


# A worker serving several sessions reads commits in blocks this short, so a best-effort decode that
# wants the model waits at most this long for the reader to step out of its read (50 reads a second
# while it serves several sessions; otherwise the bus's usual block, about one read a second).
COMMIT_READ_BLOCK_S = 0.02


class DecodeGate:
    """One decode at a time on this worker's model, and a worker serving several sessions takes
    commits only while its model is free.

    The commit reader takes utterances from the stream inside `taking_commits()`. While the worker
    serves several sessions (`several_sessions`, kept by the PartialDecoder), it reads in short blocks,
    and only while no best-effort decode (partial or speculation) is waiting or running; a best-effort
    decode starts only once the reader has stepped out (`best_effort()`). So an utterance arriving while
    this worker decodes a partial stays in the stream for the other worker, or for this one once it is
    done, instead of waiting here behind the partial. After each best-effort decode the reader looks at
    the stream once (without waiting) before the next may start: partials never starve commits.

    Serving one session (or none), the reader waits in the bus's usual long block and a best-effort
    decode just takes the model: the other worker is rarely busy then, and on two public dictations
    (pub-009, pub-011) streamed alone, stepping the reader aside cost more than it saved (commit p50
    0.60 s with it, 0.56 s without; first partial 0.58 s and 0.51 s). A best-effort decode never waits
    for a reader in a long block either (the first partial of a second session): at most that one read
    may take an utterance that then waits for the partial, as with one session.
    """

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self.several_sessions = False
        self._taking = False  # the commit reader is reading, or handling what it read
        self._long_read = False  # ... and its read waits the bus's usual block
        self._best_effort = False  # an exclusive best-effort decode is waiting to start, or running
        self._has_reader = False  # a commit reader uses this gate (a worker without one owes no reads)
        self._read_owed = False  # a best-effort decode ended: the reader's turn
        self._changed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def taking_commits(self) -> AsyncIterator[float | None]:
        """Around one read of the commit stream and its handling; yields how long the read may wait
        (None: the bus's usual block)."""
        async with self._changed:
            self._has_reader = True
            await self._changed.wait_for(lambda: not self._best_effort)
            self._taking = True
            block_s = 0.0 if self._read_owed else COMMIT_READ_BLOCK_S if self.several_sessions else None
            self._long_read = block_s is None
        try:
            yield block_s
        finally:
            async with self._changed:
                self._taking = self._read_owed = self._long_read = False
                self._changed.notify_all()

    @contextlib.asynccontextmanager
    async def commit(self) -> AsyncIterator[None]:
        async with self._lock:
            yield

    @contextlib.asynccontextmanager
    async def best_effort(self) -> AsyncIterator[None]:
        if not self.several_sessions:
            async with self._lock:
                yield
            return
        async with self._changed:
            await self._changed.wait_for(lambda: not self._read_owed or self._long_read)
            self._best_effort = True
            try:
                await self._changed.wait_for(lambda: not self._taking or self._long_read)
            except BaseException:
                self._best_effort = False
                self._changed.notify_all()
                raise
            # A reader still in its long block sees new utterances anyway: it is owed no extra read.
            owe_read = self._has_reader and not self._long_read
        try:
            async with self._lock:
                yield
        finally:
            async with self._changed:
                self._best_effort = False
                self._read_owed = owe_read
                self._changed.notify_all()


Decode = Callable[[np.ndarray, str, DecodeOptions], Awaitable[Recognition]]
Speculate = Callable[[pb.AudioChunk], Awaitable[str]]  # decodes as a commit would, returns the text


class PartialDecoder:
    """Reads scribe:partials for one worker and publishes PartialTranscript on scribe:partial-text."""

    def __init__(self, bus: Bus, gate: DecodeGate, decode: Decode, prompt: Callable[[str], Awaitable[str]],
                 consumer: str, max_age_s: float = MAX_AGE_S, speculate: Speculate | None = None,
                 duty: float = REFRESH_DUTY) -> None:
        """speculate: how to decode a `speculative` chunk (None: like any partial)."""
        self.bus = bus
        self.gate = gate
        self.decode = decode
        self.speculate = speculate
        self.duty = duty
        self._rest_until = 0.0  # loop time before which no refresh starts
        self._sessions_seen: dict[str, float] = {}  # session -> loop time its last partial came in
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
        watch = OutageWatch(self.bus, "asr", f"reading {keys.PARTIALS}")
        try:
            await outlasting(watch, stop, lambda: self.bus.ensure_group(keys.PARTIALS, keys.GROUP_ASR))
            while not stop.is_set():
                # A partial in hand when the bus goes away is dropped: by the time it is back it is stale.
                await outlasting(watch, stop, self._step)
        except StopRequested:
            return

    async def _step(self) -> None:
        """Take in new partials, then decode the one most worth showing (if any)."""
        # With partials in hand, look for new ones without waiting: a new utterance's first partial
        # goes before refreshes of those already shown (_next).
        block_s = 0.0 if self._latest else None
        for d in await self.bus.read(keys.PARTIALS, keys.GROUP_ASR, self.consumer, count=32, block_s=block_s):
            await self.bus.ack(keys.PARTIALS, keys.GROUP_ASR, d.entry_id)  # best effort: ack at once
            self._offer(pb.AudioChunk.FromString(d.payload))
        self.gate.several_sessions = self._active_sessions(asyncio.get_running_loop().time()) > 1
        chunk = self._next()
        if chunk is None:
            return
        loop = asyncio.get_running_loop()
        # A speculation is a commit, early; a first partial is one per utterance: only refreshes rest.
        resting = loop.time() < self._rest_until and not chunk.speculative and not chunk.first_partial
        if resting:
            await asyncio.sleep(_IDLE_POLL_S)
            return
        key = (chunk.session_id, chunk.seq)
        others_waiting = any(sid != chunk.session_id for sid, _seq in self._latest)
        del self._latest[key]
        if chunk.speculative and (others_waiting or loop.time() - self._last_commit < SPECULATE_QUIET_S):
            self.skipped += 1  # busy with other sessions: the commit will decode it
            return
        async with self.gate.best_effort():
            if key in self._committed:  # committed here while the reader stepped out
                self.skipped += 1
                return
            started = loop.time()
            if chunk.speculative and self.speculate is not None:
                text = await self.speculate(chunk)
            else:
                prompt = await self.prompt(chunk.session_id)
                pcm = np.frombuffer(chunk.pcm_s16le, dtype=np.int16)
                text = (await self.decode(pcm, prompt, PARTIAL_DECODE)).text
        duty = self.duty / max(1, self._active_sessions(loop.time()))
        self._rest_until = loop.time() + (loop.time() - started) * (1 / duty - 1)
        self.decoded += 1
        await self.bus.publish(keys.PARTIAL_TEXT, pb.PartialTranscript(
            session_id=chunk.session_id, seq=chunk.seq, start_s=chunk.start_s, end_s=chunk.end_s,
            text=text, sent_unix_s=chunk.sent_unix_s))
        redis = getattr(self.bus, "redis", None)
        if redis is not None:
            await redis.xtrim(keys.PARTIAL_TEXT, maxlen=keys.PARTIAL_TEXT_MAXLEN, approximate=True)

    def _active_sessions(self, now: float) -> int:
        for sid, seen in list(self._sessions_seen.items()):
            if now - seen > ACTIVE_WINDOW_S:
                del self._sessions_seen[sid]
        return len(self._sessions_seen)

    def _offer(self, chunk: pb.AudioChunk) -> None:
        self._sessions_seen[chunk.session_id] = asyncio.get_running_loop().time()
        key = (chunk.session_id, chunk.seq)
        if key in self._committed:
            self.skipped += 1
            return
        held = self._latest.get(key)
        if held is None or chunk.end_s > held.end_s:
            if held is not None:
                self.skipped += 1
                chunk.first_partial |= held.first_partial  # still nothing on screen for this utterance
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
        return min(self._latest.values(),
                   key=lambda c: (not c.speculative, not c.first_partial, c.sent_unix_s))
