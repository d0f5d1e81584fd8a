"""Delivery rules, identical for the in-memory bus and Redis Streams (real server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from proto import scribe_pb2 as pb
from services.common.bus import Bus, DeliveryPolicy
from services.common.keys import dead_letter
from services.common.memory_bus import MemoryBus
from services.common.redis_bus import RedisBus

POLICY = DeliveryPolicy(claim_idle_s=0.3, max_deliveries=2, block_s=0.1)


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    if request.param == "memory":
        b: Bus = MemoryBus(POLICY)
    else:
        b = RedisBus(request.getfixturevalue("redis_url"), POLICY)
    yield b
    await b.close()


def _seg(seq: int) -> pb.TranscriptSegment:
    return pb.TranscriptSegment(session_id="s1", seq=seq, text=f"t{seq}")


async def test_entries_split_between_consumers_and_ack_clears_pending(bus: Bus) -> None:
    await bus.ensure_group("t:s", "g")
    for i in range(4):
        await bus.publish("t:s", _seg(i))
    a = await bus.read("t:s", "g", "a", count=2)
    b = await bus.read("t:s", "g", "b", count=2)
    seqs = sorted(pb.TranscriptSegment.FromString(d.payload).seq for d in a + b)
    assert seqs == [0, 1, 2, 3]
    assert await bus.pending_count("t:s", "g") == 4
    for d in a + b:
        await bus.ack("t:s", "g", d.entry_id)
    assert await bus.pending_count("t:s", "g") == 0
    assert await bus.read("t:s", "g", "a") == []


async def test_unacked_entry_is_reclaimed_by_another_consumer(bus: Bus) -> None:
    await bus.ensure_group("t:s", "g")
    await bus.publish("t:s", _seg(7))
    first = await bus.read("t:s", "g", "dead-worker")
    assert len(first) == 1 and first[0].deliveries == 1
    assert await bus.read("t:s", "g", "live-worker") == []  # not idle long enough yet
    await asyncio.sleep(POLICY.claim_idle_s + 0.1)
    again = await bus.read("t:s", "g", "live-worker")
    assert [d.entry_id for d in again] == [first[0].entry_id]
    assert again[0].deliveries == 2
    assert pb.TranscriptSegment.FromString(again[0].payload).seq == 7


async def test_entry_past_delivery_cap_goes_to_dead_letter(bus: Bus) -> None:
    await bus.ensure_group("t:s", "g")
    await bus.publish("t:s", _seg(9))
    for _ in range(POLICY.max_deliveries):
        got = []
        for _ in range(20):
            got = await bus.read("t:s", "g", "w")
            if got:
                break
            await asyncio.sleep(0.05)
        assert len(got) == 1
        await asyncio.sleep(POLICY.claim_idle_s + 0.1)
    assert await bus.read("t:s", "g", "w") == []
    dead = await bus.entries(dead_letter("t:s"))
    assert len(dead) == 1
    assert pb.TranscriptSegment.FromString(dead[0][1]).seq == 9
    assert await bus.pending_count("t:s", "g") == 0


async def test_a_read_with_block_zero_returns_at_once(bus: Bus) -> None:
    """block_s=0 does not wait (Redis: XREADGROUP without BLOCK; BLOCK 0 would wait forever)."""
    t0 = asyncio.get_running_loop().time()
    assert await bus.read("s", "g", "c1", block_s=0) == []
    await bus.publish("s", _seg(1))
    (got,) = await bus.read("s", "g", "c1", block_s=0)
    assert pb.TranscriptSegment.FromString(got.payload).seq == 1
    assert asyncio.get_running_loop().time() - t0 < POLICY.block_s


async def test_a_short_wait_keeps_to_its_length(bus: Bus) -> None:
    """A 20 ms wait lasts about 20 ms. Redis ends a timed-out BLOCK only on its 100 ms timer tick, so the
    asr commit reader, which steps aside for partials between such reads, would hold them up 5x longer."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for _ in range(5):
        assert await bus.read("s", "g", "c1", block_s=0.02) == []
    assert 0.1 <= loop.time() - t0 < 0.3  # Redis's own BLOCK: 0.4-0.5 s
