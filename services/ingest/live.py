"""Live capture pieces: any input rate/layout to 16 kHz mono, and a cutter that shows its open utterance.

Frames arrive from WebRTC (Opus decoded by aiortc: 48 kHz stereo s16, 20 ms) or from a WebSocket
(s16le PCM at the rate and channel count given when connecting, or Opus packets). Everything goes
through PyAV's AudioResampler, which holds back a few samples until flushed (`flush()`).
"""

from __future__ import annotations

import functools

import av
import numpy as np
import webrtcvad

from services.common.errors import AudioError
from services.ingest.audio import SAMPLE_RATE
from services.ingest.vad import Utterance, UtteranceCutter, VadOptions

# Live capture ends an utterance sooner than file decoding (450 ms): the commit latency target is
# 0.6 s from speech end, and a Whisper call alone costs ~0.4 s. 300 ms is where webrtcvad stops
# splitting sentences at commas on the public cases; the 300 ms end pad keeps trailing consonants.
LIVE_VAD = VadOptions(end_silence_ms=300, pad_end_ms=300)
_LAYOUTS = {1: "mono", 2: "stereo"}
# When speech has stopped is asked of a second, stricter webrtcvad (mode 3, 10 ms frames): the
# cutter's mode 2 on 30 ms frames keeps calling speech for about 0.1 s after the audio goes quiet
# (its own hangover). On five public cases, 60 ms of quick-VAD silence came 0.07 s after the audio's
# end at the median, 0.15 s for the cutter. It only times speculative commits; cutting stays as is.
QUICK_VAD_MODE = 3
QUICK_FRAME = SAMPLE_RATE // 100


class Resampler:
    """Frames or raw s16le PCM in any rate and layout -> int16 mono 16 kHz, with nothing lost at the end."""

    def __init__(self) -> None:
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)

    def frame(self, frame: av.AudioFrame) -> np.ndarray:
        return _join(self._resampler.resample(frame))

    def pcm(self, data: bytes, rate: int, channels: int) -> np.ndarray:
        """Interleaved s16le samples; `data` must hold whole sample frames (channels x 2 bytes)."""
        samples = np.frombuffer(data, dtype="<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout=_LAYOUTS[channels])
        frame.sample_rate = rate
        frame.pts = None  # the resampler keeps its own timeline; arrival order is the clock
        return self.frame(frame)

    def flush(self) -> np.ndarray:
        return _join(self._resampler.resample(None))


def _join(frames: list[av.AudioFrame]) -> np.ndarray:
    if not frames:
        return np.zeros(0, dtype=np.int16)
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.int16, copy=False)


class OpusDecoder:
    """Opus packets (one per WebSocket message) -> int16 mono 16 kHz."""

    def __init__(self) -> None:
        self._codec = av.CodecContext.create("libopus", "r")
        self._codec.sample_rate = 48_000
        self._resampler = Resampler()

    def packet(self, data: bytes) -> np.ndarray:
        """One packet's audio; AudioError for an empty or undecodable one (the decoder stays usable)."""
        if not data:  # FFmpeg reads an empty packet as end of stream: every later packet would then fail
            raise AudioError("an empty Opus packet (send one non-empty packet per message)")
        try:
            frames = self._codec.decode(av.Packet(data))
        except av.error.FFmpegError:
            raise AudioError("a message that is not an Opus packet") from None
        return np.concatenate([self._resampler.frame(f) for f in frames]) if frames else np.zeros(0, np.int16)

    def flush(self) -> np.ndarray:
        return self._resampler.flush()


class _RecordingVad:
    """Wraps webrtcvad.Vad to remember its last decision (the cutter keeps it to itself)."""

    def __init__(self, vad: object) -> None:
        self._vad = vad
        self.last = False

    def is_speech(self, frame: bytes, rate: int) -> bool:
        self.last = bool(self._vad.is_speech(frame, rate))  # type: ignore[attr-defined]
        return self.last


class OpenUtterance:
    """The open utterance as it stands. Asked for on every audio frame, but its audio is needed only
    about once a second (a partial), so the frames are joined on first use of `pcm`."""

    def __init__(self, start_s: float, frames: list[np.ndarray], frame_samples: int, speaking: bool) -> None:
        self.start_s = start_s
        self.end_s = start_s + len(frames) * frame_samples / SAMPLE_RATE
        self.speaking = speaking  # the newest frame was voiced
        # The cutter only appends to this list (it starts a new one for the next utterance): the first
        # len(frames) of it stay this utterance's frames.
        self._frames, self._count = frames, len(frames)

    @functools.cached_property
    def pcm(self) -> np.ndarray:
        return np.concatenate(self._frames[: self._count])


class LiveCutter(UtteranceCutter):
    """The VAD cutter plus what live capture needs: the open utterance so far (for partials), the
    session time where speech last ended (for latency figures), and how long the quick VAD has
    heard no speech (for speculative commits).

    It reads the base class's frame list; vad.py stays the single owner of the cutting rules.
    """

    def __init__(self, options: VadOptions | None = None, start_s: float = 0.0) -> None:
        super().__init__(options or LIVE_VAD, start_s)
        self._vad = _RecordingVad(self._vad)  # type: ignore[assignment]
        self.last_voiced_end_s = 0.0
        self.closed_speech_end_s: list[float] = []  # per utterance returned, in order
        self._quick = webrtcvad.Vad(QUICK_VAD_MODE)
        self._quick_pending = np.zeros(0, dtype=np.int16)
        self._quick_clock = start_s
        self.quick_voiced_end_s = -1.0  # end of the last 10 ms frame the quick VAD heard speech in

    def feed(self, pcm: np.ndarray) -> list[Utterance]:
        data = np.concatenate([self._quick_pending, pcm.astype(np.int16, copy=False)])
        n = len(data) // QUICK_FRAME * QUICK_FRAME
        for i in range(0, n, QUICK_FRAME):
            if self._quick.is_speech(data[i : i + QUICK_FRAME].tobytes(), SAMPLE_RATE):
                self.quick_voiced_end_s = self._quick_clock + (i + QUICK_FRAME) / SAMPLE_RATE
        self._quick_clock += n / SAMPLE_RATE
        self._quick_pending = data[n:]
        return super().feed(pcm)

    @property
    def quiet_s(self) -> float:
        """How long the quick VAD has heard no speech (0 while it hears some)."""
        return self._quick_clock - self.quick_voiced_end_s

    def _step(self, frame: np.ndarray) -> Utterance | None:
        t = self.clock_s
        utt = super()._step(frame)
        if self._vad.last:  # type: ignore[attr-defined]
            self.last_voiced_end_s = t + self.options.frame_ms / 1000
        if utt is not None:
            self.closed_speech_end_s.append(min(self.last_voiced_end_s, utt.end_s))
        return utt

    def flush(self) -> list[Utterance]:
        before = len(self.closed_speech_end_s)
        out = super().flush()
        # flush() closes through _close directly for the open utterance: record its speech end too.
        for utt in out[len(self.closed_speech_end_s) - before :]:
            self.closed_speech_end_s.append(min(self.last_voiced_end_s, utt.end_s))
        return out

    def open_utterance(self) -> OpenUtterance | None:
        if self._open is None:
            return None
        return OpenUtterance(self._open_start, self._open, self._frame, self._silent_frames == 0)
