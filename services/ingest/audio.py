"""Decode any common audio file (FLAC, WAV, MP3, Opus, ...) to 16 kHz mono 16-bit PCM with PyAV.

Decoded duration is capped (MAX_AUDIO_S, default 4 hours, `SCRIBE_MAX_AUDIO_S`): a few hundred KB of
compressed silence can decode to hours of PCM, so the cap is checked on a running sample count while
decoding and the file is refused (AudioTooLong, HTTP 413) as soon as it passes, before the rest is decoded.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from services.common.errors import AudioError, TooLarge

SAMPLE_RATE = 16_000
MAX_AUDIO_S = float(os.environ.get("SCRIBE_MAX_AUDIO_S", str(4 * 3600)))
PIECE_SAMPLES = SAMPLE_RATE * 10  # decoded audio is handed on in pieces of about this many samples


class AudioTooLong(AudioError, TooLarge):
    """Audio that decodes to more than the allowed duration."""


def decode_audio(source: str | Path | bytes, max_s: float | None = None) -> np.ndarray:
    """Return the first audio stream of `source` as int16 samples at 16 kHz mono.

    Raises AudioError (with a message safe to show) for a missing, empty, non-audio or corrupt file,
    AudioTooLong past max_s seconds (default MAX_AUDIO_S).
    """
    return np.concatenate(decode_pieces(source, max_s))


def decode_pieces(source: str | Path | bytes, max_s: float | None = None) -> list[np.ndarray]:
    """decode_audio's samples in pieces of about PIECE_SAMPLES, never joined into one array: a caller
    that cuts them one by one holds the decoded audio once, not twice."""
    pieces: list[np.ndarray] = []
    group: list[np.ndarray] = []
    grouped = 0
    for chunk in _decoded_chunks(source, MAX_AUDIO_S if max_s is None else max_s):
        group.append(chunk)
        grouped += len(chunk)
        if grouped >= PIECE_SAMPLES:  # PyAV hands out ~0.1 s frames: join them into fewer, larger pieces
            pieces.append(np.concatenate(group))
            group, grouped = [], 0
    if group:
        pieces.append(np.concatenate(group))
    if not pieces or sum(len(p) for p in pieces) == 0:
        raise AudioError(f"{_name(source)} is not a readable audio file (no audio samples in it)")
    return pieces


def _decoded_chunks(source: str | Path | bytes, max_s: float) -> Iterator[np.ndarray]:
    """int16 16 kHz mono chunks as PyAV decodes them, stopping with AudioTooLong once past max_s."""
    name = _name(source)
    max_samples = int(max_s * SAMPLE_RATE)
    seen = 0
    with _open(source) as container:
        if not container.streams.audio:
            raise AudioError(f"{name} has no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1).astype(np.int16, copy=False)
                    seen += len(chunk)
                    if seen > max_samples:
                        raise AudioTooLong(f"{name} is longer than the {_hours(max_s)} allowed; "
                                           "split the recording and upload the parts")
                    yield chunk
            for out in resampler.resample(None):  # the resampler holds back a few samples until flushed
                yield out.to_ndarray().reshape(-1).astype(np.int16, copy=False)
        except (av.error.FFmpegError, ValueError) as exc:
            raise AudioError(f"{name} is corrupt: decoding failed ({_reason(exc)})") from None


def _open(source: str | Path | bytes) -> av.container.InputContainer:
    name = _name(source)
    if isinstance(source, bytes):
        if not source:
            raise AudioError("the audio is empty (0 bytes)")
        handle: str | io.BytesIO = io.BytesIO(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise AudioError(f"no such audio file: {path}")
        if path.stat().st_size == 0:
            raise AudioError(f"{path} is empty (0 bytes)")
        handle = str(path)
    try:
        return av.open(handle, mode="r")
    except (av.error.FFmpegError, ValueError) as exc:
        raise AudioError(f"{name} is not a readable audio file ({_reason(exc)})") from None


def _name(source: str | Path | bytes) -> str:
    return "upload" if isinstance(source, bytes) else str(source)


def _hours(seconds: float) -> str:
    """4 hours, 1 hour, 90 minutes, 30 seconds."""
    value, unit = next((seconds / size, unit) for size, unit in ((3600, "hour"), (60, "minute"), (1, "second"))
                       if seconds >= size or size == 1)
    return f"{value:g} {unit}{'' if value == 1 else 's'}"


def pcm_to_float(pcm: np.ndarray) -> np.ndarray:
    """int16 samples to the float32 in [-1, 1] that Whisper takes."""
    return pcm.astype(np.float32) / 32768.0


def _reason(exc: BaseException) -> str:
    # FFmpeg errors name the file; keep only the error kind so nothing else leaks.
    return getattr(exc, "strerror", None) or type(exc).__name__
