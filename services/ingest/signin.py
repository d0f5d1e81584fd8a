"""Who may call the ingest API: a bearer token (API clients) or a signed-in browser (a session cookie).

No credential ever travels in a URL: URLs end up in browser history, proxy and server logs, and
Referer headers. A request carrying `?token=` (or `?access_token=`) is refused with 400 on every route.

- API clients send `Authorization: Bearer TOKEN` (the clinic token, services/common/auth.py).
- The web page signs in with `POST /v1/login {"token": TOKEN}`: the server answers with a cookie
  holding a random session id (never the token) that is HttpOnly (no script reads it), SameSite=Strict
  (never sent by another site's page) and Secure when the request came over https. The session lives in
  this process's memory (WEB_SESSION_S, default 12 h, `SCRIBE_WEB_SESSION_S`); `POST /v1/logout` ends it.
  Browsers send the cookie on EventSource and WebSocket requests, which cannot carry headers.
- A cookie-authenticated request that changes state (anything but GET/HEAD/OPTIONS) or opens a
  WebSocket must carry an `Origin` naming this server (a CSRF defence on top of SameSite=Strict: a page
  elsewhere cannot forge it), else 403.
- Failed sign-ins and wrong bearer tokens count against the client address: past MAX_FAILURES within
  FAILURE_WINDOW_S the address gets 429 with Retry-After until the oldest failure ages out.

One clinic per deployment: accounts, roles and per-clinic tokens arrive with issue 14.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiohttp import web

from services.common.auth import token_matches

COOKIE = "scribe_session"
WEB_SESSION_S = float(os.environ.get("SCRIBE_WEB_SESSION_S", str(12 * 3600)))  # a clinic day
MAX_WEB_SESSIONS = 10_000  # the oldest sign-in is forgotten past this (memory stays bounded)
MAX_FAILURES = 5
FAILURE_WINDOW_S = 60.0
MAX_TRACKED_ADDRESSES = 10_000
MAX_LOGIN_BYTES = 4 * 1024
URL_CREDENTIALS = ("token", "access_token")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Clock = Callable[[], float]


class WebSessions:
    """Signed-in browsers: random session id -> expiry (monotonic seconds), in this process only."""

    def __init__(self, lifetime_s: float = WEB_SESSION_S, limit: int = MAX_WEB_SESSIONS,
                 clock: Clock = time.monotonic) -> None:
        self.lifetime_s, self.limit, self._clock = lifetime_s, limit, clock
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def create(self) -> str:
        sid = secrets.token_urlsafe(32)
        self._expiry[sid] = self._clock() + self.lifetime_s
        while len(self._expiry) > self.limit:
            self._expiry.popitem(last=False)
        return sid

    def valid(self, sid: str) -> bool:
        expiry = self._expiry.get(sid)
        if expiry is None:
            return False
        if expiry <= self._clock():
            del self._expiry[sid]
            return False
        return True

    def end(self, sid: str) -> None:
        self._expiry.pop(sid, None)


@dataclass
class FailureLimiter:
    """Failed credentials per client address within a sliding window (guessing the token is refused)."""

    max_failures: int = MAX_FAILURES
    window_s: float = FAILURE_WINDOW_S
    clock: Clock = time.monotonic
    _failures: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)

    def _recent(self, address: str) -> deque[float]:
        times = self._failures.get(address, deque())
        cutoff = self.clock() - self.window_s
        while times and times[0] <= cutoff:
            times.popleft()
        return times

    def retry_after(self, address: str) -> int:
        """Seconds until `address` may try again; 0 when it may now."""
        times = self._recent(address)
        if len(times) < self.max_failures:
            return 0
        return max(1, int(times[0] + self.window_s - self.clock() + 0.999))

    def failed(self, address: str) -> None:
        times = self._recent(address)
        times.append(self.clock())
        self._failures[address] = times
        self._failures.move_to_end(address)
        while len(self._failures) > MAX_TRACKED_ADDRESSES:  # an address flood cannot grow memory
            self._failures.popitem(last=False)


def error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def too_many(retry_after_s: int) -> web.Response:
    return error(429, f"too many failed sign-ins from this address; retry in {retry_after_s} s",
                 {"Retry-After": str(retry_after_s)})


def url_credential(request: web.Request) -> str | None:
    """The name of a credential-looking query parameter, if the URL carries one."""
    return next((name for name in URL_CREDENTIALS if name in request.query), None)


def bearer(request: web.Request) -> str | None:
    """The token of `Authorization: Bearer T`; "" for another scheme (a wrong credential); None without one."""
    if "Authorization" not in request.headers:
        return None
    header = request.headers["Authorization"]
    return header[7:] if header.startswith("Bearer ") else ""


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"


def same_origin(request: web.Request) -> bool:
    """The request's Origin names this server (scheme aside: a TLS proxy may sit in front of it)."""
    origin = request.headers.get("Origin", "")
    return bool(origin) and origin != "null" and urlsplit(origin).netloc.lower() == request.host.lower()


def needs_origin(request: web.Request) -> bool:
    # State changes and WebSocket upgrades are what a forged cross-site request would be after.
    return request.method not in SAFE_METHODS or request.headers.get("Upgrade", "").lower() == "websocket"


def is_https(request: web.Request) -> bool:
    # A forwarded "https" only adds Secure to the cookie (stricter), so trusting it is harmless.
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


class Gate:
    """The credential check every non-public route passes; the login and logout handlers."""

    def __init__(self, token: str, sessions: WebSessions | None = None,
                 limiter: FailureLimiter | None = None) -> None:
        self.token = token
        self.sessions = sessions or WebSessions()
        self.limiter = limiter or FailureLimiter()

    def refusal(self, request: web.Request) -> web.Response | None:
        """None if the request may go on, else the answer that refuses it."""
        given = bearer(request)
        if given is not None:
            return self._check_bearer(request, given)
        cookie = request.cookies.get(COOKIE, "")
        if not cookie:
            return error(401, "missing credential: send Authorization: Bearer TOKEN, or sign in at /app")
        if not self.sessions.valid(cookie):
            return error(401, "signed out or the sign-in expired: sign in again at /app")
        if needs_origin(request) and not same_origin(request):
            return error(403, "cross-site request refused: a signed-in request that changes something "
                              "must come from this server's own page (Origin header)")
        return None

    def _check_bearer(self, request: web.Request, given: str) -> web.Response | None:
        address = client_address(request)
        wait = self.limiter.retry_after(address)
        if wait:
            return too_many(wait)
        if not given or not token_matches(given, self.token):
            self.limiter.failed(address)
            return error(401, "missing or wrong API token")
        return None

    async def login(self, request: web.Request) -> web.Response:
        address = client_address(request)
        wait = self.limiter.retry_after(address)
        if wait:
            return too_many(wait)
        if not same_origin(request) and "Origin" in request.headers:  # login CSRF: another site signing us in
            return error(403, "cross-site sign-in refused")
        given = await _login_token(request)
        if given is None:  # counted too: a malformed body is one more guess
            self.limiter.failed(address)
            return error(400, 'expected a JSON body {"token": "the clinic token"} of at most 4 KiB')
        if not token_matches(given, self.token):
            self.limiter.failed(address)
            return error(401, "wrong clinic token")
        resp = web.json_response({"status": "signed in", "expires_in_s": int(self.sessions.lifetime_s)})
        resp.set_cookie(COOKIE, self.sessions.create(), max_age=int(self.sessions.lifetime_s), path="/",
                        httponly=True, samesite="Strict", secure=is_https(request))
        return resp

    async def logout(self, request: web.Request) -> web.Response:
        self.sessions.end(request.cookies.get(COOKIE, ""))
        resp = web.json_response({"status": "signed out"})
        resp.del_cookie(COOKIE, path="/")
        return resp


async def _login_token(request: web.Request) -> str | None:
    """The token of a login body {"token": "..."}; None for anything else."""
    if request.content_length is not None and request.content_length > MAX_LOGIN_BYTES:
        return None
    body = await request.content.read(MAX_LOGIN_BYTES + 1)
    if len(body) > MAX_LOGIN_BYTES:
        return None
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    token = data.get("token") if isinstance(data, dict) else None
    return token if isinstance(token, str) and token else None
