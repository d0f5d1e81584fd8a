"""Speculative commits for live sessions: decode an utterance before ingest confirms that it ended.

Ingest closes a live utterance after 300 ms of silence (shorter splits sentences at commas), and
a commit decode takes 0.3-0.5 s more. When an open utterance has been quiet for 60 ms (by a quick
VAD, services/ingest/live.py), ingest also publishes it as it stands (`speculative`, on the
partials stream). A worker with an idle model decodes it with the commit's own options and leaves
the result in the session store, keyed by the utterance's seq and the speculative chunk's end.
Ingest alone knows whether speech came after that point: if none did, the commit names the
speculation (`speculation_end_s`), because the audio differs only by more trailing silence, and
any worker answers it with the stored result instead of a second decode. If speech went on, the
commit names none and is decoded as usual.

A speculation being decoded is marked in the store (empty payload); a commit that finds the mark
waits for the result up to WAIT_S, then decodes itself (the speculating worker may have died).
"""

from __future__ import annotations

import asyncio
import time

from proto import scribe_pb2 as pb
from services.common.store import SessionStore

WAIT_S = 1.0  # longest a commit waits for a speculation in progress (a decode takes 0.3-0.5 s)
_POLL_S = 0.01  # a commit waiting on a speculation usually waits 0.1-0.2 s: poll finely


def speculation_key(chunk: pb.AudioChunk) -> str:
    """The store key of a speculative chunk, or of the speculation a commit names."""
    end_s = chunk.end_s if chunk.speculative else chunk.speculation_end_s
    return f"{chunk.seq}:{round(end_s * 1000)}"


class Speculations:
    def __init__(self, store: SessionStore, wait_s: float = WAIT_S) -> None:
        self.store = store
        self.wait_s = wait_s
        self.reused = 0  # commits answered from a speculation

    async def started(self, chunk: pb.AudioChunk) -> None:
        await self.store.put_speculation(chunk.session_id, speculation_key(chunk), b"")

    async def finished(self, chunk: pb.AudioChunk, segment: pb.TranscriptSegment) -> None:
        await self.store.put_speculation(chunk.session_id, speculation_key(chunk), segment.SerializeToString())

    async def claim(self, commit: pb.AudioChunk) -> pb.TranscriptSegment | None:
        """The speculative segment for this committed utterance, placed on the commit's span, or None."""
        if not commit.live or commit.speculation_end_s <= 0:
            return None
        key = speculation_key(commit)
        deadline = time.monotonic() + self.wait_s
        while True:
            payload = await self.store.take_speculation(commit.session_id, key)
            if payload is None:
                return None
            if payload:
                break
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(_POLL_S)
        segment = pb.TranscriptSegment.FromString(payload)
        if segment.start_s != commit.start_s:
            return None  # another utterance with the same seq (cannot happen within a session): decode
        if not segment.words:  # utterance times: the commit's span holds the extra trailing silence
            segment.end_s = max(segment.end_s, commit.end_s)
        self.reused += 1
        return segment
