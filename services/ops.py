"""What the operations person watches: backlog, lag, workers and failures per stage (`scribe status`).

Reads only stream metadata and error categories from Redis: never a payload, so never patient words.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from proto import scribe_pb2 as pb
from services.common import keys

WATCHED = (
    (keys.UTTERANCES, keys.GROUP_ASR),
    (keys.SEGMENTS, keys.GROUP_DRAFTER),
    (keys.SESSIONS, keys.GROUP_DRAFTER),
    (keys.DRAFTS, keys.GROUP_CODER),
)


@dataclass
class StageStatus:
    stream: str
    group: str
    length: int  # entries kept in the stream (capped)
    lag: int | None  # entries not yet delivered to the group (Redis 7+)
    pending: int  # delivered, not yet acked (in work, or held by a dead worker)
    consumers: list[tuple[str, int, float]] = field(default_factory=list)  # name, pending, idle s
    dead_letters: int = 0


@dataclass
class ClusterStatus:
    stages: list[StageStatus]
    errors_by_category: Counter[str]


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


async def read_status(url: str, recent_errors: int = 1000) -> ClusterStatus:
    r = aioredis.Redis.from_url(url)
    try:
        stages = []
        for stream, group in WATCHED:
            length = int(await r.xlen(stream))
            status = StageStatus(stream, group, length, None, 0)
            try:
                groups = await r.xinfo_groups(stream)
            except ResponseError:  # stream does not exist yet
                groups = []
            for g in groups:
                if _text(g["name"]) == group:
                    status.pending = int(g["pending"])
                    status.lag = int(g["lag"]) if g.get("lag") is not None else None
                    for c in await r.xinfo_consumers(stream, group):
                        status.consumers.append((_text(c["name"]), int(c["pending"]), int(c["idle"]) / 1000))
            status.dead_letters = int(await r.xlen(keys.dead_letter(stream)))
            stages.append(status)
        errors: Counter[str] = Counter()
        for _id, fields in await r.xrevrange(keys.ERRORS, count=recent_errors):
            err = pb.StageError.FromString(fields[b"m"])
            errors[f"{err.stage}:{err.category}"] += 1
        return ClusterStatus(stages, errors)
    finally:
        await r.aclose()
