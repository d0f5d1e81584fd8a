"""The ingest HTTP API (aiohttp): sessions, audio upload, results. Every route needs a credential
(services/ingest/signin.py): `Authorization: Bearer TOKEN`, or the cookie of a signed-in browser.

POST /v1/sessions                 body: context JSON          -> 201 {"session_id"}  (a recording to upload)
POST /v1/sessions   body: {"context": {...}, "consent": true} -> 201 {"session_id"}  (live capture; 403 without consent)
PUT  /v1/sessions/{id}/audio      body: an audio file         -> 202 {"utterances"} | 409 | 413
POST /v1/sessions/{id}/webrtc     body: {"sdp", "type"} offer -> 200 {"sdp", "type"} answer
GET  /v1/sessions/{id}/audio/ws   WebSocket audio (services/ingest/ws.py)
POST /v1/sessions/{id}/pause | /resume                        -> 200 {"status"}
POST /v1/sessions/{id}/stop                                   -> 202 {"last_seq", "duration_s"}
GET  /v1/sessions/{id}/events     text/event-stream of partials, segments, drafts, codes
GET  /v1/sessions/{id}/result?wait=S                          -> 200 result JSON | 202 pending | 422 failed
                                                                 | 404 never started (or long expired)
POST /v1/sessions/{id}/flags/dismiss  body: {"kind","cpt","reason"} -> 200 (services/ingest/review.py)
POST /v1/login      body: {"token"}                           -> 200 + session cookie | 400 | 401 | 429
POST /v1/logout                                               -> 200, the cookie's session ended
GET  /v1/me                                                   -> 200 {"signed_in": true} | 401
GET  /healthz, /readyz                                        -> 200 | 503 (no credential: liveness and
                                                                 readiness only, no data)
GET  /metrics                                                 Prometheus metrics (credential), added by the
                                                                 worker (services/common/opsserver.py)
GET  /app, /app/{app.js,app.css}                              the clinician web page (services/ingest/web/;
                                                                 no credential: static files, no data)

No credential in a URL: `?token=` is refused with 400 on every route, public ones included. Browsers'
EventSource and WebSocket, which cannot set headers, carry the sign-in cookie instead.

Limits: a context body is at most 64 KiB and each of its fields is bounded (services/common/context.py:
400 past a field's bound, 413 past the body's); an upload at most MAX_UPLOAD_BYTES and MAX_AUDIO_S
of decoded audio (4 hours, `SCRIBE_MAX_AUDIO_S`), else 413. Uploads are decoded off the event loop.

Audio uploads (PUT .../audio) are taken once: a PUT whose bytes are identical to an upload the session
already took gets 409 and is not appended (a retried or repeated PUT would bill the same minutes twice;
the first one counts), and so does a PUT while the session is paused (resume it first: a recording is
never turned into silence). Several different parts of one recording may be PUT in order.

While Redis is away, audio is still taken and held (services/ingest/outbox.py); a request that needs
Redis itself (a result, a dismissal), or audio past the hold's bound, gets 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from services.common.bus import Bus
from services.common.context import MAX_CONTEXT_BYTES, context_from_dict
from services.common.errors import InputError, TooLarge
from services.common.export import result_to_dict
from services.common.results import ResultTimeout, SessionFailed, wait_for_result
from services.common.store import SessionStore
from services.ingest.bodies import read_json
from services.ingest.outbox import RETRY_AFTER_S, BufferFull
from services.ingest.review import add_review_routes
from services.ingest.service import ConsentRequired, IngestService, SessionConflict, UnknownSession
from services.ingest.signin import Gate, url_credential
from services.ingest.web import add_web_routes
from services.ingest.webrtc import WebRtcIngest, ice_servers_from_env
from services.ingest.ws import audio_ws, events_sse

log = logging.getLogger("scribe.ingest")

# A live session with no connection and no audio for this long is finalised (its client vanished).
IDLE_STOP_S = float(os.environ.get("SCRIBE_LIVE_IDLE_S", "1800"))

MAX_UPLOAD_BYTES = 512 * 1024 * 1024  # a 4-hour 16 kHz mono WAV; larger uploads are refused with 413
MAX_OFFER_BYTES = 64 * 1024  # an SDP offer (a few KB)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Routes answered without a credential (method, route pattern): liveness, signing in, and the page's
# static files, none of which carries session data. tests/test_route_auth.py walks every other route.
PUBLIC_ROUTES = frozenset({("GET", "/healthz"), ("GET", "/readyz"), ("POST", "/v1/login"),
                           ("GET", "/app"), ("GET", "/app/"), ("GET", "/app/{name}")})


def is_public(request: web.Request) -> bool:
    resource = request.match_info.route.resource
    method = "GET" if request.method == "HEAD" else request.method
    return resource is not None and (method, resource.canonical) in PUBLIC_ROUTES


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _unavailable(message: str) -> web.Response:
    """503 for a passing condition (Redis restarting, the hold full): the client retries, nothing is lost."""
    return web.json_response({"error": message}, status=503, headers={"Retry-After": str(RETRY_AFTER_S)})


def build_app(ingest: IngestService, bus: Bus, store: SessionStore, token: str,
              webrtc: WebRtcIngest | None = None, idle_stop_s: float = IDLE_STOP_S,
              gate: Gate | None = None) -> web.Application:
    """gate: who may call (a bearer token or a signed-in cookie); by default one for `token`."""
    rtc = webrtc or WebRtcIngest(ingest, ice_servers_from_env())
    gate = gate or Gate(token)

    @web.middleware
    async def require_credential(request: web.Request, handler: Handler) -> web.StreamResponse:
        name = url_credential(request)
        if name is not None:  # even on public routes: the URL is already in a history or a log somewhere
            return _error(400, f"a credential in the URL (?{name}=) is refused: URLs are kept in histories "
                               "and logs. Send Authorization: Bearer TOKEN, or sign in at /app")
        if not is_public(request):
            refusal = gate.refusal(request)
            if refusal is not None:
                return refusal
        try:
            return await handler(request)
        except UnknownSession as exc:
            return _error(404, str(exc))
        except ConsentRequired as exc:
            return _error(403, str(exc))
        except SessionConflict as exc:
            return _error(409, str(exc))
        except TooLarge as exc:
            return _error(413, str(exc))
        except InputError as exc:
            return _error(400, str(exc))
        except BufferFull as exc:
            return _unavailable(str(exc))
        except Exception as exc:
            if not bus.is_outage(exc):
                raise
            resource = request.match_info.route.resource
            log.info("ingest: %s %s answered 503: Redis unreachable (%s)", request.method,
                     resource.canonical if resource else "-", type(exc).__name__)
            return _unavailable("the session store (Redis) is unreachable; retry shortly")

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def me(_: web.Request) -> web.Response:
        return web.json_response({"signed_in": True})  # the gate let the credential in

    async def session_known(sid: str) -> bool:
        """Open here, or known to the store (its context from start to end, its result after)."""
        if ingest.is_open(sid) or ingest.outbox.holding:  # held writes may hold its context: cannot tell
            return True
        return await store.session_known(sid)

    def unknown(sid: str) -> web.Response:
        # Not "pending" forever: nothing of it is kept (never started, purged, or past retention).
        return web.json_response({"status": "unknown", "error": f"no session {sid}: never started, "
                                  "purged, or its result expired after the retention period"}, status=404)

    async def create_session(request: web.Request) -> web.Response:
        data = await read_json(request, MAX_CONTEXT_BYTES, "the session context")
        if isinstance(data, dict) and isinstance(data.get("context"), dict):  # a live session
            ctx = context_from_dict(data["context"], source="session context")
            sid = await ingest.start_session(ctx, live=True, consent=data.get("consent") is True)
        else:
            ctx = context_from_dict(data, source="session context")
            sid = await ingest.start_session(ctx)
        return web.json_response({"session_id": sid}, status=201)

    async def offer(request: web.Request) -> web.Response:
        data = await read_json(request, MAX_OFFER_BYTES, "the SDP offer")
        try:
            sdp, kind = str(data["sdp"]), str(data.get("type", "offer"))
        except (KeyError, TypeError, AttributeError):
            return _error(400, "expected a JSON SDP offer {\"sdp\", \"type\"}")
        answer = await rtc.answer(request.match_info["sid"], sdp, kind)
        return web.json_response({"sdp": answer.sdp, "type": answer.type})

    async def pause(request: web.Request) -> web.Response:
        await ingest.pause(request.match_info["sid"])
        return web.json_response({"status": "paused"})

    async def resume(request: web.Request) -> web.Response:
        await ingest.resume(request.match_info["sid"])
        return web.json_response({"status": "recording"})

    async def audio_socket(request: web.Request) -> web.StreamResponse:
        return await audio_ws(request, ingest)

    async def events(request: web.Request) -> web.StreamResponse:
        return await events_sse(request, ingest, bus, store)

    async def put_audio(request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        if not ingest.is_open(sid):
            raise UnknownSession(f"no open session {sid}")
        body = await request.read()
        n = await ingest.add_file(sid, body)
        return web.json_response({"utterances": n}, status=202)

    async def stop(request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        event = await ingest.stop_session(sid)
        await rtc.close(sid)
        return web.json_response({"last_seq": event.last_seq, "duration_s": event.duration_s}, status=202)

    async def result(request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        try:
            wait = float(request.query.get("wait", "0"))
        except ValueError:
            wait = math.nan
        if not math.isfinite(wait):  # "nan" would never time out
            return _error(400, "wait must be a number of seconds")
        wait = min(max(wait, 0.0), 60.0)
        if not await session_known(sid):  # else a mistyped id would be "pending" forever
            return unknown(sid)
        try:
            res = await wait_for_result(bus, store, sid, timeout_s=wait)
        except ResultTimeout:
            if not await session_known(sid):  # expired or purged while we waited
                return unknown(sid)
            return web.json_response({"status": "pending"}, status=202)
        except SessionFailed as exc:
            return _error(422, str(exc))
        return web.json_response(result_to_dict(res))

    async def idle_reaper(_app: web.Application) -> AsyncIterator[None]:
        async def sweep() -> None:
            while True:
                await asyncio.sleep(min(60.0, idle_stop_s / 4))
                for sid in await ingest.stop_idle(idle_stop_s):
                    log.warning("live session %s finalised after %.0f s without a connection", sid, idle_stop_s)

        task = asyncio.create_task(sweep())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await rtc.close()
        await ingest.close()

    app = web.Application(middlewares=[require_credential], client_max_size=MAX_UPLOAD_BYTES)
    app.cleanup_ctx.append(idle_reaper)
    app.add_routes(
        [
            web.get("/healthz", healthz),
            web.post("/v1/login", gate.login),
            web.post("/v1/logout", gate.logout),
            web.get("/v1/me", me),
            web.post("/v1/sessions", create_session),
            web.put("/v1/sessions/{sid}/audio", put_audio),
            web.post("/v1/sessions/{sid}/webrtc", offer),
            web.get("/v1/sessions/{sid}/audio/ws", audio_socket),
            web.post("/v1/sessions/{sid}/pause", pause),
            web.post("/v1/sessions/{sid}/resume", resume),
            web.post("/v1/sessions/{sid}/stop", stop),
            web.get("/v1/sessions/{sid}/events", events),
            web.get("/v1/sessions/{sid}/result", result),
        ]
    )
    add_review_routes(app, store, session_known)
    add_web_routes(app)  # the clinician page, GET /app (services/ingest/web/)
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
