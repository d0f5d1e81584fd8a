"""Ingest's writes to the bus and store, in order, held in memory while Redis is away.

A clinician's microphone does not stop because Redis restarts: while the bus is unreachable,
ingest keeps taking audio and holds what it would have written (utterances, session events,
context and stop markers) here, then sends it all in the order it was made once Redis is back.
Once one write is held, every later write queues behind it, so order never changes.

The hold is bounded by bytes: new audio that would pass the bound is refused up front with
BufferFull (HTTP 503 with Retry-After, a WebSocket error message), before any of it is taken,
so nothing is ever dropped silently. Audio already accepted is always kept (it may pass the
bound by that one request).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.backoff import ExponentialWithJitterBackoff

from services.common.bus import Bus
from services.common.outage import FIRST_WAIT_S, MAX_WAIT_S

log = logging.getLogger("scribe.ingest.outbox")

DEFAULT_MAX_BYTES = 256 * 1024 * 1024  # about 2.3 hours of 16 kHz audio
RETRY_AFTER_S = 5  # what a refused client is told to wait
# After a failed write, droppable writes are skipped this long without trying: each try costs redis-py's
# retries (about a second), which a live session's audio loop cannot spend on a partial.
DROPPABLE_QUIET_S = 2.0

Write = Callable[[], Awaitable[Any]]


class BufferFull(Exception):
    """Redis is away and the held writes reached the bound: new audio is refused, not dropped."""

    retry_after_s = RETRY_AFTER_S


@dataclass(frozen=True)
class _Held:
    write: Write
    nbytes: int


class Outbox:
    def __init__(self, bus: Bus, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.bus = bus
        self.max_bytes = max_bytes
        self._held: deque[_Held] = deque()
        self._held_bytes = 0
        self._drainer: asyncio.Task[None] | None = None
        self._failed_at = -DROPPABLE_QUIET_S  # monotonic time of the last write that found Redis away

    @property
    def holding(self) -> bool:
        """True while writes wait for Redis (new writes then queue behind them)."""
        return bool(self._held)

    @property
    def held_bytes(self) -> int:
        return self._held_bytes

    def admit(self, nbytes: int) -> None:
        """Refuse new audio of nbytes that would not fit while writes are held; called before it is taken."""
        if self._held and self._held_bytes + nbytes > self.max_bytes:
            raise BufferFull(f"Redis is unreachable and ingest holds {self._held_bytes // 2**20} MiB of audio "
                             f"for it already; retry in {RETRY_AFTER_S} s")

    async def send(self, write: Write, nbytes: int = 0) -> Any:
        """Run `write` now, or hold it (returning None) if Redis is away or earlier writes are still held."""
        if not self._held:
            try:
                return await write()
            except Exception as exc:
                if not self.bus.is_outage(exc):
                    raise
                self._failed_at = time.monotonic()
                log.warning("ingest: bus unreachable (%s); holding writes until it is back", type(exc).__name__)
        self._held.append(_Held(write, nbytes))
        self._held_bytes += nbytes
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return None

    async def send_droppable(self, write: Write) -> None:
        """A write worth nothing later (a live partial): skipped while Redis is away, never held."""
        if self._held or time.monotonic() - self._failed_at < DROPPABLE_QUIET_S:
            return
        try:
            await write()
        except Exception as exc:
            if not self.bus.is_outage(exc):
                raise
            self._failed_at = time.monotonic()

    async def _drain(self) -> None:
        """Send held writes oldest first, retrying the head with backoff until Redis takes it."""
        backoff = ExponentialWithJitterBackoff(cap=MAX_WAIT_S, base=FIRST_WAIT_S)
        since, failures, sent = time.monotonic(), 0, 0
        while self._held:
            head = self._held[0]
            try:
                await head.write()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - held audio is never dropped: retry whatever the error
                if not self.bus.is_outage(exc) and failures == 0:
                    log.error("ingest: a held write failed with %s; retrying", type(exc).__name__)
                failures += 1
                await asyncio.sleep(backoff.compute(failures))
                continue
            failures = 0
            self._held.popleft()
            self._held_bytes -= head.nbytes
            sent += 1
        log.warning("ingest: bus back; sent %d held writes after %.1f s", sent, time.monotonic() - since)

    async def close(self, wait_s: float = 5.0) -> None:
        """Shutting down: give held writes wait_s to go out; what is left cannot be sent, so say so
        (counts only, no patient words)."""
        if self._drainer is not None and not self._drainer.done():
            done, _ = await asyncio.wait({self._drainer}, timeout=wait_s)
            if not done:
                self._drainer.cancel()
        if self._held:
            log.error("ingest: stopped with %d writes (%d bytes) still held for Redis; they are lost",
                      len(self._held), self._held_bytes)
