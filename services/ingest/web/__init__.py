"""The clinician web page: GET /app (index.html) and its assets under /app/ (plain files, no build step).

These three files are the same for everyone and carry no data, so they are served without a
credential (services/ingest/http.py PUBLIC_ROUTES). The page signs in by POSTing the clinic token to
/v1/login, which answers with an HttpOnly session cookie (services/ingest/signin.py); every call the
page makes after that, its EventSource feed included, is authenticated by that cookie.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

WEB_DIR = Path(__file__).resolve().parent
ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}

# Same origin only: the page loads nothing from elsewhere and may not be framed.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                               "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",  # an upgraded server's page is never mixed with an old script
}


async def _page(_: web.Request) -> web.Response:
    text = (WEB_DIR / "index.html").read_text(encoding="utf-8")
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
