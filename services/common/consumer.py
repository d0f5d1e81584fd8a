"""The read-handle-ack loop every stage runs, with the delivery rules in one place.

- The handler's work is done before the ack, so a worker that dies mid-way leaves the entry
  pending and another worker reclaims it (see Bus.read).
- An InputError (the message itself is bad) is reported on scribe:errors and acked: retrying
  cannot help. Any other exception leaves the entry pending, to be retried after the claim
  idle time and dead-lettered past the delivery cap.
- The bus going away (Redis restarting) is neither: the loop waits it out with backoff and
  redoes the read, or the handling of the entry in hand, once it is back (services/common/outage.py).
- Logs carry the stage, entry id and error type, never message contents (patient words).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from google.protobuf.message import DecodeError

from proto import scribe_pb2 as pb
from services.common import keys, metrics
from services.common.bus import Bus, Delivery
from services.common.errors import InputError
from services.common.outage import OutageWatch, StopRequested, outlasting

log = logging.getLogger("scribe.consumer")

Handler = Callable[[bytes], Awaitable[None]]


class StageFailure(InputError):
    """A message that can never be processed; carries the session it belongs to."""

    def __init__(self, session_id: str, category: str, message: str) -> None:
        super().__init__(message)
        self.session_id = session_id
        self.category = category


def session_of(payload: bytes) -> str:
    """Session id of any bus message (all carry it as field 1)."""
    try:
        return pb.SessionRef.FromString(payload).session_id
    except DecodeError:
        return ""


async def report_error(bus: Bus, stage: str, session_id: str, category: str, message: str, fatal: bool) -> None:
    metrics.ERRORS.labels(stage, metrics.error_kind(category)).inc()
    await bus.publish(
        keys.ERRORS,
        pb.StageError(session_id=session_id, stage=stage, category=category, message=message, fatal=fatal),
    )


async def consume(
    bus: Bus,
    stream: str,
    group: str,
    consumer: str,
    handler: Handler,
    stop: asyncio.Event,
    *,
    stage: str,
    count: int = 1,
    guard: Callable[[], AbstractAsyncContextManager[float | None]] | None = None,
) -> None:
    """Run `handler` on every entry of `stream` for `group` until `stop` is set.

    guard: entered around each read and the handling of what it returned, and yields how long the
    read may wait (None: the bus default). The asr stage uses it to take utterances only while its
    model is free.
    """
    watch = OutageWatch(bus, stage, f"reading {stream}")
    try:
        await outlasting(watch, stop, lambda: bus.ensure_group(stream, group))
        while not stop.is_set():
            async with guard() if guard is not None else contextlib.nullcontext() as block_s:
                deliveries = await outlasting(
                    watch, stop, lambda: bus.read(stream, group, consumer, count=count, block_s=block_s))
                for delivery in deliveries:
                    # Redone whole after an outage: the handler is idempotent, and the ack comes last.
                    await outlasting(watch, stop, functools.partial(_handle, bus, stream, group, handler, delivery,
                                                                    stage))
    except StopRequested:
        return


async def _handle(bus: Bus, stream: str, group: str, handler: Handler, delivery: Delivery, stage: str) -> None:
    """One entry: acked when handled or rejected as bad input, left pending (for a retry) on a failure."""
    started = time.perf_counter()
    try:
        await handler(delivery.payload)
    except (InputError, DecodeError) as exc:
        session_id = getattr(exc, "session_id", "") or session_of(delivery.payload)
        category = getattr(exc, "category", "bad_message")
        log.warning("%s: rejected entry %s (%s)", stage, delivery.entry_id, category)
        await report_error(bus, stage, session_id, category, str(exc), fatal=True)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - a worker must survive any one bad entry
        if bus.is_outage(exc):
            raise  # not the entry's fault: consume() waits for the bus and hands it over again
        metrics.ERRORS.labels(stage, metrics.error_kind(type(exc).__name__)).inc()
        log.error(
            "%s: entry %s failed on delivery %d with %s; left pending for retry",
            stage,
            delivery.entry_id,
            delivery.deliveries,
            type(exc).__name__,
        )
        if delivery.deliveries >= bus.policy.max_deliveries:
            await report_error(
                bus, stage, session_of(delivery.payload), "retries_exhausted",
                f"{stage} failed {delivery.deliveries} times ({type(exc).__name__})", fatal=True,
            )
        return
    await bus.ack(stream, group, delivery.entry_id)
    _handled(stage, stream, started)


def _handled(stage: str, stream: str, started: float) -> None:
    metrics.CHUNKS_IN.labels(stage, stream).inc()
    metrics.HANDLE_SECONDS.labels(stage, stream).observe(time.perf_counter() - started)
