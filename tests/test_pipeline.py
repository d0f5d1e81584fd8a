"""Embedded pipeline: silence, idempotent redelivery, finalisation."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np
import pytest

from proto import scribe_pb2 as pb
from services.asr.engine import WhisperEngine
from services.common import keys
from services.common.sentence_model import SentenceModelError
from services.pipeline import EmbeddedPipeline, StageStopped
from tests.cases import case_audio, case_context, load_case


async def test_silence_only_gives_no_segments_and_no_whisper_calls(engine: WhisperEngine, tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes(np.zeros(16_000 * 20, dtype=np.int16).tobytes())
    async with EmbeddedPipeline(engines=[engine]) as pipeline:
        result = await pipeline.run_file(path, case_context(load_case("pub-002")))
        assert await pipeline.bus.entries(keys.UTTERANCES) == []
        assert pipeline.asr[0].decoded_seconds == 0.0
    assert result.is_final
    assert list(result.draft.transcript) == []
    assert all(len(getattr(result.draft.note, s)) == 0 for s in ("subjective", "objective", "assessment", "plan"))


async def test_redelivered_segment_changes_nothing(engine: WhisperEngine) -> None:
    case = load_case("pub-001")
    async with EmbeddedPipeline(engines=[engine]) as pipeline:
        sid = await pipeline.ingest.start_session(case_context(case))
        seg = pb.TranscriptSegment(session_id=sid, seq=0, start_s=1.0, end_s=4.0, text="Patient reports pain 3/10.")
        for _ in range(3):  # the same committed segment delivered three times
            await pipeline.drafter.handle_segment(seg.SerializeToString())
        stop = await pipeline.ingest.stop_session(sid)
        assert stop.last_seq == -1
        draft = await pipeline.drafter.redraft(sid)
    assert [s.text for s in draft.transcript] == ["Patient reports pain 3/10."]


async def test_a_stage_that_cannot_start_ends_the_wait_with_its_reason(
        engine: WhisperEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A drafter pointed at a folder with no sentence model stops at start: the file's run says so at
    once instead of waiting out its timeout."""
    monkeypatch.setenv("SCRIBE_EMBEDDINGS_MODEL", str(tmp_path / "no-model"))
    async with EmbeddedPipeline(engines=[engine]) as pipeline:
        with pytest.raises(SentenceModelError, match="no sentence model at"):
            await asyncio.wait_for(pipeline.run_file(case_audio("pub-004"), case_context(load_case("pub-004"))), 60)


async def test_a_stage_that_dies_of_a_bug_is_named_without_its_message(engine: WhisperEngine) -> None:
    async with EmbeddedPipeline(engines=[engine]) as pipeline:
        async def broken_coder(stop: asyncio.Event) -> None:
            raise KeyError("words the patient said")

        pipeline._tasks.append(asyncio.create_task(broken_coder(asyncio.Event()), name="coder"))
        with pytest.raises(StageStopped) as failure:
            await asyncio.wait_for(pipeline.run_file(case_audio("pub-004"), case_context(load_case("pub-004"))), 60)
        assert str(failure.value) == "the coder stage stopped (KeyError)"
