"""`scribe serve` through a Redis restart in the middle of a session, and how its workers exit at start.

The restart test runs the whole distributed path (ingest, asr, drafter, coder as processes) on a
Redis of its own, stops Redis for about 3 s while the session's audio is being transcribed, sends
more audio and the stop while it is down, and starts it again with its data (as `systemctl restart
redis` would). The session must finish with every segment once and the codes of a run without it.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from services.asr.engine import WhisperEngine
from services.common import keys
from services.common.export import result_to_dict
from services.ingest.audio import SAMPLE_RATE, decode_audio
from services.pipeline import EmbeddedPipeline
from tests.cases import case_audio, case_context, load_case, wav
from tests.processes import stop_process
from tests.redis_server import PrivateRedis

CASE_ID = "pub-004"  # 63 s, 8 utterances
CASE = load_case(CASE_ID)
OUTAGE_S = 3.0
DEADLINE_S = 150.0  # a bound on waiting, never an assertion about speed


def _request(method: str, url: str, token: str, body: bytes | None = None) -> tuple[int, dict[str, str], Any]:
    req = urllib.request.Request(url, data=body, method=method, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=90) as resp:
            return resp.status, dict(resp.headers), _body(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), _body(err.read())


def _body(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return raw.decode(errors="replace")  # e.g. aiohttp's plain-text 500 page


def _wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=1)
            return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail(f"scribe serve did not come up (exit {proc.poll()})")
            time.sleep(0.2)


@pytest.fixture
def serve_on(free_port: int, state_dir: Path) -> Iterator[Any]:
    """Start `scribe serve` (one asr worker) on a given Redis URL, passed in the environment."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(redis_url: str, *args: str) -> tuple[str, str, subprocess.Popen[bytes]]:
        env = {**os.environ, "SCRIBE_REDIS_URL": redis_url}
        proc = subprocess.Popen([sys.executable, "-m", "services.cli", *args, "serve", "--port", str(free_port),
                                 "--asr-workers", "1"], env=env)
        procs.append(proc)
        url = f"http://127.0.0.1:{free_port}"
        _wait_healthy(url, proc)
        return url, (state_dir / "token").read_text().strip(), proc

    yield start
    for proc in procs:
        stop_process(proc)


def _stored_segments(client: redis.Redis, session_id: str) -> int:
    return int(client.hlen(keys.session_key(session_id, "segments")))


def _wait_for(what: str, check: Any) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def _result(url: str, token: str, sid: str) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        status, _headers, body = _request("GET", f"{url}/v1/sessions/{sid}/result?wait=5", token)
        if status == 200:
            return dict(body)
        assert status in (202, 503), (status, body)  # pending, or Redis still reconnecting: never a 500
        assert time.monotonic() < deadline, "no final result"
        time.sleep(0.2)


def _codes(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted((c["cpt"], c["units"], c["minutes"], c["start"], c["stop"], tuple(c["modifiers"]))
                  for c in result["codes"])


async def _embedded(engine: WhisperEngine) -> dict[str, Any]:
    async with EmbeddedPipeline(engines=[engine]) as pipeline:
        return result_to_dict(await pipeline.run_file(case_audio(CASE_ID), case_context(CASE)))


def test_a_redis_restart_mid_session_loses_and_doubles_nothing(
        private_redis: PrivateRedis, serve_on: Any, engine: WhisperEngine) -> None:
    url, token, serve = serve_on(private_redis.url)
    pcm = decode_audio(case_audio(CASE_ID))
    half = len(pcm) // 2 // SAMPLE_RATE * SAMPLE_RATE
    status, _, body = _request("POST", f"{url}/v1/sessions", token,
                               json.dumps({**CASE["context"], "mode": CASE["mode"]}).encode())
    assert status == 201
    sid = body["session_id"]
    assert _request("PUT", f"{url}/v1/sessions/{sid}/audio", token, wav(pcm[:half]))[0] == 202

    watch = redis.Redis.from_url(private_redis.url)
    _wait_for("a first segment", lambda: _stored_segments(watch, sid) >= 1)  # transcription under way
    watch.close()
    private_redis.stop()
    down_at = time.monotonic()
    assert _request("PUT", f"{url}/v1/sessions/{sid}/audio", token, wav(pcm[half:]))[0] == 202  # held
    status, headers, _ = _request("GET", f"{url}/v1/sessions/{sid}/result", token)
    assert status == 503 and "Retry-After" in headers
    assert _request("POST", f"{url}/v1/sessions/{sid}/stop", token)[0] == 202
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
    private_redis.start()

    distributed = _result(url, token, sid)
    assert serve.poll() is None, "scribe serve stopped"
    embedded = asyncio.run(_embedded(engine))
    starts = [s["start_s"] for s in distributed["transcript"]]
    assert len(starts) == len(CASE["segments"]) and starts == sorted(set(starts))  # each segment once
    assert [s["text"] for s in distributed["transcript"]] == [s["text"] for s in embedded["transcript"]]
    assert _codes(distributed) and _codes(distributed) == _codes(embedded)


def _worker_exit(stage: str, redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCRIBE_REDIS_URL": redis_url}
    return subprocess.run([sys.executable, "-m", "services.cli", "worker", stage, *args],
                          capture_output=True, text=True, timeout=120, env=env)


def test_worker_exits_2_only_on_configuration_errors_and_3_when_redis_never_answers(tmp_path: Path) -> None:
    secured = PrivateRedis(tmp_path, password="s3cret-pw")
    secured.start()
    try:
        wrong = _worker_exit("coder", f"redis://:wrong-pw@127.0.0.1:{secured.port}/0")
    finally:
        secured.stop()
    assert wrong.returncode == 2 and "refused the credentials" in wrong.stderr, wrong.stderr
    assert "wrong-pw" not in wrong.stderr

    scheme = _worker_exit("coder", "ftp://127.0.0.1:6379/0")
    assert scheme.returncode == 2 and "bad Redis URL" in scheme.stderr, scheme.stderr

    nobody = _worker_exit("coder", f"redis://127.0.0.1:{secured.port}/0", "--redis-wait", "1")
    assert nobody.returncode == 3 and "unreachable" in nobody.stderr, nobody.stderr
    for proc in (wrong, scheme, nobody):
        assert "Traceback" not in proc.stderr


@pytest.fixture
def secured_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "secured", password=f"pw-{secrets.token_hex(8)}")
    server.data_dir.mkdir()
    server.start()
    yield server
    server.stop()


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _argv(pid: int) -> list[str]:
    return [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]


def test_serve_keeps_the_redis_password_off_command_lines_and_hands_on_verbose(
        secured_redis: PrivateRedis, serve_on: Any) -> None:
    _url, _token, serve = serve_on(secured_redis.url, "-v")  # up: its ingest reached Redis with the password
    children = _children(serve.pid)
    assert len(children) == 4  # ingest, one asr, drafter, coder
    password = secured_redis.password
    assert password
    for pid in [serve.pid, *children]:
        assert not any(password in arg for arg in _argv(pid)), "the Redis password is on a command line"
    for pid in children:
        argv = _argv(pid)
        assert argv.index("-v") < argv.index("worker"), argv  # `scribe -v serve` makes verbose workers


def test_systemd_units_take_the_redis_url_from_their_environment_file() -> None:
    for unit in Path(__file__).resolve().parents[1].glob("deploy/systemd/*.service"):
        text = unit.read_text()
        exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
        assert "EnvironmentFile=" in text and "--redis" not in exec_start and "REDIS_URL" not in exec_start, unit
        assert "RestartPreventExitStatus=2" in text  # only a configuration error stops the restarts
