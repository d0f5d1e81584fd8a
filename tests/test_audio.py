"""Decoding and resampling through PyAV, and VAD cutting, on real audio."""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np
import pytest

from services.common.errors import AudioError
from services.ingest.audio import decode_audio
from services.ingest.vad import UtteranceCutter, cut_utterances
from tests.cases import case_audio, load_case


def _write_wav(path: Path, rate: int, channels: int, seconds: float, freq: float = 220.0) -> None:
    t = np.arange(int(rate * seconds)) / rate
    tone = (0.3 * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)
    frames = np.repeat(tone[:, None], channels, axis=1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames.tobytes())


@pytest.mark.parametrize(("rate", "channels"), [(48_000, 2), (8_000, 1), (44_100, 2), (16_000, 1)])
def test_any_rate_and_layout_becomes_16k_mono(tmp_path: Path, rate: int, channels: int) -> None:
    path = tmp_path / "tone.wav"
    _write_wav(path, rate, channels, seconds=2.0)
    pcm = decode_audio(path)
    assert pcm.dtype == np.int16
    assert abs(len(pcm) - 32_000) <= 32  # 2 s at 16 kHz, give or take the resampler's edge
    # The tone survives: its dominant frequency is still 220 Hz.
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float32)))
    assert abs(np.argmax(spectrum) * 16_000 / len(pcm) - 220) < 2


def test_compressed_formats_decode(tmp_path: Path) -> None:
    src = decode_audio(case_audio("pub-001"))[: 16_000 * 5]
    for fmt, codec in (("mp3", "libmp3lame"), ("ogg", "libopus")):
        path = tmp_path / f"clip.{fmt}"
        rate = 48_000 if codec == "libopus" else 16_000
        with av.open(str(path), "w") as out:
            stream = out.add_stream(codec, rate=rate, layout="mono")
            resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=rate)
            frame = av.AudioFrame.from_ndarray(src[None, :], format="s16", layout="mono")
            frame.sample_rate = 16_000
            for f in resampler.resample(frame):
                for packet in stream.encode(f):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
        pcm = decode_audio(path)
        assert abs(len(pcm) - len(src)) < 16_000 * 0.2, fmt


def test_non_audio_file_is_rejected_clearly(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("this is not audio at all\n" * 20)
    with pytest.raises(AudioError, match="not a readable audio file|no audio stream"):
        decode_audio(path)


def test_empty_and_missing_files_are_rejected(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        decode_audio(empty)
    with pytest.raises(AudioError, match="no such audio file"):
        decode_audio(tmp_path / "missing.flac")
    with pytest.raises(AudioError, match="empty"):
        decode_audio(b"")


def test_truncated_file_is_rejected_or_decodes_what_is_there(tmp_path: Path) -> None:
    data = case_audio("pub-004").read_bytes()
    path = tmp_path / "cut.flac"
    path.write_bytes(data[:200])  # header only
    with pytest.raises(AudioError):
        decode_audio(path)


def test_silence_gives_no_utterances() -> None:
    assert cut_utterances(np.zeros(16_000 * 20, dtype=np.int16)) == []
    noise = (np.random.default_rng(0).normal(0, 30, 16_000 * 10)).astype(np.int16)  # room hiss
    assert cut_utterances(noise) == []


def test_utterances_start_where_the_speech_starts() -> None:
    case = load_case("pub-002")
    utts = cut_utterances(decode_audio(case_audio("pub-002")))
    starts = [u.start_s for u in utts]
    assert len(utts) == len(case["segments"])
    for seg, start in zip(case["segments"], starts, strict=True):
        assert abs(seg["at_s"] - start) < 0.35
    for u in utts:
        assert len(u.pcm) == pytest.approx((u.end_s - u.start_s) * 16_000, abs=2)


def test_cutter_gives_the_same_utterances_in_any_block_size() -> None:
    pcm = decode_audio(case_audio("pub-001"))
    whole = cut_utterances(pcm)
    cutter = UtteranceCutter()
    pieces = []
    for i in range(0, len(pcm), 777):  # odd block size: frames straddle feeds
        pieces += cutter.feed(pcm[i : i + 777])
    pieces += cutter.flush()
    assert [(round(u.start_s, 2), round(u.end_s, 2)) for u in pieces] == [
        (round(u.start_s, 2), round(u.end_s, 2)) for u in whole
    ]
