"""Redis Streams bus: XADD, consumer groups with XREADGROUP/XACK, XAUTOCLAIM for stale entries.

Each RedisBus owns two connections: one for blocking reads (a blocking XREADGROUP must not
share a connection whose socket timeout is shorter than the block) and one for everything else.
Both reconnect by themselves after a Redis restart (services/common/redis_conn.py).

Every entry that belongs to a session is recorded in that session's entry index as it is added (one
Lua script: XADD and SADD together), so the retention janitor can delete a finished session's entries
by id instead of scanning streams of audio (services/common/retention.py).
"""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis
from google.protobuf.message import Message
from redis.exceptions import ResponseError

from services.common import keys, metrics, redis_conn
from services.common.bus import Bus, Delivery, DeliveryPolicy
from services.common.consumer import session_of

_FIELD = b"m"
# Streams are capped (approximately) so an abandoned deployment cannot fill memory; the
# audio stream holds large entries, so its cap is lower. Both far exceed a clinic's backlog.
DEFAULT_MAXLEN = 100_000
MAXLEN = {keys.UTTERANCES: 20_000, keys.PARTIALS: keys.PARTIALS_MAXLEN}  # a stale partial is worthless
# Redis ends a blocked read that timed out on its timer tick (every 100 ms at the default hz 10): here
# a 20 ms BLOCK returned after 40-100 ms. A shorter wait is a read without BLOCK, then a local sleep.
MIN_SERVER_BLOCK_S = 0.1
# XADD and the entry's record in its session's index in one step: a publisher that dies between two
# commands would otherwise leave an entry (perhaps audio) the janitor cannot find. KEYS: stream, and the
# index when the entry has a session; ARGV: maxlen, the index's expiry, then the entry's fields.
_PUBLISH_LUA = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 3))
if #KEYS > 1 then
  redis.call('SADD', KEYS[2], KEYS[1] .. ' ' .. id)
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return id
"""


class RedisBus(Bus):
    def __init__(self, url: str = "redis://127.0.0.1:6379/0", policy: DeliveryPolicy | None = None,
                 index_ttl_s: int = keys.SESSION_TTL_S) -> None:
        """index_ttl_s: expiry of a session's entry index (refreshed on each entry), so even an index
        the janitor never reaches does not outlive the retention period."""
        super().__init__(policy)
        self.url = url
        self._cmd = redis_conn.client(url)
        self._xadd_indexed = self._cmd.register_script(_PUBLISH_LUA)
        self._index_ttl_s = index_ttl_s
        self._blocking = redis_conn.client(url)
        self._last_claim: dict[tuple[str, str], float] = {}
        self._groups: set[tuple[str, str]] = set()

    @property
    def redis(self) -> aioredis.Redis:
        return self._cmd

    async def publish(self, stream: str, message: Message) -> str:
        payload = message.SerializeToString()
        return await self._add(stream, getattr(message, "session_id", ""), [_FIELD, payload])

    async def _add(self, stream: str, session_id: str, fields: list[bytes | str | int]) -> str:
        """XADD, recording the entry in its session's index (see _PUBLISH_LUA)."""
        names = [stream, keys.entry_index(session_id)] if session_id else [stream]
        maxlen = MAXLEN.get(stream, DEFAULT_MAXLEN)
        entry_id = await self._xadd_indexed(keys=names, args=[maxlen, self._index_ttl_s, *fields])
        metrics.CHUNKS_OUT.labels(metrics.process_stage(), stream).inc()
        return _text(entry_id)

    async def ensure_group(self, stream: str, group: str) -> None:
        if (stream, group) in self._groups:
            return
        try:
            await self._cmd.xgroup_create(stream, group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups.add((stream, group))

    def is_outage(self, exc: BaseException) -> bool:
        return redis_conn.is_outage(exc)

    async def read(self, stream: str, group: str, consumer: str, count: int = 1,
                   block_s: float | None = None) -> list[Delivery]:
        await self.ensure_group(stream, group)
        try:
            return await self._read(stream, group, consumer, count, block_s)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # Redis came back without its data (no persistence): make the group again on the next read.
            self._groups.discard((stream, group))
            return []

    async def _read(self, stream: str, group: str, consumer: str, count: int,
                    block_s: float | None) -> list[Delivery]:
        reclaimed = await self._reclaim(stream, group, consumer, count)
        if reclaimed:
            return reclaimed
        wait_s = self.policy.block_s if block_s is None else block_s
        # XREADGROUP without BLOCK returns at once (BLOCK 0 would wait forever).
        block_ms = int(wait_s * 1000) if wait_s >= MIN_SERVER_BLOCK_S else None
        resp = await self._blocking.xreadgroup(group, consumer, {stream: ">"}, count=count, block=block_ms)
        if not resp and block_ms is None and wait_s > 0:
            await asyncio.sleep(wait_s)  # the short wait, kept to its length (see MIN_SERVER_BLOCK_S)
        out: list[Delivery] = []
        for _stream, entries in resp or []:
            for entry_id, fields in entries:
                out.append(Delivery(stream, _text(entry_id), fields.get(_FIELD, b""), 1))
        return out

    async def _reclaim(self, stream: str, group: str, consumer: str, count: int) -> list[Delivery]:
        """Take over entries idle past claim_idle_s, following XAUTOCLAIM's cursor through the PEL."""
        now = time.monotonic()
        # Scanning the pending list on every read would be wasteful; a few times per idle bound suffices.
        if now - self._last_claim.get((stream, group), 0.0) < self.policy.claim_idle_s / 4:
            return []
        self._last_claim[(stream, group)] = now
        idle_ms = int(self.policy.claim_idle_s * 1000)
        cursor: bytes | str = "0-0"
        while True:
            next_cursor, entries, _deleted = await self._cmd.xautoclaim(
                stream, group, consumer, min_idle_time=idle_ms, start_id=cursor, count=count
            )
            out = []
            for entry_id, fields in entries:
                if fields is None:  # trimmed away while pending
                    await self._cmd.xack(stream, group, entry_id)
                    continue
                deliveries = await self._delivery_count(stream, group, entry_id)
                if deliveries > self.policy.max_deliveries:
                    await self._dead_letter(stream, group, entry_id, fields.get(_FIELD, b""), deliveries)
                    continue
                out.append(Delivery(stream, _text(entry_id), fields.get(_FIELD, b""), deliveries))
            if out:
                # More may be waiting: look again on the next read instead of after the interval.
                self._last_claim[(stream, group)] = 0.0
                return out
            if _text(next_cursor) == "0-0":
                return []
            cursor = next_cursor

    async def _delivery_count(self, stream: str, group: str, entry_id: bytes | str) -> int:
        info = await self._cmd.xpending_range(stream, group, min=entry_id, max=entry_id, count=1)
        return int(info[0]["times_delivered"]) if info else 1

    async def _dead_letter(self, stream: str, group: str, entry_id: bytes | str, payload: bytes, n: int) -> None:
        await self._add(keys.dead_letter(stream), session_of(payload),
                        [_FIELD, payload, b"group", group, b"origin_id", entry_id, b"deliveries", n])
        metrics.ERRORS.labels(group, "dead_letter").inc()
        await self._cmd.xack(stream, group, entry_id)

    async def ack(self, stream: str, group: str, entry_id: str) -> None:
        await self._cmd.xack(stream, group, entry_id)

    async def pending_count(self, stream: str, group: str) -> int:
        try:
            info = await self._cmd.xpending(stream, group)
        except ResponseError:
            return 0
        return int(info["pending"])

    async def entries(self, stream: str) -> list[tuple[str, bytes]]:
        return [(_text(i), f.get(_FIELD, b"")) for i, f in await self._cmd.xrange(stream)]

    async def close(self) -> None:
        await self._cmd.aclose()
        await self._blocking.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
