"""Load the shared evaluation cases for tests: context, gold transcript, audio path."""

from __future__ import annotations

import io
import json
import os
import wave
from pathlib import Path
from typing import Any

import numpy as np

from proto import scribe_pb2 as pb
from services.evaluation.runner import case_context, text_transcript

__all__ = ["case_audio", "case_context", "case_ids", "gold_draft", "gold_transcript", "load_case", "wav"]

EVAL_DIR = Path(os.environ.get("SCRIBE_EVAL_DIR", Path(__file__).resolve().parents[2] / "shared" / "eval" / "public"))


def case_ids() -> list[str]:
    """The shared cases' ids; an error (a failed collection, not an empty parametrisation that passes)
    when the cases are missing."""
    ids = sorted(p.stem for p in EVAL_DIR.glob("*.json"))
    if not ids:
        raise RuntimeError(f"no evaluation cases (*.json) in {EVAL_DIR}: check out ../shared/eval beside the "
                           "project or set SCRIBE_EVAL_DIR")
    return ids


def load_case(case_id: str) -> dict[str, Any]:
    return json.loads((EVAL_DIR / f"{case_id}.json").read_text())


def case_audio(case_id: str) -> Path:
    return EVAL_DIR / f"{case_id}.flac"


def gold_transcript(case: dict[str, Any], session_id: str = "gold") -> list[pb.TranscriptSegment]:
    """The case's spoken segments as committed transcript segments (written forms, gold speakers)."""
    out = text_transcript(case)
    for seg, gold in zip(out, case["segments"], strict=True):
        seg.session_id = session_id
        seg.speaker = gold["speaker"]
    return out


def gold_draft(case: dict[str, Any]) -> pb.DraftUpdate:
    """A draft made from the gold transcript, to test the coder in isolation from the drafter's ASR input."""
    from services.drafter.note import draft_note

    transcript = gold_transcript(case)
    ctx = case_context(case)
    return pb.DraftUpdate(
        session_id="gold",
        version=len(transcript),
        is_final=True,
        context=ctx,
        transcript=transcript,
        note=draft_note(transcript, ctx),
        duration_s=transcript[-1].end_s if transcript else 0.0,
    )


async def live_session_chunks(case_id: str, pcm: Any, stop: bool = False
                              ) -> tuple[list[pb.AudioChunk], list[pb.AudioChunk]]:
    """(chunks on scribe:partials, commits on scribe:utterances) of one live session with `case_id`'s
    context, fed `pcm` in 20 ms frames as WebRTC delivers it, then stopped if `stop`."""
    from services.common import keys
    from services.common.memory_bus import MemoryBus
    from services.common.store import MemoryStore
    from services.ingest.service import IngestService

    bus = MemoryBus()
    ingest = IngestService(bus, MemoryStore())
    sid = await ingest.start_session(case_context(load_case(case_id)), live=True, consent=True)
    for i in range(0, len(pcm), 320):
        await ingest.add_audio(sid, pcm[i : i + 320])
    if stop:
        await ingest.stop_session(sid)
    partials = [pb.AudioChunk.FromString(p) for _id, p in await bus.entries(keys.PARTIALS)]
    return partials, [pb.AudioChunk.FromString(p) for _id, p in await bus.entries(keys.UTTERANCES)]


def wav(pcm: np.ndarray, rate: int = 16_000) -> bytes:
    """Mono int16 samples as a WAV file's bytes (to upload a piece of a case's audio)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())
    return out.getvalue()
