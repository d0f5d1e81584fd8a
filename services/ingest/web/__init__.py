"""The clinician web page: GET /app (index.html) and its assets under /app/ (plain files, no build step).

The token middleware guards these routes like every other one, so the page is opened as
/app?token=T. A browser fetches the page's script and stylesheet without that query, so the
page is served with the token written into its asset URLs; the script then removes it from the
address bar and sends it in the Authorization header (and in ?token= for EventSource).
"""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from services.common.auth import presented_token

WEB_DIR = Path(__file__).resolve().parent
ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}

# Same origin only: the page loads nothing from elsewhere and may not be framed.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                               "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",  # the page carries the token
}


def _request_token(request: web.Request) -> str:
    """The token this request was let in with (the middleware has checked it)."""
    return presented_token(request.headers.get("Authorization", ""), request.query.get("token", ""))


async def _page(request: web.Request) -> web.Response:
    text = (WEB_DIR / "index.html").read_text(encoding="utf-8")
    text = text.replace("{{token}}", html.escape(quote(_request_token(request), safe=""), quote=True))
    return web.Response(text=text, content_type="text/html", charset="utf-8", headers=HEADERS)


async def _asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in ASSETS:  # a fixed list: no path ever reaches the file system from the URL
        raise web.HTTPNotFound(text="no such file")
    body = (WEB_DIR / name).read_bytes()
    return web.Response(body=body, content_type=ASSETS[name], charset="utf-8", headers=HEADERS)


def add_web_routes(app: web.Application) -> None:
    app.router.add_get("/app", _page)
    app.router.add_get("/app/", _page)
    app.router.add_get("/app/{name}", _asset)
