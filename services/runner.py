"""Process running for the distributed mode: one stage per process, all joined by Redis.

Exit codes of a worker, which `serve` and the systemd units act on:
  0  stopped on SIGTERM/SIGINT
  2  a configuration error at start (bad Redis URL, refused password, bad model path, port taken):
     restarting cannot help, so neither serve nor systemd does
  3  Redis did not answer within --redis-wait at start: restarted (it may be booting)
A Redis that goes away while a worker runs is waited out, never an exit (services/common/outage.py).

The Redis URL (with its password) reaches each child in its environment (SCRIBE_REDIS_URL), never
on its command line, where `ps` would show it to every user of the machine.

Operations endpoints (services/common/opsserver.py): ingest serves /metrics, /healthz and /readyz on its
API port; asr, drafter and coder on --metrics-port (off when 0). `serve` gives its children consecutive
ports after the API's: asr workers first, then drafter, then coder.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass

from services.common import metrics, redis_conn
from services.common.auth import redact_url
from services.common.bus import DeliveryPolicy
from services.common.errors import InputError
from services.common.opsserver import (
    Readiness,
    add_ops_routes,
    advertise,
    advertised_url,
    build_ops_app,
    sample_streams,
    start_ops,
)

log = logging.getLogger("scribe.runner")

RESTART_LIMIT = 5  # restarts of one stage within RESTART_WINDOW_S before serve gives up
RESTART_WINDOW_S = 60.0
EXIT_CONFIG = 2
EXIT_REDIS_UNAVAILABLE = 3
REDIS_URL_ENV = "SCRIBE_REDIS_URL"


@dataclass(frozen=True)
class WorkerOptions:
    """What a worker is told at start (the CLI's options), shared by `worker` and `serve`."""

    redis_url: str
    host: str = "127.0.0.1"
    port: int = 8750
    model_path: str | None = None
    claim_idle_s: float = 30.0
    redis_wait_s: float = redis_conn.DEFAULT_START_WAIT_S
    buffer_bytes: int = 256 * 1024 * 1024  # ingest: audio held while Redis is away
    metrics_host: str = "127.0.0.1"  # asr, drafter, coder: where /metrics, /healthz, /readyz listen
    metrics_port: int = 0  # 0: no metrics server (ingest serves them on its API port regardless)


async def _run_stage(stage: str, consumer: str, opts: WorkerOptions) -> None:
    from services.common.redis_bus import RedisBus
    from services.common.retention import Janitor, RetentionPolicy, beat, keep_alive, retire
    from services.common.store import RedisStore

    retention = RetentionPolicy.from_env()
    bus = RedisBus(opts.redis_url, DeliveryPolicy(claim_idle_s=opts.claim_idle_s),
                   index_ttl_s=retention.result_ttl_s)
    store = RedisStore(opts.redis_url, ttl_s=retention.result_ttl_s)
    # Retention runs beside each stage but asr (whose processes are many and busy): any one is enough.
    janitor = Janitor(bus, store, retention)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    metrics.set_process_stage(stage)
    try:
        await redis_conn.wait_until_up(bus.redis, opts.redis_wait_s)
        readiness = Readiness(bus.redis)
        ops: list[Awaitable[None]] = []
        if stage == "ingest":
            from services.common.auth import load_or_create_token
            from services.ingest.http import build_app, serve_http
            from services.ingest.service import IngestService

            # Unique per process: a restarted ingest must not revive the heartbeat of the one that died.
            ingest_id = f"{consumer}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            await beat(bus, ingest_id, retention)  # alive before its first session is recorded
            ingest = IngestService(bus, store, buffer_bytes=opts.buffer_bytes, ingest_id=ingest_id)
            app = build_app(ingest, bus, store, load_or_create_token())
            add_ops_routes(app, readiness)  # behind the API's own token check
            ops.append(advertise(bus.redis, consumer, stage, advertised_url(opts.host, opts.port), stop))
            ops.append(sample_streams(bus.redis, stop))
            log.warning("ingest listening on http://%s:%d", opts.host, opts.port)
            await asyncio.gather(serve_http(app, opts.host, opts.port, stop),
                                 keep_alive(bus, ingest_id, retention, stop), janitor.run(stop), *ops)
            await retire(bus, ingest_id)  # after serve_http sent what ingest held
            return
        if opts.metrics_port:
            from services.common.auth import load_or_create_token

            app = build_ops_app(load_or_create_token(), readiness)
            ops.append(await start_ops(app, opts.metrics_host, opts.metrics_port, stop))
            ops.append(advertise(bus.redis, consumer, stage,
                                 advertised_url(opts.metrics_host, opts.metrics_port), stop))
        # Lag and pending of every stage's stream, sampled by every worker: any one alive reports them.
        ops.append(sample_streams(bus.redis, stop))
        if stage == "asr":
            from services.asr.engine import WhisperEngine
            from services.asr.service import AsrService

            loaded = asyncio.Event()
            readiness.conditions["model"] = loaded.is_set
            # Loaded off the event loop: /healthz answers (and lag is sampled) while it loads.
            engine = await asyncio.to_thread(WhisperEngine, opts.model_path)
            loaded.set()
            metrics.ASR_MODEL_LOADED.set(1)
            await asyncio.gather(AsrService(bus, store, engine, consumer=consumer).run(stop), *ops)
        elif stage == "drafter":
            from services.drafter.service import DrafterService

            await asyncio.gather(DrafterService(bus, store, consumer=consumer).run(stop), janitor.run(stop), *ops)
        elif stage == "coder":
            from services.coder.service import CoderService

            await asyncio.gather(CoderService(bus, store, consumer=consumer).run(stop), janitor.run(stop), *ops)
    finally:
        stop.set()  # the ops server and samplers end with the stage, however it ended
        await bus.close()
        await store.close()


def run_worker(stage: str, consumer: str | None, opts: WorkerOptions) -> int:
    """Run one stage until stopped; returns the exit code (see the module's docstring)."""
    import redis.exceptions

    name = consumer or f"{stage}-{socket.gethostname()}-{os.getpid()}"
    where = redact_url(opts.redis_url)
    try:
        redis_conn.check_url(opts.redis_url)
        asyncio.run(_run_stage(stage, name, opts))
    except redis_conn.RedisUnavailable as exc:
        print(f"scribe: error: Redis at {where} is unreachable: {exc}", file=sys.stderr)
        return EXIT_REDIS_UNAVAILABLE
    except (redis.exceptions.AuthenticationError, redis.exceptions.AuthorizationError):
        print(f"scribe: error: Redis at {where} refused the credentials in the URL", file=sys.stderr)
        return EXIT_CONFIG
    except redis.exceptions.ConnectionError as exc:  # only if an outage escaped the loops: start again
        print(f"scribe: error: {stage} lost Redis at {where} ({type(exc).__name__})", file=sys.stderr)
        return EXIT_REDIS_UNAVAILABLE
    except redis.exceptions.ResponseError as exc:  # e.g. a database number the server does not have
        print(f"scribe: error: Redis at {where} refused the setup: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except OSError as exc:
        print(f"scribe: error: {stage} cannot start ({exc.strerror or type(exc).__name__})", file=sys.stderr)
        return EXIT_CONFIG
    except InputError as exc:  # a configuration error (e.g. no sentence model at the folder given)
        print(f"scribe: error: {stage} cannot start: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return 0


def metrics_ports(opts: WorkerOptions, asr_workers: int) -> dict[tuple[str, int], int]:
    """The metrics port of each child of `serve` (ingest: its API port): consecutive from metrics_port,
    or from the API port + 1 when it is 0."""
    base = opts.metrics_port or opts.port + 1
    plan = [*[("asr", i) for i in range(asr_workers)], ("drafter", 0), ("coder", 0)]
    return {("ingest", 0): opts.port, **{key: base + n for n, key in enumerate(plan)}}


def _spawn(stage: str, index: int, opts: WorkerOptions, verbose: bool, metrics_port: int) -> subprocess.Popen[bytes]:
    """One child: the URL goes in its environment, not on its command line (see the module's docstring)."""
    cmd = [sys.executable, "-m", "services.cli", *(["-v"] if verbose else []), "worker", stage,
           "--host", opts.host, "--port", str(opts.port), "--name", f"{stage}-{socket.gethostname()}-{index}",
           "--claim-idle", str(opts.claim_idle_s), "--redis-wait", str(opts.redis_wait_s),
           "--buffer-mb", str(opts.buffer_bytes / 2**20), "--metrics-host", opts.metrics_host]
    if stage != "ingest":
        cmd += ["--metrics-port", str(metrics_port)]
    if opts.model_path:
        cmd += ["--model", opts.model_path]
    return subprocess.Popen(cmd, env={**os.environ, REDIS_URL_ENV: opts.redis_url})


def serve_processes(opts: WorkerOptions, asr_workers: int, verbose: bool = False) -> int:
    """Start every stage as a child process; restart one that dies; stop all on SIGINT/SIGTERM."""
    from services.common.auth import load_or_create_token

    redis_url, host, port = opts.redis_url, opts.host, opts.port
    redis_conn.check_url(redis_url)  # a URL no child could use: say so once, before starting any
    os.environ["SCRIBE_TOKEN"] = load_or_create_token()  # children inherit one token
    plan = [("ingest", 0), *[("asr", i) for i in range(asr_workers)], ("drafter", 0), ("coder", 0)]
    ports = metrics_ports(opts, asr_workers)
    children = {key: _spawn(key[0], key[1], opts, verbose, ports[key]) for key in plan}
    restarts: dict[tuple[str, int], list[float]] = {key: [] for key in plan}
    stopping = False

    def _stop(_sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"scribe: serving on http://{host}:{port} with {asr_workers} asr workers "
          f"(Redis {redact_url(redis_url)}); metrics on ports "
          + ", ".join(f"{k[0]}{'-' + str(k[1]) if k[0] == 'asr' else ''} {p}" for k, p in ports.items()),
          flush=True)
    code = 0
    while not stopping:
        time.sleep(0.5)
        for key, proc in list(children.items()):
            rc = proc.poll()
            if rc is None:
                continue
            if rc == EXIT_CONFIG:  # a configuration error: restarting cannot help
                print(f"scribe: {key[0]} exited with a configuration error; stopping", file=sys.stderr)
                stopping, code = True, EXIT_CONFIG
                break
            now = time.monotonic()
            # Waiting for Redis (exit 3 comes only after --redis-wait) is not "keeps dying".
            if rc != EXIT_REDIS_UNAVAILABLE:
                restarts[key] = [t for t in restarts[key] if now - t < RESTART_WINDOW_S] + [now]
            if len(restarts[key]) > RESTART_LIMIT:
                print(f"scribe: {key[0]} keeps dying; stopping", file=sys.stderr)
                stopping, code = True, 1
                break
            log.warning("%s-%d exited with %s; restarting", key[0], key[1], rc)
            children[key] = _spawn(key[0], key[1], opts, verbose, ports[key])
    for proc in children.values():
        if proc.poll() is None:
            proc.terminate()
    for proc in children.values():
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return code
