"""Retention: nothing of a finished session lingers on the bus, and no session stays open for good.

Why entries are deleted by id (XDEL) rather than kept in per-session streams: the stages share one
stream per kind of work so that any worker takes any utterance through one consumer group (plain
load balancing, reclaiming, dead letters; services/common/redis_bus.py). Per-session streams would
make every worker watch an unbounded, changing set of streams, each with its own groups. So the bus
records every entry of a session in the session's entry index as it adds it (XADD and SADD in one
Lua script: no entry without its record), and the janitor deletes those entries by id once the
session is final, without ever reading a stream of audio.

The rules a Janitor applies every `sweep_s`, in each process that runs one (the ingest, drafter and
coder workers; every step is idempotent, so one janitor alive is enough and several do no harm):

- Finished sessions (the coder stored the final result, which adds the session to scribe:finished).
  Once `grace_s` has passed (a feed watching the session has read its final codes by then), each
  indexed entry is deleted as soon as every consumer group of its stream has had it delivered and
  acked: its id is at or before the group's last-delivered id and it is not pending. An entry another
  stage has not finished with yet stays until a later sweep, so consumer groups never lose work.
  Streams without groups (codes, partial text, errors, dead letters) are read by feeds only. The
  session leaves scribe:finished once its index is empty and `settle_s` has passed, so entries a late
  redelivery adds meanwhile go too.
- Per-session keys (context, segments, stop, result, dismissals, the entry index) expire
  `result_ttl_s` after the result is stored (services/common/store.py): the retention of finished
  results, until a database holds them. Each has that expiry from its first write, so a session that
  never finishes leaves nothing for good either.
- Orphans. Ingest records each session it opens in scribe:open (session -> ingest id) and refreshes
  its heartbeat key, which expires `ingest_timeout_s` after the last refresh (keep_alive below). A
  session whose ingest's heartbeat is gone (the process crashed, was killed, or stopped without a stop
  from the client) is finalised with what was received: the janitor stores the stop marker with the
  last utterance that reached the bus and end_reason "ingest_lost", and announces it, so the drafter
  and coder finish it as usual and the result says how it ended. A session never stopped on an ingest
  that is alive is finalised by that ingest after its idle bound (IngestService.stop_idle, "idle").

Logs carry session ids and counts only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from redis.exceptions import ResponseError

from proto import scribe_pb2 as pb
from services.common import keys
from services.common.errors import InputError
from services.common.outage import OutageWatch, StopRequested, outlasting
from services.common.redis_bus import RedisBus
from services.common.store import SessionStore

log = logging.getLogger("scribe.retention")

INGEST_LOST = "ingest_lost"
IDLE = "idle"


@dataclass(frozen=True)
class RetentionPolicy:
    """How long what stays, and how often the janitor looks (environment: see from_env)."""

    result_ttl_s: int = keys.SESSION_TTL_S  # SCRIBE_RESULT_RETENTION_S: keys kept after the result
    grace_s: float = 10.0  # SCRIBE_STREAM_GRACE_S: stream entries kept after the result, for feeds
    settle_s: float = 600.0  # a finished session is swept again this long, for late redeliveries
    sweep_s: float = 5.0  # SCRIBE_RETENTION_SWEEP_S
    ingest_timeout_s: float = 60.0  # SCRIBE_INGEST_TIMEOUT_S: an ingest silent this long is gone

    @property
    def heartbeat_s(self) -> float:
        # Several refreshes per timeout, so one late refresh does not orphan a live ingest's sessions.
        return max(0.1, self.ingest_timeout_s / 4)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> RetentionPolicy:
        """The policy with the environment's overrides; a value that is not a positive number is an
        InputError (a configuration error at start)."""
        base = cls()
        return cls(
            result_ttl_s=int(_positive(env, "SCRIBE_RESULT_RETENTION_S", base.result_ttl_s)),
            grace_s=_positive(env, "SCRIBE_STREAM_GRACE_S", base.grace_s, allow_zero=True),
            settle_s=base.settle_s,
            sweep_s=_positive(env, "SCRIBE_RETENTION_SWEEP_S", base.sweep_s),
            ingest_timeout_s=_positive(env, "SCRIBE_INGEST_TIMEOUT_S", base.ingest_timeout_s),
        )


def _positive(env: Mapping[str, str], name: str, default: float, allow_zero: bool = False) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"{name} must be a number of seconds, not {raw[:40]!r}") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise InputError(f"{name} must be a positive number of seconds")
    return value


@dataclass
class SweepReport:
    """What one sweep did (ids and counts only)."""

    orphans_finalised: list[str] = field(default_factory=list)
    entries_deleted: int = 0
    entries_waiting: int = 0  # indexed entries a consumer group has not finished with yet
    sessions_done: list[str] = field(default_factory=list)  # left scribe:finished: nothing left to delete


class Janitor:
    """Deletes finished sessions' stream entries and finalises orphaned sessions (see the module's docstring)."""

    stage = "retention"

    def __init__(self, bus: RedisBus, store: SessionStore, policy: RetentionPolicy | None = None) -> None:
        self.bus = bus
        self.store = store
        self.policy = policy or RetentionPolicy()
        self._r = bus.redis
        self._missing_since: dict[str, float] = {}  # ingest id -> when this janitor first missed its heartbeat

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep every policy.sweep_s until `stop`; waits out Redis outages, survives any one bad sweep."""
        watch = OutageWatch(self.bus, self.stage, "sweeping finished sessions")
        while not stop.is_set():
            try:
                await outlasting(watch, stop, self.sweep)
            except StopRequested:
                return
            except Exception as exc:  # noqa: BLE001 - retention must go on; the next sweep retries
                log.error("retention: a sweep failed with %s; retrying in %.0f s", type(exc).__name__,
                          self.policy.sweep_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.policy.sweep_s)

    async def sweep(self) -> SweepReport:
        report = SweepReport()
        report.orphans_finalised = await self.finalise_orphans()
        await self._delete_finished(report)
        return report

    # --- orphans -------------------------------------------------------------------------------

    async def finalise_orphans(self) -> list[str]:
        """Finalise every open session whose ingest's heartbeat is gone; returns their ids."""
        held = {_text(k): _text(v) for k, v in (await self._r.hgetall(keys.OPEN_SESSIONS)).items()}
        owners = set(held.values())
        self._missing_since = {o: t for o, t in self._missing_since.items() if o in owners}
        gone = {owner for owner in owners if await self._gone(owner)}
        orphans = [sid for sid, owner in held.items() if owner in gone]
        for sid in orphans:
            await self.finalise_orphan(sid)
        return orphans

    async def _gone(self, owner: str) -> bool:
        """An ingest is gone once its heartbeat has been missing, as this janitor saw it, for the
        timeout: after a Redis outage longer than the timeout every heartbeat has expired, and a live
        ingest needs a moment to beat again before its sessions are taken for orphans."""
        now = time.monotonic()
        if await self._r.exists(keys.ingest_alive(owner)):
            self._missing_since.pop(owner, None)
            return False
        since = self._missing_since.setdefault(owner, now)
        return now - since >= self.policy.ingest_timeout_s

    async def finalise_orphan(self, session_id: str) -> pb.SessionEvent:
        """Stop the session with what reached the bus. The ingest's own stop marker wins if it stored
        one before it died; the event is announced again either way (the drafter's redraft is idempotent)."""
        event = await self.store.get_stop(session_id)
        if event is None:
            last_seq, end_s = await self._received(session_id)
            event = pb.SessionEvent(session_id=session_id, kind=pb.SessionEvent.STOPPED, last_seq=last_seq,
                                    duration_s=end_s, end_reason=INGEST_LOST)
            await self.store.put_stop(event)  # before the announcement, as ingest does
        await self.bus.publish(keys.SESSIONS, event)
        await self.store.mark_closed(session_id)
        log.warning("retention: session %s finalised without a stop (its ingest is gone; %d utterances received)",
                    session_id, event.last_seq + 1)
        return event

    async def _received(self, session_id: str) -> tuple[int, float]:
        """Highest utterance seq of the session on the bus (-1: none) and where its audio ended.
        Ingest sends utterances in order, so seqs 0..highest are all there."""
        ids = [eid for stream, eid in await self._indexed(session_id) if stream == keys.UTTERANCES]
        last_seq, end_s = -1, 0.0
        for eid in ids:
            for _id, fields in await self._r.xrange(keys.UTTERANCES, min=eid, max=eid):
                chunk = pb.AudioChunk.FromString(fields.get(b"m", b""))
                last_seq, end_s = max(last_seq, chunk.seq), max(end_s, chunk.end_s)
        return last_seq, end_s

    # --- finished sessions ---------------------------------------------------------------------

    async def _delete_finished(self, report: SweepReport) -> None:
        now = time.time()
        due = await self._r.zrangebyscore(keys.FINISHED, "-inf", now - self.policy.grace_s, withscores=True)
        for raw_sid, finished_at in due:
            sid = _text(raw_sid)
            deleted, waiting = await self.delete_consumed_entries(sid)
            report.entries_deleted += deleted
            report.entries_waiting += waiting
            if waiting == 0 and finished_at <= now - self.policy.settle_s:
                await self._r.zrem(keys.FINISHED, sid)
                report.sessions_done.append(sid)

    async def delete_consumed_entries(self, session_id: str) -> tuple[int, int]:
        """XDEL the session's indexed entries every group has acked; returns (deleted, still waiting)."""
        by_stream: dict[str, list[str]] = {}
        for stream, eid in await self._indexed(session_id):
            by_stream.setdefault(stream, []).append(eid)
        deleted = waiting = 0
        for stream, ids in by_stream.items():
            done = await self._consumed(stream, ids)
            if done:
                async with self._r.pipeline(transaction=True) as pipe:
                    pipe.xdel(stream, *done)
                    pipe.srem(keys.entry_index(session_id), *[f"{stream} {eid}" for eid in done])
                    await pipe.execute()
            deleted += len(done)
            waiting += len(ids) - len(done)
        if deleted:
            log.info("retention: session %s: %d stream entries deleted, %d waiting for a stage",
                     session_id, deleted, waiting)
        return deleted, waiting

    async def _consumed(self, stream: str, ids: list[str]) -> list[str]:
        """The ids every consumer group of `stream` has had delivered and acked."""
        try:
            groups = await self._r.xinfo_groups(stream)
        except ResponseError:
            return ids  # no such stream any more: nothing of it is left to keep
        done = set(ids)
        for group in groups:
            last = _id_key(_text(group["last-delivered-id"]))
            done = {eid for eid in done if _id_key(eid) <= last}
            if done and int(group["pending"]):
                lo, hi = min(done, key=_id_key), max(done, key=_id_key)
                pending = await self._r.xpending_range(stream, group["name"], min=lo, max=hi,
                                                       count=int(group["pending"]))
                done -= {_text(p["message_id"]) for p in pending}
        return sorted(done, key=_id_key)

    async def _indexed(self, session_id: str) -> list[tuple[str, str]]:
        out = []
        for member in await self._r.smembers(keys.entry_index(session_id)):
            stream, _, eid = _text(member).rpartition(" ")
            out.append((stream, eid))
        return out


async def keep_alive(bus: RedisBus, ingest_id: str, policy: RetentionPolicy, stop: asyncio.Event) -> None:
    """An ingest's heartbeat until `stop`: refreshed every policy.heartbeat_s, expiring
    policy.ingest_timeout_s after the last refresh (see retire for a clean exit)."""
    watch = OutageWatch(bus, "ingest", "refreshing its heartbeat")
    try:
        while not stop.is_set():
            await outlasting(watch, stop, lambda: beat(bus, ingest_id, policy))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), policy.heartbeat_s)
    except StopRequested:
        pass


async def retire(bus: RedisBus, ingest_id: str) -> None:
    """A clean exit, after ingest sent what it held: its open sessions are finalised at the next sweeps
    instead of after the timeout (their audio cannot go on without this process)."""
    with contextlib.suppress(Exception):  # best effort: otherwise the heartbeat expires by itself
        await bus.redis.delete(keys.ingest_alive(ingest_id))


async def beat(bus: RedisBus, ingest_id: str, policy: RetentionPolicy) -> None:
    """One heartbeat; an ingest beats once before it takes its first session."""
    ttl_ms = max(1, int(policy.ingest_timeout_s * 1000))
    await bus.redis.set(keys.ingest_alive(ingest_id), str(os.getpid()), px=ttl_ms)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _id_key(entry_id: str) -> tuple[int, int]:
    """A stream id as a comparable pair ("1700000000000-3" -> (1700000000000, 3))."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)
