"""Process running for the distributed mode: one stage per process, all joined by Redis."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time

from services.common.auth import redact_url
from services.common.bus import DeliveryPolicy
from services.common.errors import InputError

log = logging.getLogger("scribe.runner")

RESTART_LIMIT = 5  # restarts of one stage within RESTART_WINDOW_S before serve gives up
RESTART_WINDOW_S = 60.0


async def _run_stage(stage: str, redis_url: str, consumer: str, host: str, port: int, model_path: str | None,
                     claim_idle_s: float) -> None:
    from services.common.redis_bus import RedisBus
    from services.common.store import RedisStore

    bus = RedisBus(redis_url, DeliveryPolicy(claim_idle_s=claim_idle_s))
    store = RedisStore(redis_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await bus.redis.ping()
        if stage == "ingest":
            from services.common.auth import load_or_create_token
            from services.ingest.http import build_app, serve_http
            from services.ingest.service import IngestService

            app = build_app(IngestService(bus, store), bus, store, load_or_create_token())
            log.warning("ingest listening on http://%s:%d", host, port)
            await serve_http(app, host, port, stop)
        elif stage == "asr":
            from services.asr.engine import WhisperEngine
            from services.asr.service import AsrService

            await AsrService(bus, store, WhisperEngine(model_path), consumer=consumer).run(stop)
        elif stage == "drafter":
            from services.drafter.service import DrafterService

            await DrafterService(bus, store, consumer=consumer).run(stop)
        elif stage == "coder":
            from services.coder.service import CoderService

            await CoderService(bus, store, consumer=consumer).run(stop)
    finally:
        await bus.close()
        await store.close()


def run_worker(stage: str, redis_url: str, consumer: str | None, host: str, port: int, model_path: str | None,
               claim_idle_s: float) -> int:
    import redis.exceptions

    name = consumer or f"{stage}-{socket.gethostname()}-{os.getpid()}"
    try:
        asyncio.run(_run_stage(stage, redis_url, name, host, port, model_path, claim_idle_s))
    except redis.exceptions.ConnectionError:
        print(f"scribe: error: cannot connect to Redis at {redact_url(redis_url)}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"scribe: error: {stage} cannot start ({exc.strerror or type(exc).__name__})", file=sys.stderr)
        return 2
    except InputError as exc:  # a configuration error (e.g. no sentence model at the folder given)
        print(f"scribe: error: {stage} cannot start: {exc}", file=sys.stderr)
        return 2
    return 0


def _spawn(
    stage: str, index: int, redis_url: str, host: str, port: int, model_path: str | None
) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "services.cli", "worker", stage, "--redis", redis_url,
           "--host", host, "--port", str(port), "--name", f"{stage}-{socket.gethostname()}-{index}"]
    if model_path:
        cmd += ["--model", model_path]
    return subprocess.Popen(cmd)


def serve_processes(redis_url: str, host: str, port: int, asr_workers: int, model_path: str | None) -> int:
    """Start every stage as a child process; restart one that dies; stop all on SIGINT/SIGTERM."""
    from services.common.auth import load_or_create_token

    os.environ["SCRIBE_TOKEN"] = load_or_create_token()  # children inherit one token
    plan = [("ingest", 0), *[("asr", i) for i in range(asr_workers)], ("drafter", 0), ("coder", 0)]
    children = {key: _spawn(key[0], key[1], redis_url, host, port, model_path) for key in plan}
    restarts: dict[tuple[str, int], list[float]] = {key: [] for key in plan}
    stopping = False

    def _stop(_sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"scribe: serving on http://{host}:{port} with {asr_workers} asr workers "
          f"(Redis {redact_url(redis_url)})", flush=True)
    code = 0
    while not stopping:
        time.sleep(0.5)
        for key, proc in list(children.items()):
            rc = proc.poll()
            if rc is None:
                continue
            if rc == 2:  # a configuration error: restarting cannot help
                print(f"scribe: {key[0]} exited with a configuration error; stopping", file=sys.stderr)
                stopping, code = True, 2
                break
            now = time.monotonic()
            restarts[key] = [t for t in restarts[key] if now - t < RESTART_WINDOW_S] + [now]
            if len(restarts[key]) > RESTART_LIMIT:
                print(f"scribe: {key[0]} keeps dying; stopping", file=sys.stderr)
                stopping, code = True, 1
                break
            log.warning("%s-%d exited with %s; restarting", key[0], key[1], rc)
            children[key] = _spawn(key[0], key[1], redis_url, host, port, model_path)
    for proc in children.values():
        if proc.poll() is None:
            proc.terminate()
    for proc in children.values():
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return code
