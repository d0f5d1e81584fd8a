"""`scribe dictate` end to end on the real model, and its handling of bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from services.evaluation.score import word_error_rate
from tests.cases import case_audio, load_case

CASE = load_case("pub-001")


def scribe(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def context_file(tmp_path: Path) -> Path:
    path = tmp_path / "context.json"
    path.write_text(json.dumps({**CASE["context"], "mode": CASE["mode"]}))
    return path


@pytest.fixture(scope="module")
def dictated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("ctx") / "context.json"
    path.write_text(json.dumps({**CASE["context"], "mode": CASE["mode"]}))
    proc = scribe("dictate", str(case_audio("pub-001")), "--context", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_dictate_gives_valid_json_with_an_accurate_transcript_and_a_code(dictated: dict[str, Any]) -> None:
    assert set(dictated) >= {"transcript", "note", "codes", "billing_method", "flags"}
    assert set(dictated["note"]) == {"subjective", "objective", "assessment", "plan"}
    hypothesis = " ".join(s["text"] for s in dictated["transcript"])
    reference = " ".join(s["text"] for s in CASE["segments"])
    assert word_error_rate(reference, hypothesis) <= 0.35
    assert len(dictated["codes"]) >= 1
    for seg in dictated["transcript"]:
        assert 0 <= seg["start_s"] <= seg["end_s"]
        assert seg["speaker"] in {"therapist", "patient", "other"}
    starts = [s["start_s"] for s in dictated["transcript"]]
    assert starts == sorted(starts)


def test_dictate_without_json_prints_a_readable_note(context_file: Path) -> None:
    proc = scribe("dictate", str(case_audio("pub-004")), "--context", str(context_file))
    assert proc.returncode == 0, proc.stderr
    for heading in ("Subjective", "Objective", "Assessment", "Plan", "Suggested codes"):
        assert heading in proc.stdout


def _assert_one_line_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("scribe: error: ")
    for frag in fragments:
        assert frag in lines[0]
    assert proc.stdout == ""


def test_non_audio_file_is_a_one_line_error(tmp_path: Path, context_file: Path) -> None:
    bogus = tmp_path / "report.flac"
    bogus.write_text("Patient note, not audio.\n" * 50)
    _assert_one_line_error(scribe("dictate", str(bogus), "--context", str(context_file)), "not a readable audio")


def test_empty_file_is_a_one_line_error(tmp_path: Path, context_file: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    _assert_one_line_error(scribe("dictate", str(empty), "--context", str(context_file)), "empty")


def test_unknown_payer_is_a_one_line_error(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx.json"
    ctx.write_text(json.dumps({**CASE["context"], "payer": "acme_health"}))
    _assert_one_line_error(scribe("dictate", str(case_audio("pub-001")), "--context", str(ctx)),
                           "unknown payer 'acme_health'")


def test_malformed_context_json_is_a_one_line_error(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx.json"
    ctx.write_text('{"discipline": "PT", "payer": ')
    _assert_one_line_error(scribe("dictate", str(case_audio("pub-001")), "--context", str(ctx)), "not valid JSON")


def test_missing_files_are_one_line_errors(tmp_path: Path, context_file: Path) -> None:
    _assert_one_line_error(scribe("dictate", str(tmp_path / "nope.flac"), "--context", str(context_file)),
                           "no such audio file")
    _assert_one_line_error(scribe("dictate", str(case_audio("pub-001")), "--context", str(tmp_path / "no.json")),
                           "cannot read context file")


def test_eval_aggregate_shows_no_case(tmp_path: Path) -> None:
    """A held-out set is read by its summaries: no case id in the output or in the saved figures."""
    cases = Path(__file__).resolve().parent / "data" / "cases"
    out = tmp_path / "figures.json"
    proc = scribe("eval", str(cases), "--from-text", "--aggregate", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    ids = [p.stem for p in cases.glob("*.json")]
    saved = out.read_text()
    for case_id in ids:
        assert case_id not in proc.stdout and case_id not in saved
    figures = json.loads(saved)
    assert set(figures["by_mode"]) == {"ambient", "dictation"}
    assert figures["overall"]["cases"] == len(ids)
    assert "ambient" in proc.stdout and "overall" in proc.stdout
