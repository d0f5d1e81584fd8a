"""Session state, identical for the in-memory store and Redis (real server)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis

from proto import scribe_pb2 as pb
from services.common import keys
from services.common.store import MemoryStore, RedisStore, SessionStore


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SessionStore]:
    s: SessionStore = MemoryStore() if request.param == "memory" else RedisStore(request.getfixturevalue("redis_url"))
    yield s
    await s.close()


async def test_segments_are_keyed_by_seq_so_redelivery_overwrites(store: SessionStore) -> None:
    for seq in (2, 0, 1, 2, 0):
        await store.put_segment(pb.TranscriptSegment(session_id="s", seq=seq, text=f"utterance {seq}"))
    await store.put_segment(pb.TranscriptSegment(session_id="other", seq=0, text="x"))
    assert [s.seq for s in await store.segments("s")] == [0, 1, 2]
    assert await store.segments("nobody") == []


async def test_context_stop_and_result_round_trip(store: SessionStore) -> None:
    ctx = pb.SessionContext(payer="medicare", discipline="PT", goals=["walk 300 feet"])
    await store.put_context("s", ctx)
    assert await store.get_context("s") == ctx
    assert await store.get_context("t") is None
    stop = pb.SessionEvent(session_id="s", kind=pb.SessionEvent.STOPPED, last_seq=4, duration_s=61.5)
    await store.put_stop(stop)
    assert await store.get_stop("s") == stop
    result = pb.CodingResult(session_id="s", version=5, is_final=True, codes=[pb.CodeSuggestion(cpt="97110")])
    await store.put_result(result)
    assert await store.get_result("s") == result


async def test_dismissals_keep_their_reasons(store: SessionStore) -> None:
    await store.put_dismissal("s", "missing_goal_link", "97530", "goal sentence is in the plan of care")
    await store.put_dismissal("s", "missing_laterality", "", "bilateral exercise")
    await store.put_dismissal("s", "missing_goal_link", "97530", "updated reason")
    assert await store.dismissals("s") == {
        ("missing_goal_link", "97530"): "updated reason",
        ("missing_laterality", ""): "bilateral exercise",
    }


async def test_final_result_starts_the_session_keys_expiring(redis_url: str) -> None:
    store = RedisStore(redis_url, ttl_s=120)
    await store.put_context("s", pb.SessionContext(payer="medicare"))
    await store.put_segment(pb.TranscriptSegment(session_id="s", seq=0))
    await store.put_result(pb.CodingResult(session_id="s", is_final=True))
    client = redis.Redis.from_url(redis_url)
    for part in ("context", "segments", "result"):
        assert 0 < client.ttl(keys.session_key("s", part)) <= 120
    client.close()
    await store.close()
