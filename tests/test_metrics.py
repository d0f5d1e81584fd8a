"""Every worker of the distributed deployment (`scribe serve` on a Redis of its own) exposes Prometheus
metrics, health and readiness; a public case moves the counters; no label value or sample carries a
session id or a word the patient or therapist said."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.client import submit_file
from services.common import metrics
from services.common.context import context_to_dict
from tests.cases import case_audio, case_context, load_case
from tests.processes import stop_process, wait_until
from tests.redis_server import PrivateRedis, free_port_block

CASE_ID = "pub-004"  # 63 s, dictation
CASE = load_case(CASE_ID)
TOKEN = "metrics-test-token"
STAGES = ("ingest", "asr", "drafter", "coder")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _get(url: str, token: str | None = TOKEN) -> tuple[int, str]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:  # not listening (yet)
        return 0, ""


def _scrape(url: str) -> tuple[str, Samples]:
    status, text = _get(f"{url}/metrics")
    assert status == 200, text
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return text, samples


def _value(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def _has(samples: Samples, name: str, **labels: str) -> bool:
    want = set(labels.items())
    return any(n == name and want <= ls for (n, ls) in samples)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`scribe serve` with one asr worker; returns each stage's base URL (ingest's API, the others'
    metrics ports, consecutive after it)."""
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    port = free_port_block(4)
    env = {**os.environ, "SCRIBE_REDIS_URL": server.url, "SCRIBE_TOKEN": TOKEN,
           "SCRIBE_STATE_DIR": str(tmp_path_factory.mktemp("state")), "SCRIBE_METRICS_SAMPLE_S": "0.5"}
    proc = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", "--port", str(port),
                             "--asr-workers", "1"], env=env)
    urls = {"ingest": f"http://127.0.0.1:{port}", "asr": f"http://127.0.0.1:{port + 1}",
            "drafter": f"http://127.0.0.1:{port + 2}", "coder": f"http://127.0.0.1:{port + 3}"}
    try:
        for stage in STAGES:
            wait_until(lambda s=stage: _get(f"{urls[s]}/healthz", None)[0] == 200 or proc.poll() is not None, 120,
                  f"{stage} answered /healthz")
            assert proc.poll() is None, "scribe serve exited at start"
        yield {**urls, "redis": server.url}
    finally:
        stop_process(proc)
        server.stop()


@pytest.fixture(scope="module")
def after_one_case(deployment: dict[str, str]) -> dict[str, Any]:
    """The public case through the deployment, then every stage's metrics once it is done."""
    result = asyncio.run(submit_file(deployment["ingest"], TOKEN, case_audio(CASE_ID),
                                     context_to_dict(case_context(CASE)), timeout_s=300))

    def scraped_with_lag() -> dict[str, tuple[str, Samples]] | None:
        got = {stage: _scrape(deployment[stage]) for stage in STAGES}
        # sampled every 0.5 s here: wait for a sample taken after the case
        ok = all(_has(s, "scribe_stream_lag", stream="scribe:utterances", group="asr") for _t, s in got.values())
        return got if ok else None

    return {"result": result, "scraped": wait_until(scraped_with_lag, 30, "lag gauges in every stage's metrics")}


def test_the_case_moves_every_stage_counters(after_one_case: dict[str, Any]) -> None:
    scraped = after_one_case["scraped"]
    ingest, asr = scraped["ingest"][1], scraped["asr"][1]
    drafter, coder = scraped["drafter"][1], scraped["coder"][1]
    assert _value(ingest, "scribe_audio_seconds_in_total", clinic="default") == pytest.approx(63, abs=2)
    assert _value(ingest, "scribe_sessions_started_total", clinic="default", kind="upload") == 1
    assert _value(ingest, "scribe_sessions_open", clinic="default") == 0
    utterances = _value(ingest, "scribe_chunks_out_total", stage="ingest", stream="scribe:utterances")
    assert utterances >= 3
    # every utterance the one asr worker took was decoded once, committed once, timed once
    assert _value(asr, "scribe_chunks_in_total", stage="asr", stream="scribe:utterances") == utterances
    assert _value(asr, "scribe_chunks_out_total", stage="asr", stream="scribe:segments") == utterances
    assert _value(asr, "scribe_asr_realtime_factor_count") == utterances
    assert _value(asr, "scribe_commit_latency_seconds_count", kind="upload") == utterances
    assert 0 < _value(asr, "scribe_asr_busy_seconds_total")
    assert _value(asr, "scribe_asr_audio_seconds_total") > 30
    assert _value(asr, "scribe_asr_model_loaded") == 1
    assert _value(drafter, "scribe_chunks_in_total", stage="drafter", stream="scribe:segments") == utterances
    assert _value(drafter, "scribe_draft_seconds_count") >= utterances
    assert _value(coder, "scribe_coding_seconds_count") >= 1
    assert _value(coder, "scribe_notes_final_total", ended="client") == 1
    for _text, samples in scraped.values():  # no errors of any kind on a clean run
        assert _value(samples, "scribe_errors_total") == 0


def test_lag_and_pending_gauges_are_sampled_from_the_consumer_groups(after_one_case: dict[str, Any]) -> None:
    for _text, samples in after_one_case["scraped"].values():
        for stream, group in metrics.SAMPLED_STREAMS:
            assert _has(samples, "scribe_stream_pending", stream=stream, group=group)
            assert _has(samples, "scribe_stream_lag", stream=stream, group=group)
        assert _value(samples, "scribe_stream_lag", stream="scribe:utterances", group="asr") == 0


# Every label value a scrape may carry: the code's own bounded sets, and prometheus-client's own.
_ALLOWED = {
    *STAGES, "embedded", "default", "upload", "live", "client", "idle", "ingest_lost", "other",
    *(s for s, _g in metrics.SAMPLED_STREAMS), *(f"{s}:dead" for s, _g in metrics.SAMPLED_STREAMS),
    "scribe:partials", "scribe:partial-text", "scribe:codes", "scribe:errors",
}
_CLIENT_LABELS = {"le", "quantile", "implementation", "major", "minor", "patchlevel", "version", "generation"}


def test_no_label_value_or_sample_carries_a_session_or_a_word_said(after_one_case: dict[str, Any]) -> None:
    sid = after_one_case["result"]["session_id"]
    said = {w.lower() for seg in after_one_case["result"]["transcript"] for w in re.findall(r"[A-Za-z]+",
                                                                                           seg["text"])}
    said |= {w.lower() for seg in CASE["segments"] for w in re.findall(r"[A-Za-z]+", seg["text"])}
    for stage, (text, samples) in after_one_case["scraped"].items():
        assert sid not in text, stage
        for name, labels in samples:
            for key, value in labels:
                if key not in _CLIENT_LABELS:
                    assert value in _ALLOWED, (stage, name, key, value)
        # Beyond labels: every word of the exposition that was also said must be the code's own wording
        # (a HELP text), never one that came from a session.
        own = {w.lower() for line in text.splitlines() if line.startswith("#") for w in re.findall(r"[A-Za-z]+",
                                                                                                    line)}
        values = {w.lower() for line in text.splitlines() if not line.startswith("#")
                  for w in re.findall(r"[A-Za-z]+", line)}
        leaked = (values & said) - own - {w for v in _ALLOWED for w in re.findall(r"[a-z]+", v)}
        assert not leaked, (stage, sorted(leaked))


def test_metrics_need_the_token_probes_do_not(deployment: dict[str, str]) -> None:
    for stage in STAGES:
        base = deployment[stage]
        assert _get(f"{base}/metrics", None)[0] == 401, stage
        assert _get(f"{base}/metrics", "wrong")[0] == 401, stage
        assert _get(f"{base}/healthz", None)[0] == 200, stage
        status, body = _get(f"{base}/readyz", None)
        assert status == 200 and '"ready": true' in body, (stage, body)
        assert "scribe" not in body  # readiness says ready or not, nothing else


def test_a_taken_metrics_port_is_a_configuration_error(redis_url: str, state_dir: object) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "services.cli", "worker", "coder", "--redis", redis_url,
                               "--metrics-port", str(port)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "cannot start" in proc.stderr


def test_readiness_fails_without_redis_and_labels_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import redis.asyncio as aioredis

    from services.common.opsserver import Readiness

    async def check() -> dict[str, bool]:
        r = aioredis.Redis.from_url("redis://127.0.0.1:1/0")
        try:
            return await Readiness(r, {"model": lambda: True}).check()
        finally:
            await r.aclose()

    assert asyncio.run(check()) == {"redis": False, "model": True}
    monkeypatch.setenv("SCRIBE_CLINIC", "North Side <script>")
    assert metrics.clinic_from_env() == "default"
    monkeypatch.setenv("SCRIBE_CLINIC", "northside")
    assert metrics.clinic_from_env() == "northside"
    assert metrics.ended_label("idle") == "idle" and metrics.ended_label("patient said stop") == "other"
    assert metrics.error_kind("bad_audio") == "bad_audio" and metrics.error_kind("a sentence, said") == "other"


# --- scribe top ---------------------------------------------------------------------------------

def _top_once(deployment: dict[str, str]) -> str:
    env = {**os.environ, "SCRIBE_TOKEN": TOKEN, "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "services.cli", "top", "--once", "--redis", deployment["redis"]],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _row(frame: str, first: str) -> list[str]:
    line = next(ln for ln in frame.splitlines() if ln.strip("│ ").startswith(first + " "))
    return [cell.strip() for cell in line.strip("│").split("│")]


def test_top_shows_services_clinics_and_latency_without_words(deployment: dict[str, str],
                                                             after_one_case: dict[str, Any]) -> None:
    status, body = _post(f"{deployment['ingest']}/v1/sessions", context_to_dict(case_context(CASE)))
    assert status == 201
    open_sid = body["session_id"]
    try:
        frame = _top_once(deployment)
    finally:
        _post(f"{deployment['ingest']}/v1/sessions/{open_sid}/stop", {})
    assert "workers reporting: 4/4" in frame, frame
    for stage in STAGES:
        assert _row(frame, stage)[1] == "1", frame  # one worker each
    assert _row(frame, "ingest")[2] == "1"  # the session just opened
    assert _row(frame, "asr")[5] == "0"  # nothing waiting after the case
    assert _row(frame, "default")[1] == "1"  # the session just opened is live, under the default clinic
    commit = _row(frame, "commit, upload")
    assert commit[-1] == str(int(_value(after_one_case["scraped"]["asr"][1],
                                        "scribe_commit_latency_seconds_count", kind="upload")))
    assert commit[1] != "-" and commit[2] != "-", frame  # percentiles computed
    assert "notes final: 1" in frame
    for sid in (open_sid, after_one_case["result"]["session_id"]):
        assert sid not in frame
    said = {w.lower() for seg in after_one_case["result"]["transcript"] for w in re.findall(r"[A-Za-z]+",
                                                                                           seg["text"])}
    own = set(re.findall(r"[a-z]+", (Path(__file__).parents[1] / "services" / "top.py").read_text().lower()))
    shown = {w.lower() for w in re.findall(r"[A-Za-z]+", frame)}
    assert not (shown & said) - own, sorted((shown & said) - own)


def _post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    import json

    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, json.loads(resp.read() or b"{}")


def test_top_without_workers_reads_redis_alone(redis_url: str, state_dir: object) -> None:
    frame = _top_once({"redis": redis_url})
    assert "no worker advertises /metrics" in frame and "asr" in frame


def test_quantiles_follow_histogram_quantile() -> None:
    from services.top import quantile

    buckets = {0.1: 0.0, 0.5: 50.0, 1.0: 100.0, float("inf"): 100.0}
    assert quantile(0.5, buckets) == pytest.approx(0.5)
    assert quantile(0.75, buckets) == pytest.approx(0.75)
    assert quantile(0.25, buckets) == pytest.approx(0.3)
    assert quantile(0.5, {1.0: 0.0, float("inf"): 0.0}) is None
    assert quantile(0.99, {1.0: 1.0, float("inf"): 10.0}) == 1.0  # past the last bound: that bound
