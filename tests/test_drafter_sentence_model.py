"""The sentence model on CTranslate2: same embeddings as transformers, converted once, clear errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from services.common import sentence_model
from services.common.sentence_model import SentenceModelError, converted_model, load_encoder
from services.drafter import embeddings
from tests.cases import case_audio, load_case

MINILM = Path(embeddings.default_model_path())


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SCRIBE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_ctranslate2_gives_the_embeddings_transformers_gives(cache: Path) -> None:
    texts = [t for _, _, t in embeddings.read_examples()][:40] + ["Quad sets, ten reps.", "ok"]
    fast = np.array(load_encoder(MINILM)(texts))
    reference = np.array(sentence_model.transformers_encoder(MINILM)(texts))
    assert fast.shape == (len(texts), 384)
    assert np.abs(fast - reference).max() < 1e-4
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    # a batch pads its shorter sentences: each sentence embeds as it does alone
    alone = np.array([load_encoder(MINILM)([t])[0] for t in texts[:5]])
    assert np.abs(alone - fast[:5]).max() < 1e-4


def test_the_model_is_converted_once_and_a_converted_folder_loads_as_it_is(cache: Path) -> None:
    first = converted_model(MINILM)
    weights = first / "model.bin"
    stamp = weights.stat().st_mtime_ns
    assert converted_model(MINILM) == first and weights.stat().st_mtime_ns == stamp
    assert [p.name for p in first.parent.iterdir()] == [first.name]  # no half-converted folder left
    vector = load_encoder(first)(["Continue two times a week."])[0]
    assert len(vector) == 384


def test_an_unwritable_cache_still_gives_a_model_and_leaves_nothing_behind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("SCRIBE_CACHE_DIR", str(blocker))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with pytest.raises(OSError):
        converted_model(MINILM)
    encode = load_encoder(MINILM)
    assert list(scratch.iterdir()) == []  # converted for this process, read into memory, removed
    assert len(encode(["Bridges at home."])[0]) == 384


def test_an_architecture_ctranslate2_cannot_convert_loads_with_transformers(tmp_path: Path, cache: Path) -> None:
    from transformers import MPNetConfig, MPNetModel

    folder = tmp_path / "tiny-mpnet"
    config = MPNetConfig(vocab_size=30527, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64)
    MPNetModel(config).save_pretrained(folder)
    shutil.copy(MINILM / "tokenizer.json", folder / "tokenizer.json")
    vectors = np.array(load_encoder(folder)(["Gait training with a rolling walker.", "Hello"]))
    assert vectors.shape == (2, 32)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_folder_with_no_model_is_named_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(SentenceModelError, match="no sentence model at .*empty"):
        load_encoder(tmp_path / "empty")
    broken = tmp_path / "broken"
    broken.mkdir()
    shutil.copy(MINILM / "tokenizer.json", broken / "tokenizer.json")
    (broken / "model.bin").write_bytes(b"not a model")
    with pytest.raises(SentenceModelError, match="cannot load the sentence model at .*broken"):
        load_encoder(broken)


def test_dictate_with_a_wrong_sentence_model_folder_exits_with_one_line(tmp_path: Path) -> None:
    case = load_case("pub-004")
    ctx = tmp_path / "ctx.json"
    ctx.write_text(json.dumps({**case["context"], "mode": case["mode"]}))
    env = {**os.environ, "SCRIBE_EMBEDDINGS_MODEL": str(tmp_path / "nowhere")}
    proc = subprocess.run([sys.executable, "-m", "services.cli", "dictate", str(case_audio("pub-004")),
                           "--context", str(ctx)], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"scribe: error: no sentence model at {tmp_path / 'nowhere'} "
                                                "(no tokenizer.json)"]


def test_a_drafter_worker_with_a_wrong_folder_stops_as_a_configuration_error(tmp_path: Path, redis_url: str) -> None:
    """Exit code 2 is what `scribe serve` reads as "restarting cannot help"."""
    env = {**os.environ, "SCRIBE_EMBEDDINGS_MODEL": str(tmp_path / "nowhere")}
    proc = subprocess.run([sys.executable, "-m", "services.cli", "worker", "drafter", "--redis", redis_url],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (f"scribe: error: drafter cannot start: no sentence model at "
                                                    f"{tmp_path / 'nowhere'} (no tokenizer.json)")
