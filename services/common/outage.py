"""Waiting out a bus outage (Redis restarting) inside a worker's loops, instead of exiting.

redis-py already retries each command for about a second (services/common/redis_conn.py); past
that a loop gets the ConnectionError. `OutageWatch` turns it into one log line, a wait with backoff
and another try, and one line when the bus is back. Work in hand is redone, not lost: handlers are
idempotent (state is keyed by session and seq), so a segment published twice changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from redis.backoff import ExponentialWithJitterBackoff

from services.common import metrics
from services.common.bus import Bus

log = logging.getLogger("scribe.outage")

T = TypeVar("T")

FIRST_WAIT_S = 0.2
MAX_WAIT_S = 2.0  # once Redis is back, a worker notices within this (plus redis-py's own retries)


class StopRequested(Exception):
    """The worker was asked to stop while it waited for the bus."""


@dataclass
class OutageWatch:
    """Backoff and logging for one loop that talks to the bus (one per loop, so each logs its own)."""

    bus: Bus
    stage: str
    what: str  # what the loop does, for the log line (a stream name, never message contents)
    failures: int = 0
    since: float = 0.0
    _backoff: ExponentialWithJitterBackoff = field(
        default_factory=lambda: ExponentialWithJitterBackoff(cap=MAX_WAIT_S, base=FIRST_WAIT_S))

    async def failed(self, exc: BaseException, stop: asyncio.Event) -> None:
        """Re-raise anything but an outage; otherwise log (once per outage) and wait before the next try."""
        if not self.bus.is_outage(exc):
            raise exc
        if self.failures == 0:
            self.since = time.monotonic()
            metrics.ERRORS.labels(self.stage, "bus_unreachable").inc()  # once per outage
            log.warning("%s: bus unreachable while %s (%s); retrying with backoff", self.stage, self.what,
                        type(exc).__name__)
        self.failures += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), self._backoff.compute(self.failures))
        if stop.is_set():
            raise StopRequested

    def succeeded(self) -> None:
        if self.failures:
            log.warning("%s: bus back after %.1f s (%s)", self.stage, time.monotonic() - self.since, self.what)
            self.failures = 0


async def outlasting(watch: OutageWatch, stop: asyncio.Event, step: Callable[[], Awaitable[T]]) -> T:
    """Run `step` until it gets through, waiting out outages; raises StopRequested if stopped meanwhile."""
    while True:
        try:
            result = await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - failed() re-raises all but an outage
            await watch.failed(exc, stop)
            continue
        watch.succeeded()
        return result
