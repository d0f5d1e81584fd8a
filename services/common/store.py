"""Per-session state shared by workers: context, segments by seq, stop marker, final result, and
short-lived speculative decodes (services/asr/speculation.py).

Every write is keyed by (session, seq) or by session, so a redelivered message overwrites
the same value instead of adding a duplicate: that is what makes at-least-once delivery
come out exactly once.

In Redis every per-session key carries an expiry from its first write (the retention period), renewed
when the session's result is stored: a session that never finishes still leaves nothing for good.
The registry of open sessions and the set of finished ones serve the retention janitor
(services/common/retention.py).
"""

from __future__ import annotations

import abc
import time
from collections import OrderedDict

from proto import scribe_pb2 as pb
from services.common import keys, redis_conn

SPECULATIONS_KEPT = 1024  # in memory: unclaimed speculative results beyond this are dropped, oldest first


class SessionStore(abc.ABC):
    @abc.abstractmethod
    async def put_context(self, session_id: str, context: pb.SessionContext) -> None: ...

    @abc.abstractmethod
    async def get_context(self, session_id: str) -> pb.SessionContext | None: ...

    @abc.abstractmethod
    async def put_segment(self, segment: pb.TranscriptSegment) -> None: ...

    @abc.abstractmethod
    async def segments(self, session_id: str) -> list[pb.TranscriptSegment]:
        """Every stored segment of the session, ordered by seq."""

    @abc.abstractmethod
    async def put_stop(self, event: pb.SessionEvent) -> None: ...

    @abc.abstractmethod
    async def get_stop(self, session_id: str) -> pb.SessionEvent | None: ...

    @abc.abstractmethod
    async def put_result(self, result: pb.CodingResult) -> None:
        """Keep the final result; the session's other keys start to expire."""

    @abc.abstractmethod
    async def get_result(self, session_id: str) -> pb.CodingResult | None: ...

    @abc.abstractmethod
    async def put_dismissal(self, session_id: str, kind: str, cpt: str, reason: str) -> None:
        """Keep the therapist's reason for dismissing flag `kind` on code `cpt` ("" = the whole visit)."""

    @abc.abstractmethod
    async def dismissals(self, session_id: str) -> dict[tuple[str, str], str]:
        """(kind, cpt) -> reason, for every flag dismissed in the session."""

    @abc.abstractmethod
    async def put_speculation(self, session_id: str, key: str, payload: bytes) -> None:
        """A short-lived speculative decode result (b"" while it is being decoded); expires by itself."""

    @abc.abstractmethod
    async def take_speculation(self, session_id: str, key: str) -> bytes | None:
        """The stored payload (None if absent); a finished result is removed as it is taken."""

    async def mark_open(self, session_id: str, ingest_id: str) -> None:  # noqa: B027 - Redis only
        """Ingest `ingest_id` holds the session open (so the janitor can finalise it if that ingest dies)."""

    async def mark_closed(self, session_id: str) -> None:  # noqa: B027 - Redis only
        """The session was stopped: no ingest holds it any longer."""

    async def session_known(self, session_id: str) -> bool:
        """True if anything of the session is kept (its context at least, until the retention ends)."""
        return await self.get_context(session_id) is not None or await self.get_result(session_id) is not None

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class MemoryStore(SessionStore):
    def __init__(self) -> None:
        self._contexts: dict[str, pb.SessionContext] = {}
        self._segments: dict[str, dict[int, pb.TranscriptSegment]] = {}
        self._stops: dict[str, pb.SessionEvent] = {}
        self._results: dict[str, pb.CodingResult] = {}
        self._dismissals: dict[str, dict[tuple[str, str], str]] = {}
        self._speculations: OrderedDict[tuple[str, str], bytes] = OrderedDict()

    async def put_context(self, session_id: str, context: pb.SessionContext) -> None:
        self._contexts[session_id] = context

    async def get_context(self, session_id: str) -> pb.SessionContext | None:
        return self._contexts.get(session_id)

    async def put_segment(self, segment: pb.TranscriptSegment) -> None:
        self._segments.setdefault(segment.session_id, {})[segment.seq] = segment

    async def segments(self, session_id: str) -> list[pb.TranscriptSegment]:
        by_seq = self._segments.get(session_id, {})
        return [by_seq[k] for k in sorted(by_seq)]

    async def put_stop(self, event: pb.SessionEvent) -> None:
        self._stops[event.session_id] = event

    async def get_stop(self, session_id: str) -> pb.SessionEvent | None:
        return self._stops.get(session_id)

    async def put_result(self, result: pb.CodingResult) -> None:
        self._results[result.session_id] = result

    async def get_result(self, session_id: str) -> pb.CodingResult | None:
        return self._results.get(session_id)

    async def put_dismissal(self, session_id: str, kind: str, cpt: str, reason: str) -> None:
        self._dismissals.setdefault(session_id, {})[(kind, cpt)] = reason

    async def dismissals(self, session_id: str) -> dict[tuple[str, str], str]:
        return dict(self._dismissals.get(session_id, {}))

    async def put_speculation(self, session_id: str, key: str, payload: bytes) -> None:
        self._speculations[(session_id, key)] = payload
        while len(self._speculations) > SPECULATIONS_KEPT:  # unclaimed ones (speech went on) age out
            self._speculations.popitem(last=False)

    async def take_speculation(self, session_id: str, key: str) -> bytes | None:
        payload = self._speculations.get((session_id, key))
        if payload:
            del self._speculations[(session_id, key)]
        return payload


class RedisStore(SessionStore):
    def __init__(self, url: str = "redis://127.0.0.1:6379/0", ttl_s: int = keys.SESSION_TTL_S) -> None:
        self._r = redis_conn.client(url)
        self._ttl_s = ttl_s

    async def put_context(self, session_id: str, context: pb.SessionContext) -> None:
        await self._r.set(keys.session_key(session_id, "context"), context.SerializeToString(), ex=self._ttl_s)

    async def get_context(self, session_id: str) -> pb.SessionContext | None:
        raw = await self._r.get(keys.session_key(session_id, "context"))
        return pb.SessionContext.FromString(raw) if raw is not None else None

    async def put_segment(self, segment: pb.TranscriptSegment) -> None:
        name = keys.session_key(segment.session_id, "segments")
        await self._hset_expiring(name, str(segment.seq), segment.SerializeToString())

    async def _hset_expiring(self, name: str, field: str, value: bytes | str) -> None:
        """HSET with the retention expiry: a hash created after the result (or never finished) expires too."""
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(name, field, value)
            pipe.expire(name, self._ttl_s)
            await pipe.execute()

    async def segments(self, session_id: str) -> list[pb.TranscriptSegment]:
        raw = await self._r.hgetall(keys.session_key(session_id, "segments"))
        segs = [pb.TranscriptSegment.FromString(v) for v in raw.values()]
        return sorted(segs, key=lambda s: s.seq)

    async def put_stop(self, event: pb.SessionEvent) -> None:
        await self._r.set(keys.session_key(event.session_id, "stop"), event.SerializeToString(), ex=self._ttl_s)

    async def get_stop(self, session_id: str) -> pb.SessionEvent | None:
        raw = await self._r.get(keys.session_key(session_id, "stop"))
        return pb.SessionEvent.FromString(raw) if raw is not None else None

    async def put_result(self, result: pb.CodingResult) -> None:
        sid = result.session_id
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.set(keys.session_key(sid, "result"), result.SerializeToString(), ex=self._ttl_s)
            for part in ("context", "segments", "stop", "dismissals"):
                pipe.expire(keys.session_key(sid, part), self._ttl_s)
            # Final: the janitor deletes its stream entries once every stage has acked them.
            pipe.zadd(keys.FINISHED, {sid: time.time()})
            await pipe.execute()

    async def get_result(self, session_id: str) -> pb.CodingResult | None:
        raw = await self._r.get(keys.session_key(session_id, "result"))
        return pb.CodingResult.FromString(raw) if raw is not None else None

    async def put_dismissal(self, session_id: str, kind: str, cpt: str, reason: str) -> None:
        await self._hset_expiring(keys.session_key(session_id, "dismissals"), f"{kind}|{cpt}", reason)

    async def dismissals(self, session_id: str) -> dict[tuple[str, str], str]:
        raw = await self._r.hgetall(keys.session_key(session_id, "dismissals"))
        out = {}
        for field, reason in raw.items():
            kind, _, cpt = field.decode().partition("|")
            out[(kind, cpt)] = reason.decode()
        return out

    async def put_speculation(self, session_id: str, key: str, payload: bytes) -> None:
        await self._r.set(keys.session_key(session_id, f"spec:{key}"), payload, ex=keys.SPECULATION_TTL_S)

    async def take_speculation(self, session_id: str, key: str) -> bytes | None:
        name = keys.session_key(session_id, f"spec:{key}")
        payload = await self._r.get(name)
        if payload:
            await self._r.delete(name)
        return payload

    async def mark_open(self, session_id: str, ingest_id: str) -> None:
        await self._r.hset(keys.OPEN_SESSIONS, session_id, ingest_id)

    async def mark_closed(self, session_id: str) -> None:
        await self._r.hdel(keys.OPEN_SESSIONS, session_id)

    async def close(self) -> None:
        await self._r.aclose()
