"""Cut 16 kHz speech into utterances with webrtcvad, so silence is never sent to Whisper.

The cutter is incremental (feed frames as they arrive, live or from a file): an utterance
opens on the first voiced frame and closes after `end_silence_ms` of unvoiced frames, or
at `max_utterance_s` so no utterance outgrows Whisper's 30 s window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import webrtcvad

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class VadOptions:
    """mode: webrtcvad aggressiveness 0-3.
    frame_ms: 10, 20 or 30 (webrtcvad's frame sizes).
    end_silence_ms: unvoiced time that ends an utterance.
    pad_start_ms / pad_end_ms: audio kept before the first and after the last voiced frame
        (webrtcvad ends speech 0.14-0.3 s early on trailing consonants).
    min_speech_ms: utterances with less voiced audio than this are dropped as clicks.
    max_utterance_s: an utterance is cut here even if speech goes on.
    """

    mode: int = 2
    frame_ms: int = 30
    end_silence_ms: int = 450
    pad_start_ms: int = 150
    pad_end_ms: int = 300
    min_speech_ms: int = 150
    max_utterance_s: float = 25.0


@dataclass(frozen=True)
class Utterance:
    start_s: float  # on the session clock
    end_s: float
    pcm: np.ndarray  # int16, 16 kHz mono


class UtteranceCutter:
    """Feed int16 PCM in any block size; collect finished utterances from feed() and flush()."""

    def __init__(self, options: VadOptions | None = None, start_s: float = 0.0) -> None:
        self.options = options or VadOptions()
        self._vad = webrtcvad.Vad(self.options.mode)
        self._frame = SAMPLE_RATE * self.options.frame_ms // 1000
        self._pending = np.zeros(0, dtype=np.int16)  # samples not yet framed
        self._history: list[np.ndarray] = []  # recent frames, for the leading pad
        self._open: list[np.ndarray] | None = None
        self._open_start = 0.0
        self._silent_frames = 0
        self._voiced_frames = 0
        self._clock = start_s  # session time when the next frame begins

    @property
    def clock_s(self) -> float:
        """Session time up to which audio has been framed."""
        return self._clock

    def feed(self, pcm: np.ndarray) -> list[Utterance]:
        data = np.concatenate([self._pending, pcm.astype(np.int16, copy=False)])
        n = len(data) // self._frame * self._frame
        self._pending = data[n:]
        out: list[Utterance] = []
        for i in range(0, n, self._frame):
            utt = self._step(data[i : i + self._frame])
            if utt is not None:
                out.append(utt)
        return out

    def flush(self) -> list[Utterance]:
        """End of audio: close the open utterance, if any."""
        out: list[Utterance] = []
        if len(self._pending):
            frame = np.zeros(self._frame, dtype=np.int16)
            frame[: len(self._pending)] = self._pending
            self._pending = np.zeros(0, dtype=np.int16)
            utt = self._step(frame)
            if utt is not None:
                out.append(utt)
        if self._open is not None:
            utt = self._close(trailing_silence=self._silent_frames)
            if utt is not None:
                out.append(utt)
        return out

    def _step(self, frame: np.ndarray) -> Utterance | None:
        frame_s = self.options.frame_ms / 1000
        voiced = self._vad.is_speech(frame.tobytes(), SAMPLE_RATE)
        t = self._clock
        self._clock += frame_s
        if self._open is None:
            if voiced:
                pad = self._history[-(self.options.pad_start_ms // self.options.frame_ms) :] if self._history else []
                self._open = [*pad, frame]
                self._open_start = t - len(pad) * frame_s
                self._silent_frames, self._voiced_frames = 0, 1
                self._history.clear()
            else:
                self._history.append(frame)
                del self._history[: -max(1, self.options.pad_start_ms // self.options.frame_ms)]
            return None
        self._open.append(frame)
        if voiced:
            self._silent_frames = 0
            self._voiced_frames += 1
        else:
            self._silent_frames += 1
        too_long = len(self._open) * frame_s >= self.options.max_utterance_s
        if self._silent_frames * self.options.frame_ms >= self.options.end_silence_ms or too_long:
            return self._close(trailing_silence=self._silent_frames)
        return None

    def _close(self, trailing_silence: int) -> Utterance | None:
        assert self._open is not None
        frames = self._open
        keep_tail = self.options.pad_end_ms // self.options.frame_ms
        drop = max(0, trailing_silence - keep_tail)
        if drop:
            self._history = frames[-drop:]  # the dropped silence may pad the next utterance's start
            frames = frames[:-drop]
        voiced_ms = self._voiced_frames * self.options.frame_ms
        start = self._open_start
        self._open = None
        self._silent_frames = self._voiced_frames = 0
        if voiced_ms < self.options.min_speech_ms or not frames:
            return None
        pcm = np.concatenate(frames)
        return Utterance(start_s=start, end_s=start + len(pcm) / SAMPLE_RATE, pcm=pcm)


def cut_utterances(pcm: np.ndarray, options: VadOptions | None = None) -> list[Utterance]:
    """All utterances of a whole recording."""
    cutter = UtteranceCutter(options)
    return [*cutter.feed(pcm), *cutter.flush()]
