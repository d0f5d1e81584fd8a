"""The message bus every service talks through: one interface, two implementations.

`MemoryBus` (services/common/memory_bus.py) joins the services inside one process;
`RedisBus` (services/common/redis_bus.py) joins separate processes through Redis Streams.
Both give at-least-once delivery to consumer groups: an entry stays pending until acked,
entries idle longer than `claim_idle_s` are taken over by another consumer, and past
`max_deliveries` an entry moves to the stream's dead-letter stream.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from google.protobuf.message import Message


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard the bus tries before giving an entry up.

    claim_idle_s: a pending entry idle this long is reclaimed by the next reader
        (its first consumer is presumed dead).
    max_deliveries: deliveries after which the entry goes to the dead-letter stream.
    block_s: how long one read waits for new entries.
    """

    claim_idle_s: float = 30.0
    max_deliveries: int = 5
    block_s: float = 1.0


@dataclass(frozen=True)
class Delivery:
    """One entry handed to a consumer; ack it only after its work is done."""

    stream: str
    entry_id: str
    payload: bytes
    deliveries: int


class Bus(abc.ABC):
    """Streams of serialised proto messages, read through consumer groups."""

    def __init__(self, policy: DeliveryPolicy | None = None) -> None:
        self.policy = policy or DeliveryPolicy()

    @abc.abstractmethod
    async def publish(self, stream: str, message: Message) -> str:
        """Append a message; returns its entry id."""

    @abc.abstractmethod
    async def ensure_group(self, stream: str, group: str) -> None:
        """Create the consumer group (and the stream) if missing; reads start at the stream's beginning."""

    @abc.abstractmethod
    async def read(self, stream: str, group: str, consumer: str, count: int = 1,
                   block_s: float | None = None) -> list[Delivery]:
        """Entries for this consumer: reclaimed stale ones first, then new ones.

        Waits up to block_s (default policy.block_s; 0: not at all) when there is nothing; entries
        past max_deliveries are moved to the dead-letter stream instead of being returned.
        """

    @abc.abstractmethod
    async def ack(self, stream: str, group: str, entry_id: str) -> None:
        """Mark an entry done for the group."""

    @abc.abstractmethod
    async def pending_count(self, stream: str, group: str) -> int:
        """Entries delivered to the group and not yet acked (for metrics and tests)."""

    @abc.abstractmethod
    async def entries(self, stream: str) -> list[tuple[str, bytes]]:
        """Every entry still in the stream, oldest first (for tools and tests)."""

    def is_outage(self, exc: BaseException) -> bool:
        """True when `exc` means the bus's server is away for now (wait and retry), not a bug or bad input.
        An in-process bus is never away."""
        return False

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
