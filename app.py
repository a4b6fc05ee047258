"""SMS Rooms: the Starlette application factory.

`uvicorn app:app` serves everything (contract/http.md) with the settings of the environment;
`create_app(settings)` builds an app for given settings (tests build several). Each app has one
runtime (web/state.py) made here from its settings: nothing is shared with another app of the
same process. The lifespan opens it (database with migrations, event bus), seeds the demo
supplier and the admin, and runs the background jobs (the sweeper, the live feed's socket
watch, the outbox worker, the SMSHub agents' poller) until the app stops.
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
from services import (
    accounts,
    deactivation,
    outbox,
    outbox_pruning,
    supplier_health,
    sweeper,
    webhook_worker,
)
from services.db import log_failure
from services.payments import topups
from services.suppliers import complete_payable_shards
from settings import Settings
from subscriptions import sockets
from suppliers import demo
from suppliers.android import webhook as android
from suppliers.smshub import push as smshub_push
from suppliers.smshub.hub import Hub as SmsHub
from suppliers.upstream import install as upstream
from suppliers.webhook import receive_sms
from web import heap, logs, payments, ui
from web.access_log import AccessLog
from web.graphql import graphql_endpoint
from web.limits import BodySizeLimit
from web.ops import MetricsMiddleware, healthz, metrics, readyz
from web.outages import exception_handlers
from web.request_id import RequestId
from web.state import ActivateRuntime, AppRuntime

log = structlog.get_logger("app")


def create_app(
    settings: Settings | None = None, *, freeze_gc_after_start: bool = False
) -> Starlette:
    """The app of `settings`. `freeze_gc_after_start` (the served process's app, not tests'
    several in one process) moves every object that start-up left alive out of the cyclic
    garbage collector's sight and makes full collections rare (web/heap.py): the schema, models
    and caches are never garbage, and rescanning them was ~0.25 ms of CPU per small query under
    load (ADR 0015) and up to 650 ms pauses in a connect storm (ADR 0014)."""
    settings = settings or Settings.from_env()
    rt = AppRuntime(settings)
    smshub = SmsHub(rt)  # SMSHub agents: their NumberSource, FINISH_ACTIVATION, GET_SERVICES
    upstream.install(rt)
    graphql = graphql_endpoint(rt)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await rt.open()
        auto_sms = demo.AutoSms(rt)
        await _seed(rt, auto_sms)
        jobs = [
            asyncio.create_task(_background(rt)),
            asyncio.create_task(sockets.watch(rt)),
            asyncio.create_task(outbox.run(rt, rt.outbox_handlers)),
            asyncio.create_task(smshub.poll()),
            *(asyncio.create_task(job) for job in upstream.jobs(rt)),
        ]
        if settings.webhook_worker_in_app:  # else `smsrooms webhook-worker` processes (ADR 0018)
            jobs.append(asyncio.create_task(webhook_worker.run(rt)))
        if freeze_gc_after_start:  # no full-heap GC pauses, less GC per request (ADRs 0014, 0015)
            heap.settle_after_start_up()
        log.info(
            "SMS Rooms is up",
            database=settings.database_url.split("@")[-1],
            event_bus=settings.event_bus_url.split("@")[-1],
            demo=settings.demo_supplier,
        )
        try:
            yield
        finally:
            for job in jobs:
                job.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)
            await auto_sms.stop()
            await smshub.close()
            await rt.close()

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/suppliers/{supplier}/sms", receive_sms, methods=["POST"]),
            Route("/suppliers/{code}/android", android.receive, methods=["POST"]),
            Route("/suppliers/{supplier}/smshub", smshub_push.receive_push, methods=["POST"]),
            Route("/payments/{provider}/webhook", payments.webhook, methods=["POST"]),
            Route("/payments/demo/checkout/{reference}", payments.demo_checkout_page),
            Route("/payments/demo/checkout/{reference}", payments.demo_pay, methods=["POST"]),
            Route("/payments/done", payments.done),
            Route("/stubs/handler_api.php", compat_endpoint, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            *ui.routes(),  # the web app: last, after every route of the API
        ],
        middleware=[
            Middleware(ActivateRuntime, runtime=rt),
            Middleware(RequestId),  # before the access log, whose lines carry the id
            *([Middleware(AccessLog)] if settings.access_log else []),
            Middleware(MetricsMiddleware),
            Middleware(
                BodySizeLimit, max_bytes=settings.graphql_max_body_bytes, prefixes=("/graphql",)
            ),
        ],
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
    )
    app.state.runtime = rt
    return app


async def _seed(rt: AppRuntime, auto_sms: demo.AutoSms) -> None:
    settings = rt.settings
    await complete_payable_shards()  # docs/adr/0019
    if settings.demo_supplier:
        await demo.seed(rt)
        auto_sms.install()
        if settings.demo_supplier_secret_generated:
            log.warning(
                "demo supplier webhook secret (random; set DEMO_SUPPLIER_SECRET to fix it)",
                secret=settings.demo_supplier_secret,
            )
    if not settings.smtp_url and not settings.demo_supplier:
        log.warning("SMTP_URL is not set: no mail is sent (verification links included)")
    if settings.demo_payments:
        log.warning("demo payments are on: anyone can top up without paying (DEMO_PAYMENTS=off)")
    if settings.admin_email and settings.admin_password:
        await accounts.ensure_admin(rt, settings.admin_email, settings.admin_password)


async def _background(rt: AppRuntime) -> None:
    """The sweeper (R3, R4), the demo pool's restock, the suppliers' health, the
    deactivation of unused accounts (R8) and the pruning of sent outbox messages, until the
    app stops."""
    settings = rt.settings
    last_restock = last_health = last_inactivity = 0.0
    loop = asyncio.get_running_loop()
    while True:
        try:
            await sweeper.sweep_once(rt)
            await topups.expire_due(rt)
            await outbox_pruning.prune_sent(rt)  # one bounded batch a round works off a backlog
            due = loop.time() - last_restock > settings.demo_restock_interval_seconds
            if settings.demo_supplier and due:
                await demo.restock(rt)
                last_restock = loop.time()
            if loop.time() - last_health > settings.supplier_health_interval_seconds:
                await supplier_health.refresh(rt)
                last_health = loop.time()
            if loop.time() - last_inactivity > rt.settings.inactivity_check_interval_seconds:
                await deactivation.deactivate_inactive(rt)
                last_inactivity = loop.time()
        except Exception as error:  # keep sweeping: one bad round must not stop refunds for good
            log_failure(log, "background sweep failed", error)
        await asyncio.sleep(settings.sweeper_interval_seconds)


def _served_app() -> Starlette:
    """The app of `uvicorn app:app` (and `smsrooms serve`): uvicorn has set up its logging by
    the time it imports this module, and the app's lines join ours (web/logs.py)."""
    settings = Settings.from_env()
    logs.configure(settings)
    return create_app(settings, freeze_gc_after_start=True)


app = _served_app()
