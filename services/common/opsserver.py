"""What every worker answers operations with, and what it samples for them.

  GET /metrics   Prometheus exposition of services/common/metrics.py; needs the API token (Bearer), like
                 every route that returns data
  GET /healthz   200 while the process runs (liveness; no token, no data)
  GET /readyz    200 when Redis answers and the stage is ready to work (the asr model loaded), else 503
                 (readiness; no token, no data beyond ready or not)

Ingest serves them on its API app; asr, drafter and coder on a small server of their own (--metrics-port),
bound to 127.0.0.1 unless told otherwise. Each worker also samples consumer-group lag and pending entries
from XINFO GROUPS (stream metadata only, never a payload) and advertises its endpoint in Redis, so
`scribe top` finds every worker without a list to keep.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from redis.exceptions import RedisError, ResponseError

from services.common import keys, metrics
from services.common.auth import token_matches

log = logging.getLogger("scribe.ops")

OPEN_PATHS = frozenset({"/healthz", "/readyz"})  # probes carry no credential; they return no data
SAMPLE_EVERY_S = float(os.environ.get("SCRIBE_METRICS_SAMPLE_S", "5"))  # lag and pending, from XINFO
ADVERTISE_EVERY_S = 10.0
ADVERTISE_TTL_S = 30  # a worker gone stops being listed within this


@dataclass
class Readiness:
    """Ready = Redis answers a PING and every condition the stage registered holds."""

    redis: aioredis.Redis
    conditions: dict[str, Callable[[], bool]] = field(default_factory=dict)

    async def check(self) -> dict[str, bool]:
        try:
            redis_ok = bool(await asyncio.wait_for(self.redis.ping(), timeout=1.0))
        except (RedisError, OSError, TimeoutError):
            redis_ok = False
        return {"redis": redis_ok, **{name: cond() for name, cond in self.conditions.items()}}


def add_ops_routes(app: web.Application, readiness: Readiness) -> None:
    """/metrics, /healthz (if missing), /readyz on an app whose middleware checks the token on all but
    OPEN_PATHS (ingest's API app, or build_ops_app's)."""

    async def metrics_route(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def readyz(_: web.Request) -> web.Response:
        checks = await readiness.check()
        return web.json_response({"ready": all(checks.values()), **checks}, status=200 if all(checks.values())
                                 else 503)

    have = {r.resource.canonical for r in app.router.routes() if r.resource is not None}
    routes = [web.get("/metrics", metrics_route), web.get("/readyz", readyz)]
    if "/healthz" not in have:
        routes.append(web.get("/healthz", healthz))
    app.add_routes(routes)


def build_ops_app(token: str, readiness: Readiness) -> web.Application:
    """The small server of a worker without an API (asr, drafter, coder)."""

    @web.middleware
    async def require_token(request: web.Request,
                            handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        if request.path not in OPEN_PATHS:
            header = request.headers.get("Authorization", "")
            given = header[7:] if header.startswith("Bearer ") else ""  # never a token in the URL
            if not given or not token_matches(given, token):
                return web.json_response({"error": "missing or wrong API token"}, status=401)
        return await handler(request)

    app = web.Application(middlewares=[require_token])
    add_ops_routes(app, readiness)
    return app


async def start_ops(app: web.Application, host: str, port: int, stop: asyncio.Event) -> asyncio.Task[None]:
    """serve_ops as a task, after its port is bound (so a taken port fails the start, not a task later)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise

    async def run() -> None:
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    return asyncio.create_task(run(), name="ops-server")


def _text(v: object) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


async def sample_streams_once(r: aioredis.Redis) -> None:
    """Lag, pending and length of every stage's stream into the gauges (metadata only)."""
    for stream, group in metrics.SAMPLED_STREAMS:
        metrics.STREAM_LENGTH.labels(stream).set(int(await r.xlen(stream)))
        try:
            groups = await r.xinfo_groups(stream)
        except ResponseError:  # the stream does not exist yet
            groups = []
        for g in groups:
            if _text(g["name"]) == group:
                metrics.STREAM_PENDING.labels(stream, group).set(int(g["pending"]))
                if g.get("lag") is not None:  # None when Redis cannot tell (after deletions)
                    metrics.STREAM_LAG.labels(stream, group).set(int(g["lag"]))
        dead = keys.dead_letter(stream)
        metrics.STREAM_LENGTH.labels(dead).set(int(await r.xlen(dead)))


async def sample_streams(r: aioredis.Redis, stop: asyncio.Event, every_s: float = SAMPLE_EVERY_S) -> None:
    """Sample until stopped; a Redis away is skipped over (the consumer loops report outages)."""
    while not stop.is_set():
        try:
            await sample_streams_once(r)
        except (RedisError, OSError):
            pass
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)


def advertised_url(host: str, port: int) -> str:
    """How other machines reach this endpoint: the bound address, or this host's name for a wildcard."""
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    return f"http://{shown}:{port}"


async def advertise(r: aioredis.Redis, name: str, stage: str, url: str, stop: asyncio.Event,
                    every_s: float = ADVERTISE_EVERY_S) -> None:
    """Keep scribe:endpoint:{name} (stage, URL, clinic) alive while this worker runs, for `scribe top`."""
    record = json.dumps({"stage": stage, "url": url, "clinic": metrics.clinic_from_env()})
    while not stop.is_set():
        with contextlib.suppress(RedisError, OSError):
            await r.set(keys.endpoint(name), record, ex=ADVERTISE_TTL_S)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
    with contextlib.suppress(RedisError, OSError):
        await r.delete(keys.endpoint(name))
