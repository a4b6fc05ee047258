"""The runtime: everything the services use besides their arguments and the database rows.

One per app, made by `create_app(settings)` (or by a command), and handed to every service call
as its first argument `rt`: the settings the app was created with, its clock, its caches, its
rate limiter, its mailer, its hooks, the publisher of its events and its outbox handlers.
Nothing of it is a module global, so two apps live in one process without sharing state, and a
test changes the app it runs against, never the process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import structlog

from services.catalog import Catalog
from services.clock import Clock
from services.coalesced import Coalesced
from services.db import Database
from services.hooks import Hooks
from services.identity_cache import IdentityCache
from services.mail import Mailer
from services.maintenance import Switch
from services.pool import PoolSource
from services.ratelimit import RateLimiter
from services.routing import Sources
from services.stock import POOL_KINDS
from settings import Settings

if TYPE_CHECKING:
    from services.accounts import Viewer
    from services.events import Notice
    from services.outbox import Handler

log = structlog.get_logger("runtime")
Publisher = Callable[[Sequence["Notice"]], Awaitable[None]]


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock = Clock()
        self.database = Database(settings.database_url, lock_timeout_ms=settings.lock_timeout_ms)
        self.catalog = Catalog(
            max_age_seconds=settings.price_cache_seconds,
            success_window_hours=settings.offer_success_window_hours,
        )
        self.identities: IdentityCache[Viewer] = IdentityCache(
            ttl_seconds=settings.auth_cache_seconds, max_entries=settings.auth_cache_entries
        )
        self.limiter = RateLimiter(
            settings.redis_url,
            prefix=settings.redis_prefix,
            redis_timeout_seconds=settings.rate_limit_redis_timeout_seconds,
            redis_retry_seconds=settings.rate_limit_redis_retry_seconds,
        )
        self.mailer = Mailer(settings)
        self.maintenance = Switch(
            settings.maintenance_cache_seconds
        )  # R14, services/maintenance.py
        self.hooks = Hooks()
        # Where numbers come from, per supplier kind: our own pools from the start; the app
        # registers the protocol clients (suppliers/).
        self.sources = Sources()
        for kind in POOL_KINDS:
            self.sources.register(kind, PoolSource)
        self.publisher: Publisher | None = None  # the app plugs its event bus in
        # What the outbox worker of this runtime can send, by kind (services/outbox.py).
        self.outbox_handlers: dict[str, Handler] = {}
        # Set after a commit that wrote users' webhook deliveries: this process's webhook worker
        # sends them at once instead of at its next poll (services/webhook_worker.py).
        self.webhook_wakeup = asyncio.Event()
        # With the webhook workers in processes of their own (WEBHOOK_WORKER_IN_APP off), how
        # to wake them: the app plugs in its event bus (ADR 0018).
        self.remote_webhook_wakeup: Coalesced | None = None
        # Set to make the outbox worker start its next round now instead of at the end of its
        # poll (e.g. after its settings changed: a sleep begun under the old poll is cut short).
        self.outbox_wakeup = asyncio.Event()

    def wake_workers(self) -> None:
        """The outbox and webhook workers start a round now and read the settings afresh."""
        self.outbox_wakeup.set()
        self.webhook_wakeup.set()

    def webhooks_queued(self) -> None:
        """Call after a commit that queued users' webhook deliveries: the worker that sends
        them (this process's, or another's) starts now rather than at its next poll."""
        self.webhook_wakeup.set()
        if self.remote_webhook_wakeup is not None:
            self.remote_webhook_wakeup.request()

    async def open(self) -> None:
        await self.database.open()

    async def close(self) -> None:
        await self.mailer.drain()
        await self.database.close()

    async def publish(self, notices: Sequence[Notice]) -> None:
        """Call after the transaction has committed. A failure here loses no event: subscribers
        resync from the database (ADR 0002), so it is logged, never raised into the request."""
        if not notices or self.publisher is None:
            return
        try:
            await self.publisher(notices)
        except Exception:  # the bus is a wake-up, not the truth: never fail the request for it
            log.exception("publishing events failed", events=[n.event_id for n in notices])


@asynccontextmanager
async def opened(
    settings: Settings, make: Callable[[Settings], Runtime] = Runtime
) -> AsyncIterator[Runtime]:
    """A runtime with its database open and active in this task: for commands and scripts.
    `make` builds it (the app's runtime, for a command whose events go on the event bus)."""
    rt = make(settings)
    with rt.database.activate():  # tortoise builds its models inside the active context
        await rt.open()
        try:
            yield rt
        finally:
            await rt.close()
