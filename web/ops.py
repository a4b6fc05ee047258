"""Operations routes: /healthz, /readyz, /metrics, and the request metrics middleware."""

from __future__ import annotations

import hmac
import time

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tortoise import connections

from resolvers.context import bearer_secret
from services import maintenance, outbox
from services import metrics as metrics_
from web.state import runtime_of

REQUESTS = Counter("smsrooms_http_requests_total", "HTTP requests", ["route", "status"])
LATENCY = Histogram("smsrooms_http_request_seconds", "HTTP request latency", ["route"])


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    checks: dict[str, str] = {}
    try:
        await connections.get("default").execute_query("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready; say which
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        checks["event_bus"] = "ok" if await runtime_of(request).bus.ping() else "error: no answer"
    except Exception as exc:  # idem
        checks["event_bus"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    body: dict[str, object] = {"status": "ready" if ready else "not ready", **checks}
    if ready:
        # R14: said, not failed: a process in maintenance still serves queries and live feeds,
        # and a load balancer must keep sending them.
        state = await maintenance.current(runtime_of(request))
        body["maintenance"] = {"on": state.on, "message": state.message}
    return JSONResponse(body, status_code=200 if ready else 503)


async def metrics(request: Request) -> Response:
    """Prometheus text; closed unless METRICS_TOKEN is sent as a bearer token, or the server is
    a demo without a token (settings.metrics_open)."""
    settings = runtime_of(request).settings
    if not settings.metrics_open:
        if not settings.metrics_token:
            return PlainTextResponse("Not Found", status_code=404)
        sent = bearer_secret(request.headers.get("authorization")) or ""
        if not hmac.compare_digest(sent.encode(), settings.metrics_token.encode()):
            return PlainTextResponse(
                "a bearer token is required",
                status_code=401,
                headers={"www-authenticate": "Bearer"},
            )
    metrics_.OUTBOX_DEPTH.set(await outbox.depth())
    return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Counts HTTP requests by route template (never by raw path: unbounded label values)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", "unmatched")
            REQUESTS.labels(name, str(status)).inc()
            LATENCY.labels(name).observe(time.perf_counter() - started)
