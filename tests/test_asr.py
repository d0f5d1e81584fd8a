"""ASR stage on the real model: decoding, session-clock times, invented tails, bad chunks."""

from __future__ import annotations

import numpy as np
import pytest

from proto import scribe_pb2 as pb
from services.asr.engine import DecodeOptions, Recognition, RecognizedWord, WhisperEngine
from services.asr.hallucination import trim_hallucinated_tail
from services.asr.pitch import median_pitch_hz
from services.asr.service import FILE_COMMIT, LIVE_COMMIT, AsrService
from services.common import keys
from services.common.consumer import StageFailure
from services.common.memory_bus import MemoryBus
from services.common.store import MemoryStore
from services.common.vocabulary import asr_prompt
from services.evaluation.score import word_error_rate
from services.ingest.audio import decode_audio, pcm_to_float
from services.ingest.vad import cut_utterances
from tests.cases import case_audio, case_context, load_case


def _w(text: str, start: float, end: float, p: float) -> RecognizedWord:
    return RecognizedWord(start, end, text, p)


def test_invented_closing_sentence_is_dropped() -> None:
    words = [_w("the", 8.1, 8.2, 0.99), _w("block.", 8.4, 8.7, 0.94), _w("Thank", 8.7, 9.2, 0.0),
             _w("you", 9.22, 9.22, 0.98), _w("for", 9.22, 9.22, 0.09), _w("watching.", 9.22, 9.22, 0.6)]
    assert [w.text for w in trim_hallucinated_tail(words)] == ["the", "block."]
    doubted = [_w("the", 4.6, 4.8, 1.0), _w("hallway.", 4.8, 5.0, 0.99), _w("Okay.", 5.0, 5.4, 0.04)]
    assert [w.text for w in trim_hallucinated_tail(doubted)] == ["the", "hallway."]


def test_a_real_second_sentence_is_kept() -> None:
    words = [_w("walker.", 3.4, 3.7, 0.89), _w("Next", 3.9, 4.1, 0.99), _w("visit", 4.1, 4.4, 0.87)]
    assert trim_hallucinated_tail(words) == words
    # Speech the model doubted after a comma, even with an invented tail after it, stays.
    words = [_w("twenty,", 2.8, 3.2, 0.61), _w("prom", 3.46, 3.5, 0.17), _w("press", 3.5, 3.8, 0.66),
             _w("ups.", 3.8, 4.0, 0.93), _w("Thank", 4.1, 4.5, 0.0), _w("you.", 4.5, 4.5, 0.98)]
    assert [w.text for w in trim_hallucinated_tail(words)] == ["twenty,", "prom", "press", "ups."]
    # A doubted word inside a sentence is not a tail.
    words = [_w("needed", 6.2, 6.5, 0.99), _w("fewer", 6.5, 6.8, 0.05), _w("cues.", 6.8, 7.1, 0.9)]
    assert trim_hallucinated_tail(words) == words


def test_pitch_separates_a_raised_voice() -> None:
    utts = cut_utterances(decode_audio(case_audio("pub-002")))
    speakers = [s["speaker"] for s in load_case("pub-002")["segments"]]
    therapist = [median_pitch_hz(u.pcm) for u, s in zip(utts, speakers, strict=True) if s == "therapist"]
    patient = [median_pitch_hz(u.pcm) for u, s in zip(utts, speakers, strict=True) if s == "patient"]
    assert max(therapist) < min(patient)
    assert median_pitch_hz(np.zeros(16_000, dtype=np.int16)) == 0.0


async def test_utterance_becomes_a_segment_on_the_session_clock(engine: WhisperEngine) -> None:
    case = load_case("pub-001")
    utt = cut_utterances(decode_audio(case_audio("pub-001")))[1]
    bus, store = MemoryBus(), MemoryStore()
    await store.put_context("s1", case_context(case))
    service = AsrService(bus, store, engine)
    chunk = pb.AudioChunk(session_id="s1", seq=1, start_s=utt.start_s, end_s=utt.end_s, sample_rate=16_000,
                          pcm_s16le=utt.pcm.astype("<i2").tobytes())
    await service.handle(chunk.SerializeToString())
    (entry,) = await bus.entries(keys.SEGMENTS)
    seg = pb.TranscriptSegment.FromString(entry[1])
    assert seg.seq == 1 and seg.session_id == "s1"
    assert "3/10" in seg.text and "pain" in seg.text.lower()  # written form, not "three out of ten"
    assert "three out of ten" not in seg.text
    assert seg.start_s == utt.start_s and seg.end_s == utt.end_s
    assert "3 out of 10" in seg.raw_text or "three out of ten" in seg.raw_text
    assert 0.5 < seg.confidence <= 1.0


def test_word_timings_are_available_on_request(engine: WhisperEngine) -> None:
    utt = cut_utterances(decode_audio(case_audio("pub-001")))[1]
    rec = engine.transcribe(pcm_to_float(utt.pcm), options=DecodeOptions(word_timestamps=True))
    assert rec.words and all(0 <= w.start_s <= w.end_s <= len(utt.pcm) / 16_000 + 0.1 for w in rec.words)
    assert rec.text == " ".join(w.text for w in rec.words)


async def test_wrong_sample_rate_is_rejected_not_retried(engine: WhisperEngine) -> None:
    service = AsrService(MemoryBus(), MemoryStore(), engine)
    chunk = pb.AudioChunk(session_id="s1", seq=0, sample_rate=8_000, pcm_s16le=b"\0\0" * 800)
    with pytest.raises(StageFailure, match="8000 Hz"):
        await service.handle(chunk.SerializeToString())


def test_a_shorter_encoder_window_keeps_the_words(engine: WhisperEngine) -> None:
    """The live-capture window (20 s) decodes through faster-whisper's own steps; on a dictated
    utterance it must say what the full 30 s window says, near enough to score the same."""
    case = load_case("pub-004")
    utts = cut_utterances(decode_audio(case_audio("pub-004")))[:3]
    prompt = asr_prompt(case_context(case))
    full = " ".join(engine.transcribe(pcm_to_float(u.pcm), prompt).text for u in utts)
    short = " ".join(engine.transcribe(pcm_to_float(u.pcm), prompt, DecodeOptions(window_s=20.0)).text
                     for u in utts)
    assert word_error_rate(full, short) <= 0.1
    assert 0.0 < engine.transcribe(pcm_to_float(utts[0].pcm), prompt, DecodeOptions(window_s=20.0)).confidence <= 1


async def test_live_chunks_decode_in_the_live_window(engine: WhisperEngine) -> None:
    """A live utterance is decoded with LIVE_COMMIT, a file's with the full window."""
    seen: list[float] = []
    real = engine.transcribe

    def spy(audio: np.ndarray, prompt: str = "", options: DecodeOptions | None = None) -> Recognition:
        seen.append((options or DecodeOptions()).window_s)
        return real(audio, prompt, options)

    utt = cut_utterances(decode_audio(case_audio("pub-001")))[1]
    service = AsrService(MemoryBus(), MemoryStore(), engine, partials=False)
    engine.transcribe = spy  # type: ignore[method-assign]
    try:
        for live in (True, False):
            chunk = pb.AudioChunk(session_id="s1", seq=int(live), start_s=utt.start_s, end_s=utt.end_s,
                                  sample_rate=16_000, pcm_s16le=utt.pcm.astype("<i2").tobytes(), live=live)
            await service.handle(chunk.SerializeToString())
    finally:
        del engine.transcribe  # type: ignore[method-assign]
    assert seen == [LIVE_COMMIT.window_s, FILE_COMMIT.window_s] and LIVE_COMMIT.window_s < FILE_COMMIT.window_s
