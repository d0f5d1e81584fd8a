"""Decode any common audio file (FLAC, WAV, MP3, Opus, ...) to 16 kHz mono 16-bit PCM with PyAV."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np

from services.common.errors import AudioError

SAMPLE_RATE = 16_000


def decode_audio(source: str | Path | bytes) -> np.ndarray:
    """Return the first audio stream of `source` as int16 samples at 16 kHz mono.

    Raises AudioError (with a message safe to show) for a missing, empty, non-audio or corrupt file.
    """
    name = "upload" if isinstance(source, bytes) else str(source)
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
        container = av.open(handle, mode="r")
    except (av.error.FFmpegError, ValueError) as exc:
        raise AudioError(f"{name} is not a readable audio file ({_reason(exc)})") from None
    with container:
        if not container.streams.audio:
            raise AudioError(f"{name} has no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        chunks: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):  # the resampler holds back a few samples until flushed
                chunks.append(out.to_ndarray().reshape(-1))
        except (av.error.FFmpegError, ValueError) as exc:
            raise AudioError(f"{name} is corrupt: decoding failed ({_reason(exc)})") from None
    if not chunks:
        raise AudioError(f"{name} is not a readable audio file (no audio samples in it)")
    pcm = np.concatenate(chunks).astype(np.int16, copy=False)
    if pcm.size == 0:
        raise AudioError(f"{name} is not a readable audio file (no audio samples in it)")
    return pcm


def pcm_to_float(pcm: np.ndarray) -> np.ndarray:
    """int16 samples to the float32 in [-1, 1] that Whisper takes."""
    return pcm.astype(np.float32) / 32768.0


def _reason(exc: BaseException) -> str:
    # FFmpeg errors name the file; keep only the error kind so nothing else leaks.
    return getattr(exc, "strerror", None) or type(exc).__name__
