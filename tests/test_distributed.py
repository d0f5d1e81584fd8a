"""The distributed path on the real Redis: same codes as embedded, and a killed worker loses nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from services.asr.engine import WhisperEngine
from services.coder.service import CoderService
from services.common import keys
from services.common.bus import DeliveryPolicy
from services.common.export import result_to_dict
from services.common.redis_bus import RedisBus
from services.common.results import wait_for_result
from services.common.store import RedisStore
from services.drafter.service import DrafterService
from services.ingest.service import IngestService
from services.pipeline import EmbeddedPipeline
from tests.cases import case_audio, case_context, load_case

CASE = load_case("pub-001")


def _worker(stage: str, redis_url: str, name: str, claim_idle: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "services.cli", "worker", stage, "--redis", redis_url,
                             "--name", name, "--claim-idle", str(claim_idle)])


@pytest.fixture
def server(redis_url: str, free_port: int, state_dir: Path) -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", "--redis", redis_url,
                             "--port", str(free_port), "--asr-workers", "2"])
    url = f"http://127.0.0.1:{free_port}"
    deadline = time.monotonic() + 60
    import urllib.request

    while True:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("scribe serve did not come up")
            time.sleep(0.2)
    yield url
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("scribe serve did not stop on SIGTERM")


def _codes(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted((c["cpt"], c["units"], c["minutes"], c["start"], c["stop"], tuple(c["modifiers"]))
                  for c in result["codes"])


async def _embedded(engine: WhisperEngine) -> dict[str, Any]:
    async with EmbeddedPipeline(engines=[engine]) as pipeline:
        return result_to_dict(await pipeline.run_file(case_audio("pub-001"), case_context(CASE)))


def test_submit_through_redis_gives_the_embedded_codes(server: str, engine: WhisperEngine, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx.json"
    ctx.write_text(json.dumps({**CASE["context"], "mode": CASE["mode"]}))
    proc = subprocess.run([sys.executable, "-m", "services.cli", "submit", str(case_audio("pub-001")),
                           "--context", str(ctx), "--url", server, "--json"],
                          capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert proc.returncode == 0, proc.stderr
    distributed = json.loads(proc.stdout)
    embedded = asyncio.run(_embedded(engine))
    assert _codes(distributed) and _codes(distributed) == _codes(embedded)
    assert [s["text"] for s in distributed["transcript"]] == [s["text"] for s in embedded["transcript"]]


def test_submit_rejects_a_wrong_token_and_bad_audio(server: str, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx.json"
    ctx.write_text(json.dumps({**CASE["context"], "mode": CASE["mode"]}))
    bad = subprocess.run([sys.executable, "-m", "services.cli", "submit", str(case_audio("pub-001")),
                          "--context", str(ctx), "--url", server, "--token", "wrong"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "401" in bad.stderr and "Traceback" not in bad.stderr
    junk = tmp_path / "junk.wav"
    junk.write_bytes(os.urandom(4096))
    proc = subprocess.run([sys.executable, "-m", "services.cli", "submit", str(junk), "--context", str(ctx),
                           "--url", server], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "400" in proc.stderr and "Traceback" not in proc.stderr


def _pending_of(client: redis.Redis, consumer: str) -> int:
    try:
        info = client.xpending(keys.UTTERANCES, keys.GROUP_ASR)
    except redis.exceptions.ResponseError:
        return 0
    for c in info.get("consumers", []):
        name = c["name"].decode() if isinstance(c["name"], bytes) else c["name"]
        if name == consumer:
            return int(c["pending"])
    return 0


async def _session_with_a_killed_worker(redis_url: str) -> tuple[dict[str, Any], int]:
    bus = RedisBus(redis_url, DeliveryPolicy(claim_idle_s=1.0, block_s=0.2))
    store = RedisStore(redis_url)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(DrafterService(bus, store).run(stop)),
             asyncio.create_task(CoderService(bus, store).run(stop))]
    await bus.ensure_group(keys.UTTERANCES, keys.GROUP_ASR)
    ingest = IngestService(bus, store)
    sid = await ingest.start_session(case_context(CASE))
    await ingest.add_file(sid, case_audio("pub-001"))
    event = await ingest.stop_session(sid)

    client = redis.Redis.from_url(redis_url)
    doomed = _worker("asr", redis_url, "asr-doomed", claim_idle=30.0)
    deadline = time.monotonic() + 120
    while _pending_of(client, "asr-doomed") == 0:  # it has read an utterance and not acked it yet
        assert time.monotonic() < deadline and doomed.poll() is None, "worker never read an utterance"
        await asyncio.sleep(0.005)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    orphaned = _pending_of(client, "asr-doomed")
    assert orphaned >= 1

    rescuer = _worker("asr", redis_url, "asr-rescuer", claim_idle=1.0)
    try:
        result = await wait_for_result(bus, store, sid, timeout_s=180)
    finally:
        rescuer.terminate()
        rescuer.wait(timeout=20)
        stop.set()
        await asyncio.gather(*tasks)
        await bus.close()
        await store.close()
        client.close()
    return result_to_dict(result), int(event.last_seq) + 1


def test_killed_asr_worker_loses_and_duplicates_nothing(redis_url: str) -> None:
    result, utterances = asyncio.run(_session_with_a_killed_worker(redis_url))
    starts = [s["start_s"] for s in result["transcript"]]
    assert len(starts) == utterances == len(CASE["segments"])  # every utterance once: none lost, none doubled
    assert len(set(starts)) == len(starts)
    for seg, gold in zip(result["transcript"], CASE["segments"], strict=True):
        assert abs(seg["start_s"] - gold["at_s"]) < 1.0
    assert result["codes"]
