"""Redis Streams bus: XADD, consumer groups with XREADGROUP/XACK, XAUTOCLAIM for stale entries.

Each RedisBus owns two connections: one for blocking reads (a blocking XREADGROUP must not
share a connection whose socket timeout is shorter than the block) and one for everything else.
Both reconnect by themselves after a Redis restart (services/common/redis_conn.py).
"""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis
from google.protobuf.message import Message
from redis.exceptions import ResponseError

from services.common import keys, redis_conn
from services.common.bus import Bus, Delivery, DeliveryPolicy

_FIELD = b"m"
# Streams are capped (approximately) so an abandoned deployment cannot fill memory; the
# audio stream holds large entries, so its cap is lower. Both far exceed a clinic's backlog.
DEFAULT_MAXLEN = 100_000
MAXLEN = {keys.UTTERANCES: 20_000, keys.PARTIALS: keys.PARTIALS_MAXLEN}  # a stale partial is worthless
# Redis ends a blocked read that timed out on its timer tick (every 100 ms at the default hz 10): here
# a 20 ms BLOCK returned after 40-100 ms. A shorter wait is a read without BLOCK, then a local sleep.
MIN_SERVER_BLOCK_S = 0.1


class RedisBus(Bus):
    def __init__(self, url: str = "redis://127.0.0.1:6379/0", policy: DeliveryPolicy | None = None) -> None:
        super().__init__(policy)
        self.url = url
        self._cmd = redis_conn.client(url)
        self._blocking = redis_conn.client(url)
        self._last_claim: dict[tuple[str, str], float] = {}
        self._groups: set[tuple[str, str]] = set()

    @property
    def redis(self) -> aioredis.Redis:
        return self._cmd

    async def publish(self, stream: str, message: Message) -> str:
        entry_id = await self._cmd.xadd(
            stream, {_FIELD: message.SerializeToString()}, maxlen=MAXLEN.get(stream, DEFAULT_MAXLEN), approximate=True
        )
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

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
        await self._cmd.xadd(
            keys.dead_letter(stream),
            {_FIELD: payload, b"group": group, b"origin_id": entry_id, b"deliveries": n},
            maxlen=DEFAULT_MAXLEN,
            approximate=True,
        )
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
