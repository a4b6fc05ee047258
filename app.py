"""SMS Rooms: the Starlette application factory.

`uvicorn app:app` serves everything (contract/http.md). `create_app(settings)` builds an app for
given settings (tests build one per backend pair). The lifespan connects the database (applying
migrations), the event bus and the demo supplier, and runs the background sweeper.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route, WebSocketRoute

from compat.endpoint import compat_endpoint
from services import accounts, config, events, hooks, ratelimit, sweeper
from services.db import close_database, open_database
from settings import Settings
from subscriptions import channels, sockets
from subscriptions.bus import EventBus
from suppliers import demo
from suppliers.webhook import receive_sms
from web.graphql import graphql_endpoint
from web.limits import BodySizeLimit
from web.ops import MetricsMiddleware, healthz, metrics, readyz

log = structlog.get_logger("app")


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    graphql = graphql_endpoint(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        config.configure(settings)
        ratelimit.configure(settings.redis_url)
        accounts.configure_identity_cache(settings.auth_cache_seconds)
        await open_database(settings.database_url)
        bus = EventBus(
            settings.event_bus_url,
            prefix=settings.redis_prefix,
            reconnect_max_seconds=settings.redis_reconnect_max_seconds,
        )
        await bus.connect()
        channels.install(bus)
        events.set_publisher(channels.publish)
        hooks.after_credential_revoked[:] = [channels.publish_revocation]
        await _seed(settings)
        worker = asyncio.create_task(_background(settings))
        watcher = asyncio.create_task(sockets.registry.watch(bus))
        log.info(
            "SMS Rooms is up",
            database=settings.database_url.split("@")[-1],
            event_bus=settings.event_bus_url.split("@")[-1],
            demo=settings.demo_supplier,
        )
        try:
            yield
        finally:
            worker.cancel()
            watcher.cancel()
            await asyncio.gather(worker, watcher, return_exceptions=True)
            await demo.stop()
            events.set_publisher(None)
            await bus.disconnect()
            channels.install(None)
            await close_database()

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/suppliers/{supplier}/sms", receive_sms, methods=["POST"]),
            Route("/stubs/handler_api.php", compat_endpoint, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ],
        middleware=[
            Middleware(MetricsMiddleware),
            Middleware(
                BodySizeLimit, max_bytes=settings.graphql_max_body_bytes, prefixes=("/graphql",)
            ),
        ],
        lifespan=lifespan,
    )


async def _seed(settings: Settings) -> None:
    if settings.demo_supplier:
        await demo.seed()
        demo.install_hooks()
        if settings.demo_supplier_secret_generated:
            log.warning(
                "demo supplier webhook secret (random; set DEMO_SUPPLIER_SECRET to fix it)",
                secret=settings.demo_supplier_secret,
            )
    if settings.admin_email and settings.admin_password:
        await accounts.ensure_admin(settings.admin_email, settings.admin_password)


async def _background(settings: Settings) -> None:
    """The sweeper (R3, R4) and the demo pool's restock, until the app stops."""
    restock_every = 10.0
    last_restock = 0.0
    loop = asyncio.get_running_loop()
    while True:
        try:
            await sweeper.sweep_once()
            if settings.demo_supplier and loop.time() - last_restock > restock_every:
                await demo.restock()
                last_restock = loop.time()
        except Exception:  # keep sweeping: one bad round must not stop refunds for good
            log.exception("background sweep failed")
        await asyncio.sleep(settings.sweeper_interval_seconds)


app = create_app()
