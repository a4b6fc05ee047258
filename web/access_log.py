"""The access log: one structured line per HTTP request (and per websocket), written by the app
instead of uvicorn (`smsrooms serve` turns uvicorn's off).

uvicorn's access log writes the raw request line: the compatible API's `api_key=` and a GET
`/graphql?query=mutation{login(password: …)}` went to the log whole. Here a request is logged by
its route template where one matched (`/payments/demo/checkout/{reference}`, not the reference),
and of its query string only the values of parameters known to be harmless; every other value
is `***`. Whatever is logged is user text, so web/logs.py escapes its hidden characters.
"""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qsl

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("access")

# Parameters whose values say what was asked and hold nothing secret: the compatible API's
# (ADR 0003) and GraphQL's operationName. `query` and `variables` may hold a password.
SHOWN_PARAMETERS = frozenset(
    {
        "action",
        "service",
        "country",
        "operator",
        "id",
        "status",
        "maxPrice",
        "forward",
        "freePrice",
        "operationName",
    }
)
PARAMETER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
MAX_SHOWN = 64  # characters of a path or a value
MAX_PARAMETERS = 20


def redacted_query(query: str) -> str:
    """The query string with every value not known to be harmless replaced by `***` (a name
    that does not look like one, perhaps a secret sent bare, is `***` too)."""
    parts = []
    for name, value in parse_qsl(query, keep_blank_values=True)[:MAX_PARAMETERS]:
        if name in SHOWN_PARAMETERS:
            parts.append(f"{name}={value[:MAX_SHOWN]}")
        elif PARAMETER_NAME.fullmatch(name) and not name.startswith(("srs_", "srk_")):
            parts.append(f"{name}=***")
        else:
            parts.append("***")
    return "&".join(parts)


def logged_path(scope: Scope) -> str:
    """The route's template when one matched; the path itself (cut short) otherwise."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str):
        return template
    path: str = scope.get("path", "")
    return path[:MAX_SHOWN] + ("…" if len(path) > MAX_SHOWN else "")


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def noting_status(message: Message) -> None:
            nonlocal status
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
            elif kind == "websocket.accept":
                status = 101
            elif kind == "websocket.close" and status != 101:
                status = 403  # refused before the handshake (as uvicorn answers it)
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            client = scope.get("client")
            log.info(
                "request" if scope["type"] == "http" else "websocket",
                method=scope.get("method", "GET"),
                path=logged_path(scope),
                query=redacted_query(scope.get("query_string", b"").decode("latin-1")),
                status=status,
                seconds=round(time.perf_counter() - started, 4),
                client=client[0] if client else None,
            )
