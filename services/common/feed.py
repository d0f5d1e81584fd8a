"""A session's live feed: partial and committed transcript, draft and code updates, as JSON events.

The feed reads the shared streams with plain XREAD (no consumer group: every listener sees
everything) from just before the session's STARTED entry, and keeps the entries of one session.
A clinic runs a handful of sessions at once, so filtering by session id is cheaper than keeping
per-session copies of every stream. The feed ends after the final codes.

Partials of one utterance pass through LocalAgreement-2 (services/asr/agreement.py): the words two
successive hypotheses agree on are marked `stable`, so a display can show them firm while the
tail still flickers. Partials for an utterance already committed are dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from redis.backoff import ExponentialWithJitterBackoff

from proto import scribe_pb2 as pb
from services.asr.agreement import LocalAgreement
from services.common import keys, redis_conn
from services.common.bus import Bus
from services.common.consumer import session_of
from services.common.export import SECTIONS, result_to_dict
from services.common.outage import FIRST_WAIT_S, MAX_WAIT_S

_FIELD = b"m"
POLL_S = 0.05  # in-memory bus: how often a feed looks for new entries


def event_of(stream: str, payload: bytes) -> dict[str, Any] | None:
    """The JSON event for one bus entry (None for entries a feed does not show)."""
    if stream == keys.SESSIONS:
        ev = pb.SessionEvent.FromString(payload)
        return {"type": "session", "kind": pb.SessionEvent.Kind.Name(ev.kind).lower(),
                "last_seq": ev.last_seq, "duration_s": round(ev.duration_s, 2)}
    if stream == keys.PARTIAL_TEXT:
        p = pb.PartialTranscript.FromString(payload)
        return {"type": "partial", "seq": p.seq, "start_s": round(p.start_s, 2), "end_s": round(p.end_s, 2),
                "text": p.text, "sent_unix_s": p.sent_unix_s}
    if stream == keys.SEGMENTS:
        s = pb.TranscriptSegment.FromString(payload)
        return {"type": "segment", "seq": s.seq, "start_s": round(s.start_s, 2), "end_s": round(s.end_s, 2),
                "speech_end_s": s.speech_end_s, "text": s.text,
                "words": [{"start_s": round(w.start_s, 2), "end_s": round(w.end_s, 2), "text": w.text}
                          for w in s.words]}
    if stream == keys.DRAFTS:
        d = pb.DraftUpdate.FromString(payload)
        return {"type": "draft", "version": d.version, "is_final": d.is_final,
                "note": {name: [i.text for i in getattr(d.note, name)] for name in SECTIONS}}
    if stream == keys.CODES:
        r = pb.CodingResult.FromString(payload)
        return {"type": "codes", "version": r.version, "is_final": r.is_final, **result_to_dict(r)}
    if stream == keys.ERRORS:
        e = pb.StageError.FromString(payload)
        return {"type": "error", "stage": e.stage, "category": e.category, "message": e.message, "fatal": e.fatal}
    return None


def before(entry_id: str) -> str:
    """An id just before `entry_id`'s millisecond: ids of different streams in the same ms are not ordered."""
    ms = int(entry_id.split("-")[0]) if entry_id and entry_id[0].isdigit() else 0
    return f"{max(0, ms - 1)}-0"


async def _tail_redis(url: str, start_id: str, stop: asyncio.Event) -> AsyncIterator[tuple[str, bytes]]:
    # Own connection: a blocking XREAD must not share one with short socket timeouts.
    conn = redis_conn.client(url)
    cursors = dict.fromkeys(keys.FEED_STREAMS, start_id)
    outage = ExponentialWithJitterBackoff(cap=MAX_WAIT_S, base=FIRST_WAIT_S)
    failures = 0
    try:
        while not stop.is_set():
            try:
                resp = await conn.xread(cursors, block=500, count=200)  # type: ignore[arg-type]
                failures = 0
            except Exception as exc:
                if not redis_conn.is_outage(exc):
                    raise
                # Redis restarting: keep the listener (pings go on) and read on from the same cursors.
                failures += 1
                yield "", b""
                await asyncio.sleep(outage.compute(failures))
                continue
            if not resp:
                yield "", b""  # idle: lets the caller notice a listener that went away
            for raw_stream, entries in resp or []:
                stream = raw_stream.decode() if isinstance(raw_stream, bytes) else raw_stream
                for entry_id, fields in entries:
                    cursors[stream] = entry_id
                    yield stream, fields.get(_FIELD, b"")
    finally:
        await conn.aclose()


async def _tail_memory(bus: Bus, stop: asyncio.Event) -> AsyncIterator[tuple[str, bytes]]:
    seen = dict.fromkeys(keys.FEED_STREAMS, 0)
    while not stop.is_set():
        fresh = False
        for stream in keys.FEED_STREAMS:
            entries = await bus.entries(stream)
            for _id, payload in entries[seen[stream]:]:
                fresh = True
                yield stream, payload
            seen[stream] = len(entries)
        if not fresh:
            yield "", b""
            await asyncio.sleep(POLL_S)


async def session_feed(bus: Bus, session_id: str, start_id: str = "0-0",
                       stop: asyncio.Event | None = None) -> AsyncIterator[dict[str, Any]]:
    """Every event of one session, in arrival order, until its final codes (or `stop`)."""
    stop = stop or asyncio.Event()
    url = getattr(bus, "url", None)
    source = _tail_redis(url, before(start_id), stop) if url else _tail_memory(bus, stop)
    committed: set[int] = set()
    agreement: dict[int, LocalAgreement] = {}
    async for stream, payload in source:
        if not stream:
            yield {"type": "ping"}
            continue
        if session_of(payload) != session_id:
            continue
        event = event_of(stream, payload)
        if event is None:
            continue
        if event["type"] == "partial":
            if event["seq"] in committed:
                continue  # decoded after its utterance was committed: outdated
            la = agreement.setdefault(event["seq"], LocalAgreement())
            event["stable"] = " ".join(la.update(event["text"].split()))
        elif event["type"] == "segment":
            committed.add(event["seq"])
            agreement.pop(event["seq"], None)
        yield event
        if event["type"] == "codes" and event["is_final"]:
            return
