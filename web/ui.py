"""The reference web app (webapp/, built into web/ui/): the storefront at `/`, the operator
console at `/admin`.

index.html is answered for every client route (the app routes with the History API), never
cached, with a strict Content-Security-Policy: scripts, styles and connections only from this
origin (and its websocket), nothing inline, no framing. The hashed files under /assets/ never
change, so browsers keep them a year. Without a build (no Node.js when the server was set up)
`/` says what to install; everything else works as before.
"""

from __future__ import annotations

import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

UI_DIR = Path(__file__).parent / "ui"

# The app's own routes (webapp/src/App.tsx); anything else stays a 404.
CLIENT_ROUTES = (
    "/",
    "/signin",
    "/signup",
    "/verify-email",
    "/topup",
    "/history",
    "/account",
    "/activations/{id}",
    "/admin",
    "/admin/{section:path}",
)

_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
YEAR = 365 * 24 * 3600
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def content_security_policy(host: str | None) -> str:
    """The page's policy. connect-src names this origin's websocket explicitly: 'self' covers
    ws:/wss: of the same host only in newer browsers. A Host header that is not a plain host
    name is left out rather than echoed into the header."""
    sockets = f" ws://{host} wss://{host}" if host and _HOST.match(host) else ""
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src 'self'{sockets}",
            "manifest-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def _page_headers(request: Request) -> dict[str, str]:
    return {
        **COMMON_HEADERS,
        "Cache-Control": "no-cache",
        "Content-Security-Policy": content_security_policy(request.headers.get("host")),
        "X-Frame-Options": "DENY",
    }


async def index(request: Request) -> Response:
    page = UI_DIR / "index.html"
    if not page.is_file():
        return HTMLResponse(NOT_BUILT, status_code=503, headers=_page_headers(request))
    return FileResponse(page, media_type="text/html", headers=_page_headers(request))


class HashedAssets(StaticFiles):
    """/assets/: content-hashed file names, so a year-long immutable cache is safe."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
        response.headers.update(COMMON_HEADERS)
        return response


def routes() -> list[BaseRoute]:
    pages: list[BaseRoute] = [Route(path, index, methods=["GET", "HEAD"]) for path in CLIENT_ROUTES]
    assets = UI_DIR / "assets"
    return [*pages, Mount("/assets", HashedAssets(directory=assets, check_dir=False))]


NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SMS Rooms</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><h1>SMS Rooms is running</h1>
<p>The web app is not built, so there is no page to show here yet. The API works:
<a href="/graphql">/graphql</a>.</p>
<p>To get the web app, install <strong>Node.js 20.19 or newer with npm</strong>
(for instance <code>apt-get install nodejs npm</code>, or from https://nodejs.org) and run
<code>scripts/serve</code> again: it builds the app (<code>webapp/</code>) before starting.</p>
</body></html>
"""
