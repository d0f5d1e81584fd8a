"""`scribe purge SESSION`: delete everything of one session from Redis, then prove nothing is left.

What a session leaves in Redis: entries in the shared streams (any scribe:* stream, dead letters
and errors included), its keys (session:{id}:*), and its place in scribe:open and scribe:finished.
The scribe keeps no file per session (ingest holds audio in memory only, the model and token files
are not per session), so there are none to delete; the report says so.

Both the deletion and the proof read every entry of every stream instead of trusting the session's
entry index: the proof must not rest on what it checks. Entries of the session still pending in a
consumer group are acked as they are deleted, so no group keeps an id that no longer exists.

A session still open on a live ingest is refused: its audio would go on arriving after the purge.
Stop it (or let it be finalised) first. Output carries ids, key names and counts only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from services.common import keys, redis_conn
from services.common.consumer import session_of
from services.common.errors import InputError

SESSION_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")  # no glob characters: the id goes into SCAN MATCH
BATCH = 500  # entries read per XRANGE, keys per SCAN step
REGISTRIES = (keys.OPEN_SESSIONS, keys.FINISHED)


class UnknownSession(InputError):
    """Nothing of the session is in Redis."""


class SessionStillOpen(InputError):
    """The session is being recorded by a live ingest."""


@dataclass
class Trace:
    """What of one session one scan of Redis found."""

    entries: dict[str, list[str]] = field(default_factory=dict)  # stream -> entry ids of the session
    keys: list[str] = field(default_factory=list)
    registries: list[str] = field(default_factory=list)  # scribe:open / scribe:finished holding it
    streams_checked: list[str] = field(default_factory=list)
    entries_checked: int = 0

    @property
    def empty(self) -> bool:
        return not (self.entries or self.keys or self.registries)

    def describe(self) -> list[str]:
        return ([f"{stream} {len(ids)} entries" for stream, ids in sorted(self.entries.items())]
                + self.keys + [f"{name} (member)" for name in self.registries])


@dataclass
class PurgeReport:
    session_id: str
    deleted: Trace  # what the first scan found and was deleted
    after: Trace  # the re-scan: must be empty

    @property
    def clean(self) -> bool:
        return self.after.empty


def check_session_id(session_id: str) -> str:
    if not SESSION_ID.fullmatch(session_id):
        raise InputError("a session id is 1-128 letters, digits, '.', '_' or '-'")
    return session_id


async def purge_session(url: str, session_id: str) -> PurgeReport:
    """Delete every trace of the session, then scan again; raises UnknownSession if there was none."""
    sid = check_session_id(session_id)
    r = redis_conn.client(url)
    try:
        await _refuse_if_recording(r, sid)
        found = await trace_session(r, sid)
        if found.empty:
            raise UnknownSession(f"no session {sid} in Redis: never started here, already purged, "
                                 "or expired after the retention period")
        await _delete(r, sid, found)
        return PurgeReport(sid, found, await trace_session(r, sid))
    finally:
        await r.aclose()


async def _refuse_if_recording(r: aioredis.Redis, sid: str) -> None:
    owner = await r.hget(keys.OPEN_SESSIONS, sid)
    if owner is not None and await r.exists(keys.ingest_alive(_text(owner))):
        raise SessionStillOpen(f"session {sid} is still open on a running ingest; stop it first")


async def trace_session(r: aioredis.Redis, sid: str) -> Trace:
    """Everything of the session in Redis: a full read of every scribe stream, its keys, its registries."""
    trace = Trace()
    async for raw in r.scan_iter(match=f"{keys.PREFIX}:*", count=BATCH, _type="STREAM"):
        stream = _text(raw)
        trace.streams_checked.append(stream)
        ids = await _entries_of(r, stream, sid, trace)
        if ids:
            trace.entries[stream] = ids
    async for raw in r.scan_iter(match=keys.session_key(sid, "*"), count=BATCH):
        trace.keys.append(_text(raw))
    if await r.hexists(keys.OPEN_SESSIONS, sid):
        trace.registries.append(keys.OPEN_SESSIONS)
    if await r.zscore(keys.FINISHED, sid) is not None:
        trace.registries.append(keys.FINISHED)
    trace.keys.sort()
    return trace


async def _entries_of(r: aioredis.Redis, stream: str, sid: str, trace: Trace) -> list[str]:
    """Ids of the session's entries in one stream, read in batches (every message carries its session)."""
    ids: list[str] = []
    start = "-"
    while True:
        batch = await r.xrange(stream, min=start, count=BATCH)
        for entry_id, fields in batch:
            trace.entries_checked += 1
            if session_of(fields.get(b"m", b"")) == sid:
                ids.append(_text(entry_id))
        if len(batch) < BATCH:
            return ids
        start = "(" + _text(batch[-1][0])  # exclusive: the next entry after the last read


async def _delete(r: aioredis.Redis, sid: str, found: Trace) -> None:
    for stream, ids in found.entries.items():
        groups = await _groups(r, stream)
        for i in range(0, len(ids), BATCH):
            chunk = ids[i:i + BATCH]
            async with r.pipeline(transaction=True) as pipe:
                for group in groups:
                    pipe.xack(stream, group, *chunk)  # a pending id that no longer exists helps no one
                pipe.xdel(stream, *chunk)
                await pipe.execute()
    async with r.pipeline(transaction=True) as pipe:
        if found.keys:
            pipe.delete(*found.keys)
        pipe.hdel(keys.OPEN_SESSIONS, sid)
        pipe.zrem(keys.FINISHED, sid)
        await pipe.execute()


async def _groups(r: aioredis.Redis, stream: str) -> list[str]:
    try:
        return [_text(g["name"]) for g in await r.xinfo_groups(stream)]
    except ResponseError:
        return []


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
