"""In-process bus for embedded mode and tests: the same delivery rules as Redis, on asyncio."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from dataclasses import dataclass, field

from google.protobuf.message import Message

from services.common import metrics
from services.common.bus import Bus, Delivery, DeliveryPolicy
from services.common.keys import dead_letter


@dataclass
class _Pending:
    consumer: str
    delivered_at: float
    deliveries: int


@dataclass
class _Group:
    next_index: int = 0
    pending: dict[str, _Pending] = field(default_factory=dict)


class MemoryBus(Bus):
    """Streams as lists; consumer groups as a read cursor plus a pending table."""

    def __init__(self, policy: DeliveryPolicy | None = None) -> None:
        super().__init__(policy)
        self._streams: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
        self._groups: dict[tuple[str, str], _Group] = {}
        self._ids = itertools.count(1)
        self._changed: asyncio.Condition | None = None

    def _condition(self) -> asyncio.Condition:
        # Created lazily so the bus can be built outside a running loop.
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def publish(self, stream: str, message: Message) -> str:
        return await self._append(stream, message.SerializeToString())

    async def _append(self, stream: str, payload: bytes) -> str:
        entry_id = f"{int(time.time() * 1000)}-{next(self._ids)}"
        self._streams[stream].append((entry_id, payload))
        metrics.CHUNKS_OUT.labels(metrics.process_stage(), stream).inc()
        cond = self._condition()
        async with cond:
            cond.notify_all()
        return entry_id

    async def ensure_group(self, stream: str, group: str) -> None:
        self._groups.setdefault((stream, group), _Group())

    async def read(self, stream: str, group: str, consumer: str, count: int = 1,
                   block_s: float | None = None) -> list[Delivery]:
        await self.ensure_group(stream, group)
        deadline = time.monotonic() + (self.policy.block_s if block_s is None else block_s)
        while True:
            got = await self._reclaim(stream, group, consumer, count) or self._take_new(stream, group, consumer, count)
            if got:
                return got
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            cond = self._condition()
            async with cond:
                try:
                    await asyncio.wait_for(cond.wait(), timeout=min(remaining, self.policy.claim_idle_s))
                except TimeoutError:
                    pass

    async def _reclaim(self, stream: str, group: str, consumer: str, count: int) -> list[Delivery]:
        grp = self._groups[(stream, group)]
        now = time.monotonic()
        payloads = dict(self._streams[stream])
        out: list[Delivery] = []
        for entry_id, pend in list(grp.pending.items()):
            if len(out) >= count:
                break
            if now - pend.delivered_at < self.policy.claim_idle_s:
                continue
            pend.consumer, pend.delivered_at, pend.deliveries = consumer, now, pend.deliveries + 1
            if pend.deliveries > self.policy.max_deliveries:
                await self._append(dead_letter(stream), payloads[entry_id])
                del grp.pending[entry_id]
                continue
            out.append(Delivery(stream, entry_id, payloads[entry_id], pend.deliveries))
        return out

    def _take_new(self, stream: str, group: str, consumer: str, count: int) -> list[Delivery]:
        grp = self._groups[(stream, group)]
        entries = self._streams[stream][grp.next_index : grp.next_index + count]
        grp.next_index += len(entries)
        now = time.monotonic()
        for entry_id, _ in entries:
            grp.pending[entry_id] = _Pending(consumer, now, 1)
        return [Delivery(stream, entry_id, payload, 1) for entry_id, payload in entries]

    async def ack(self, stream: str, group: str, entry_id: str) -> None:
        grp = self._groups.get((stream, group))
        if grp is not None:
            grp.pending.pop(entry_id, None)

    async def pending_count(self, stream: str, group: str) -> int:
        grp = self._groups.get((stream, group))
        return len(grp.pending) if grp else 0

    async def entries(self, stream: str) -> list[tuple[str, bytes]]:
        return list(self._streams.get(stream, []))
