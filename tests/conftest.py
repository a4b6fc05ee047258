"""Fixtures: a real server per backend pair, and an API client that speaks to it over TCP.

`server` is parametrised over the two backend pairs (tests/backends.py), session-scoped: pytest
runs every test that uses it once on SQLite + in-process bus, then once on PostgreSQL + Redis.
The server is uvicorn serving `create_app(settings)` inside the test's own event loop, so tests
drive it through the public interfaces (HTTP, websockets, third-party clients) and can also read
the stored state directly through the same ORM.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

import testkit.backends
from app import create_app
from services import audit
from settings import Settings
from suppliers import demo
from testkit import factory
from tests import backends
from tests.api import Api
from tests.serving import served
from tests.standins import nowpayments_api, stripe_api
from tests.standins.nowpayments_api import NowPaymentsStandIn
from tests.standins.stripe_api import StripeStandIn
from tests.templates import templates
from web.state import AppRuntime

# Fixtures shared by the test modules of one area, defined beside that area's helpers.
pytest_plugins = (
    "tests.account_helpers",
    "tests.compat_helpers",
    "tests.operator_helpers",
    "tests.server_log",
    "tests.smtp",
)

ADMIN_EMAIL = "admin@smsrooms.test"
ADMIN_PASSWORD = "admin-password-123"
SUPPLIER_SECRET = "demo-webhook-secret-for-tests"
SECRETS_KEY = "kYp6o3cVbI1p4aHq0eQz8m1hXn3s9Zr2Wc5Tt7Ly0Ug="  # Fernet key of throw-away databases
NUMBERS_PER_COUNTRY = 400


@dataclass(frozen=True)
class Server:
    url: str
    backend: str
    runtime: AppRuntime
    uvicorn: uvicorn.Server

    @property
    def settings(self) -> Settings:
        return self.runtime.settings


def settings_for(backend: backends.Backend, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": backend.database_url,
        "event_bus_url": backend.event_bus_url,
        "redis_url": backend.redis_url,
        "redis_prefix": backend.redis_prefix,
        "admin_email": ADMIN_EMAIL,
        "admin_password": ADMIN_PASSWORD,
        "demo_supplier": True,
        "demo_supplier_secret": SUPPLIER_SECRET,
        "demo_supplier_secret_generated": False,
        "secrets_key": (SECRETS_KEY,),
        "sweeper_interval_seconds": 0.1,
        "price_cache_seconds": 0.0,
        "demo_pool_min_free": 0,
        "ws_init_timeout_seconds": 1.0,
        # SMSHub agents a test registers are polled (GET_SERVICES) within a moment.
        "smshub_poll_min_seconds": 0.2,
        "smshub_poll_max_seconds": 0.4,
        "allowed_origins": ("http://app.smsrooms.test",),
        # The tests are the proxy in front of the server: each says which client it speaks for.
        "forwarded_allow_ips": ("127.0.0.1",),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session", autouse=True)
async def migrated_templates() -> AsyncIterator[None]:
    """The run's migrated databases (tests/templates.py), dropped after every other fixture."""
    yield
    await templates.close()


@pytest.fixture(scope="session")
async def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[backends.Backend]:
    prefix = testkit.backends.random_redis_prefix()
    if request.param == "sqlite":
        url = await templates.sqlite_copy(tmp_path_factory.mktemp("sqlite") / "smsrooms.sqlite3")
        yield backends.Backend("sqlite", url, "memory://", None, prefix)
        return
    with backends.required():
        await testkit.backends.check_redis()
        url = await templates.postgres_copy()
    redis_url = testkit.backends.REDIS_URL
    try:
        yield backends.Backend("postgres", url, redis_url, redis_url, prefix)
    finally:
        await testkit.backends.drop_postgres_database(url)
        await testkit.backends.drop_redis_keys(prefix)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses `backend` (directly or through `server`) runs on both pairs,
    unless it is marked to run on one (`@pytest.mark.backends("postgres")`)."""
    if "backend" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("backends")
        names = list(marker.args) if marker else ["sqlite", "postgres"]
        metafunc.parametrize("backend", names, indirect=True, scope="session")


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Server]:
    """An app for `settings`, served by uvicorn in this event loop on a free port, until the
    block ends. Several may run at once: each has its own runtime (two apps, one process)."""
    app = create_app(settings)
    async with served(
        app,
        lifespan="on",
        ws="websockets-sansio",
        # As `smsrooms serve` has it (cli.uvicorn_flags): only the proxies of the settings.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=list(settings.forwarded_allow_ips),
    ) as (url, uv):
        runtime: AppRuntime = app.state.runtime
        yield Server(
            url=url,
            backend="postgres" if "postgres" in settings.database_url else "sqlite",
            runtime=runtime,
            uvicorn=uv,
        )


@pytest.fixture(scope="session")
async def server(backend: backends.Backend) -> AsyncIterator[Server]:
    async with running(settings_for(backend)) as server:
        with server.runtime.database.activate():
            for code in demo.POOLS:
                await factory.numbers(server.runtime, code, NUMBERS_PER_COUNTRY)
        yield server


@pytest.fixture
async def api(server: Server) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield Api(client, server)
    server.runtime.clock.reset()


@pytest.fixture
def override_settings(server: Server) -> Iterator[Callable[..., Settings]]:
    """Changes settings of the running server's runtime for one test, e.g. `override_settings(
    email_verification="required")`; the services read them at their next call. (Settings that
    build objects at start-up, such as the GraphQL limits, need a server of their own.)"""
    runtime = server.runtime
    original = runtime.settings

    def apply(**changes: object) -> Settings:
        runtime.settings = dataclasses.replace(runtime.settings, **changes)  # type: ignore[arg-type]
        return runtime.settings

    yield apply
    runtime.settings = original
    runtime.wake_workers()  # a worker asleep for an overridden poll reads the original now


@pytest.fixture
async def ledger_is_consistent(server: Server) -> AsyncIterator[None]:
    """Asserts after the test that every ledger invariant holds (services/audit.py)."""
    yield
    assert await audit.ledger_violations() == []


@dataclass(frozen=True)
class Processors:
    stripe: StripeStandIn
    nowpayments: NowPaymentsStandIn


@pytest.fixture(scope="session")
async def standins() -> AsyncIterator[tuple[Processors, str]]:
    """Stand-ins of Stripe's and NOWPayments' APIs on one local port (tests/standins/)."""
    processors = Processors(StripeStandIn(), NowPaymentsStandIn())
    app = Starlette(
        routes=[Mount("/stripe", processors.stripe.app), Mount("/np", processors.nowpayments.app)]
    )
    async with served(app) as (url, _):
        yield processors, url


@pytest.fixture
def processors(
    standins: tuple[Processors, str], override_settings: Callable[..., Settings]
) -> Processors:
    """The running server with Stripe and NOWPayments configured against the stand-ins."""
    found, base = standins
    override_settings(
        stripe_api_key=stripe_api.API_KEY,
        stripe_webhook_secret=stripe_api.WEBHOOK_SECRET,
        stripe_api_base=f"{base}/stripe",
        nowpayments_api_key=nowpayments_api.API_KEY,
        nowpayments_ipn_secret=nowpayments_api.IPN_SECRET,
        nowpayments_api_base=f"{base}/np/v1",
    )
    return found


@pytest.fixture(autouse=True)
def introspected(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[int]]]:
    """No statement made in this process may make asyncpg introspect a type (services/db.py
    text_array, ADR 0021): each new connection would pay a catalog query for it, all at once
    when a pool grows under load. The type OIDs of each introspection are collected here and the
    test fails at teardown if there was one (a test that makes one on purpose clears them).
    The hook is a private method of asyncpg: renamed, `monkeypatch` fails loudly here."""
    seen: list[list[int]] = []
    introspect = asyncpg.connection.Connection._introspect_types

    async def spy(self: asyncpg.Connection, typeoids: Iterable[int], timeout: object) -> object:
        seen.append(sorted(typeoids))
        return await introspect(self, typeoids, timeout)

    monkeypatch.setattr(asyncpg.connection.Connection, "_introspect_types", spy)
    yield seen
    assert seen == [], f"asyncpg introspected types {seen}: pass and return arrays as text[]"
