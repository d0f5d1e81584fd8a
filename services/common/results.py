"""Wait for a session's final result, failing fast when a stage reported it cannot finish."""

from __future__ import annotations

import asyncio
import time

from proto import scribe_pb2 as pb
from services.common import keys
from services.common.bus import Bus
from services.common.errors import InputError
from services.common.store import SessionStore


class SessionFailed(InputError):
    """A stage rejected part of the session (bad audio, unknown session, retries exhausted)."""


class ResultTimeout(Exception):
    """No final result in the time allowed."""


async def stage_errors(bus: Bus, session_id: str) -> list[pb.StageError]:
    errors = []
    for _id, payload in await bus.entries(keys.ERRORS):
        err = pb.StageError.FromString(payload)
        if err.session_id == session_id:
            errors.append(err)
    return errors


async def wait_for_result(
    bus: Bus, store: SessionStore, session_id: str, timeout_s: float = 600.0, poll_s: float = 0.05
) -> pb.CodingResult:
    deadline = time.monotonic() + timeout_s
    checks = 0
    while True:
        result = await store.get_result(session_id)
        if result is not None:
            return result
        checks += 1
        if checks % 10 == 0:  # the error stream is longer to scan than one key: look less often
            fatal = [e for e in await stage_errors(bus, session_id) if e.fatal]
            if fatal:
                raise SessionFailed(f"{fatal[0].stage}: {fatal[0].message}")
        if time.monotonic() > deadline:
            raise ResultTimeout(f"session {session_id} had no final result after {timeout_s:.0f} s")
        await asyncio.sleep(poll_s)
