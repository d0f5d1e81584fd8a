"""The ingest HTTP API (aiohttp): sessions, audio upload, results. Every route needs the token.

POST /v1/sessions                 body: context JSON          -> 201 {"session_id"}
PUT  /v1/sessions/{id}/audio      body: an audio file         -> 202 {"utterances"}
POST /v1/sessions/{id}/stop                                   -> 202 {"last_seq", "duration_s"}
GET  /v1/sessions/{id}/result?wait=S                          -> 200 result JSON | 202 pending | 422 failed
GET  /healthz                                                 -> 200 (no token: liveness only, no data)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from services.common.auth import token_matches
from services.common.bus import Bus
from services.common.context import context_from_dict
from services.common.errors import InputError
from services.common.export import result_to_dict
from services.common.results import ResultTimeout, SessionFailed, wait_for_result
from services.common.store import SessionStore
from services.ingest.service import IngestService, UnknownSession

MAX_UPLOAD_BYTES = 512 * 1024 * 1024  # a 3-hour WAV; larger uploads are refused with 413

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def build_app(ingest: IngestService, bus: Bus, store: SessionStore, token: str) -> web.Application:
    @web.middleware
    async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/healthz":
            return await handler(request)
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not token_matches(auth[7:], token):
            return _error(401, "missing or wrong API token")
        try:
            return await handler(request)
        except UnknownSession as exc:
            return _error(404, str(exc))
        except InputError as exc:
            return _error(400, str(exc))

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def create_session(request: web.Request) -> web.Response:
        try:
            data = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "the session context is not valid JSON")
        ctx = context_from_dict(data, source="session context")
        sid = await ingest.start_session(ctx)
        return web.json_response({"session_id": sid}, status=201)

    async def put_audio(request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        if not ingest.is_open(sid):
            raise UnknownSession(f"no open session {sid}")
        body = await request.read()
        n = await ingest.add_file(sid, body)
        return web.json_response({"utterances": n}, status=202)

    async def stop(request: web.Request) -> web.Response:
        event = await ingest.stop_session(request.match_info["sid"])
        return web.json_response({"last_seq": event.last_seq, "duration_s": event.duration_s}, status=202)

    async def result(request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        try:
            wait = min(max(float(request.query.get("wait", "0")), 0.0), 60.0)
        except ValueError:
            return _error(400, "wait must be a number of seconds")
        try:
            res = await wait_for_result(bus, store, sid, timeout_s=wait)
        except ResultTimeout:
            return web.json_response({"status": "pending"}, status=202)
        except SessionFailed as exc:
            return _error(422, str(exc))
        return web.json_response(result_to_dict(res))

    app = web.Application(middlewares=[require_token], client_max_size=MAX_UPLOAD_BYTES)
    app.add_routes(
        [
            web.get("/healthz", healthz),
            web.post("/v1/sessions", create_session),
            web.put("/v1/sessions/{sid}/audio", put_audio),
            web.post("/v1/sessions/{sid}/stop", stop),
            web.get("/v1/sessions/{sid}/result", result),
        ]
    )
    return app


async def serve_http(app: web.Application, host: str, port: int, stop: asyncio.Event) -> None:
    runner = web.AppRunner(app, access_log=None)  # access logs would carry session ids only, but keep them off
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
