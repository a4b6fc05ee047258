"""Every setting the README documents takes effect: a server started from an environment that
changes it behaves differently from the default one (issue 7, "Settings that take effect").

Settings of the backend pair itself (DATABASE_URL, EVENT_BUS_URL, REDIS_URL) are what every
test of the suite runs on; ADMIN_EMAIL/ADMIN_PASSWORD and DEMO_SUPPLIER_SECRET are used by every
admin and webhook test; EMAIL_VERIFICATION, the LOGIN_* and the R5 settings have tests of
their rule (test_accounts_*.py, test_abuse.py); LOCK_TIMEOUT_MS is in test_runtime.py. The
security settings of issue 10 have modules of their own: METRICS_TOKEN, INTROSPECTION and
GRAPHIQL's production default in test_settings_exposure.py; FORWARDED_ALLOW_IPS, ACCESS_LOG,
LOG_FORMAT and GRAPHQL_MAX_BODY_BYTES (websockets) in test_serve_production.py, through
`smsrooms serve`; RATE_LIMIT_REDIS_* in test_ratelimit_outage.py. Of issue 12,
INACTIVE_ACCOUNT_DAYS is in test_cli.py (`deactivate-inactive`), MAINTENANCE_CACHE_SECONDS in
test_operator_maintenance.py (a second process). OUTBOX_KEEP_SENT_HOURS is in
test_outbox_pruning.py (the app's background job). GRAPHQL_APQ_CACHE_ENTRIES is in
test_graphql_apq.py (its bound, and 0).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

import testkit.backends
from models import Credential, Price
from settings import Settings
from tests import backends
from tests.api import Api
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, SUPPLIER_SECRET, running
from tests.smtp import Inbox

TUNED = {
    "GRAPHQL_MAX_DEPTH": "3",
    "GRAPHQL_MAX_ALIASES": "2",
    "GRAPHQL_MAX_TOKENS": "300",
    "GRAPHIQL": "off",
    "SMS_WAIT_SECONDS": "60",
    "ACTIVATION_WINDOW_SECONDS": "120",
    "REGISTER_ATTEMPTS_PER_HOUR": "2",
    "API_REQUESTS_PER_SECOND": "1",
    "PUBLIC_URL": "https://shop.example/",
    "AUTH_CACHE_SECONDS": "0",
    "PRICE_CACHE_SECONDS": "3600",
    "DEMO_AUTO_SMS_SECONDS": "0.2",
    "ALLOWED_ORIGINS": "https://shop.example",
}
DEPTH_4 = "{ activations { edges { node { country { code } } } } }"
THREE_ALIASES = "{ a: countries { code } b: countries { code } c: countries { code } }"
MANY_TOKENS = "{ countries { " + "code " * 300 + "} }"  # 304 tokens, no alias, depth 2


def environment(backend: backends.Backend, database_url: str, **extra: str) -> dict[str, str]:
    """What an operator would export: the backend pair, the admin, and the settings to try."""
    env = {
        "DATABASE_URL": database_url,
        "EVENT_BUS_URL": backend.event_bus_url,
        "REDIS_PREFIX": f"{backend.redis_prefix}env:",
        "ADMIN_EMAIL": ADMIN_EMAIL,
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
        "DEMO_SUPPLIER_SECRET": SUPPLIER_SECRET,
        "SWEEPER_INTERVAL_SECONDS": "0.1",
        "FORWARDED_ALLOW_IPS": "127.0.0.1",  # the tests speak for clients, as a proxy does
        **extra,
    }
    if backend.redis_url:
        env["REDIS_URL"] = backend.redis_url
    return env


def settings_from(env: dict[str, str]) -> Settings:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        return Settings.from_env(env_file=None)


@pytest.fixture(scope="module")
async def tuned(
    backend: backends.Backend, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    """A second server of this process, started from an environment that changes TUNED."""
    async with (
        backends.own_database(backend, tmp_path_factory.mktemp("tuned"), "db") as url,
        running(settings_from(environment(backend, url, **TUNED))) as server,
        httpx.AsyncClient(base_url=server.url, timeout=30) as client,
    ):
        yield Api(client, server)


def error_messages(answer: dict[str, Any]) -> list[str]:
    return [e["message"] for e in answer.get("errors", [])]


@pytest.mark.backends("sqlite")
async def test_graphql_limits_come_from_the_environment(tuned: Api, api: Api) -> None:
    """GRAPHQL_MAX_DEPTH, GRAPHQL_MAX_ALIASES, GRAPHQL_MAX_TOKENS."""
    user = await tuned.register()
    default_user = await api.register()
    for query, refusal in [
        (DEPTH_4, "exceeds maximum operation depth of 3"),
        (THREE_ALIASES, "Allowed: 2"),
        (MANY_TOKENS, "more than 300 tokens"),
    ]:
        refused = error_messages(await tuned.post(query, token=user.token))
        assert any(refusal in m for m in refused), (query, refused)
        assert error_messages(await api.post(query, token=default_user.token)) == []


@pytest.mark.backends("sqlite")
async def test_graphiql_can_be_switched_off(tuned: Api, api: Api) -> None:
    """GRAPHIQL=off: no IDE page at GET /graphql (the default server, with the demo, has it)."""
    html = {"accept": "text/html"}
    assert "graphiql" in (await api.client.get("/graphql", headers=html)).text.lower()
    response = await tuned.client.get("/graphql", headers=html)
    assert "graphiql" not in response.text.lower()
    assert response.status_code in (400, 404)


def test_graphiql_is_off_by_default_without_the_demo() -> None:
    assert Settings(demo_supplier=True).graphiql_enabled is True
    assert Settings(demo_supplier=False).graphiql_enabled is False
    assert settings_from({"DEMO_SUPPLIER": "off"}).graphiql_enabled is False
    assert settings_from({"DEMO_SUPPLIER": "off", "GRAPHIQL": "on"}).graphiql_enabled is True


@pytest.mark.backends("sqlite")
async def test_activation_times_come_from_the_environment(tuned: Api) -> None:
    """SMS_WAIT_SECONDS (R4) and ACTIVATION_WINDOW_SECONDS (R3)."""
    user = await tuned.funded_user("5.00")
    activation = await tuned.bought(user, "GB", "tg")
    created = datetime.fromisoformat(activation["createdAt"])
    assert (datetime.fromisoformat(activation["smsDeadline"]) - created).total_seconds() == 60
    assert (datetime.fromisoformat(activation["expiresAt"]) - created).total_seconds() == 120


@pytest.mark.backends("sqlite")
async def test_demo_auto_sms_comes_after_the_configured_delay(tuned: Api) -> None:
    """DEMO_AUTO_SMS_SECONDS: the demo supplier sends the code by itself."""
    user = await tuned.funded_user("5.00")
    activation = await tuned.bought(user, "GB", "tg")
    for _ in range(100):
        seen = await tuned.activation(user, activation["id"])
        assert seen is not None
        if seen["code"]:
            assert seen["status"] == "RECEIVED"
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the demo supplier sent no code")


@pytest.mark.backends("sqlite")
async def test_register_attempts_per_hour_from_the_environment(tuned: Api) -> None:
    """REGISTER_ATTEMPTS_PER_HOUR=2: the third sign-up from one address is refused. The address
    is this test's alone (TEST-NET-2): random_ip's 254 could meet another test's sign-up."""
    ip = "198.51.100.17"
    codes = []
    for i in range(3):
        answer = await tuned.gql(
            'mutation($e: String!) { register(email: $e, password: "correct horse 1") '
            "{ errors { code } } }",
            {"e": f"limit-{i}-{ip}@example.com"},
            ip=ip,
        )
        codes.append([e["code"] for e in answer["register"]["errors"]])
    assert codes == [[], [], ["RATE_LIMITED"]]


@pytest.mark.backends("sqlite")
async def test_api_requests_per_second_from_the_environment(tuned: Api) -> None:
    """API_REQUESTS_PER_SECOND=1: a second compat call within the second is refused."""
    user = await tuned.register()
    data = await tuned.gql(
        'mutation { createApiKey(name: "bot") { key } }', token=user.token, ip=user.ip
    )
    key = data["createApiKey"]["key"]
    answers = [
        (await tuned.client.get(f"/stubs/handler_api.php?api_key={key}&action=getBalance")).text
        for _ in range(2)
    ]
    assert answers[0] == "ACCESS_BALANCE:0.00"
    assert answers[1].startswith("BANNED:")


@pytest.mark.backends("sqlite")
async def test_public_url_is_the_base_of_email_links(tuned: Api) -> None:
    """PUBLIC_URL (its trailing slash dropped) starts the verification link."""
    with capture_logs() as entries:
        user = await tuned.register()
        for _ in range(100):
            bodies = [e["body"] for e in entries if e.get("to") == user.email and "body" in e]
            if bodies:
                break
            await asyncio.sleep(0.02)
    assert re.search(r"https://shop\.example/verify-email\?token=", bodies[-1])


@pytest.mark.backends("sqlite")
async def test_auth_cache_seconds_zero_checks_every_request(tuned: Api, api: Api) -> None:
    """AUTH_CACHE_SECONDS=0: a credential revoked behind the app's back stops at once; with
    the default cache it keeps working until the cache entry expires (or a wake-up clears it)."""
    for server_api, still_works in [(tuned, False), (api, True)]:
        user = await server_api.register()
        assert (await server_api.gql("{ me { id } }", token=user.token))["me"] is not None
        with server_api.rt.database.activate():
            await Credential.filter(user_id=user.id).update(revoked_at=server_api.rt.clock.now())
        me = (await server_api.gql("{ me { id } }", token=user.token))["me"]
        assert (me is not None) is still_works


@pytest.mark.backends("sqlite")
async def test_price_cache_seconds_keeps_the_price_list(tuned: Api, api: Api) -> None:
    """PRICE_CACHE_SECONDS=3600: a price edited behind the app's back is not listed until the
    snapshot is rebuilt; with 0 (the test default) it is listed at once."""
    query = '{ prices(country: "KZ", service: "go") { price { amount } } }'
    for server_api, cached in [(tuned, True), (api, False)]:
        before = (await server_api.gql(query))["prices"][0]["price"]["amount"]
        with server_api.rt.database.activate():
            price = await Price.get(country__code="KZ", service__code="go")
            await Price.filter(id=price.id).update(price_minor=price.price_minor + 1)
        after = (await server_api.gql(query))["prices"][0]["price"]["amount"]
        assert (after == before) is cached
        with server_api.rt.database.activate():
            await Price.filter(id=price.id).update(price_minor=price.price_minor)
        server_api.rt.catalog.invalidate()


@pytest.mark.backends("sqlite")
async def test_allowed_origins_decide_who_may_open_a_websocket(tuned: Api) -> None:
    """ALLOWED_ORIGINS: a browser page of another origin cannot open the live feed."""
    ws = tuned.server.url.replace("http", "ws") + "/graphql"

    async def handshake(origin: str) -> int:
        headers = {
            "origin": origin,
            "connection": "upgrade",
            "upgrade": "websocket",
            "sec-websocket-version": "13",
            "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
            "sec-websocket-protocol": "graphql-transport-ws",
        }
        async with httpx.AsyncClient() as client:
            try:
                response = await client.get(ws.replace("ws", "http", 1), headers=headers)
            except httpx.RemoteProtocolError:
                return 101  # switched protocols: httpx cannot read on
            return response.status_code

    assert await handshake("https://shop.example") == 101
    assert await handshake("https://evil.example") == 403


@pytest.mark.backends("sqlite")
async def test_smtp_url_sends_mail_over_smtp(
    backend: backends.Backend, tmp_path: Path, smtp_server: tuple[str, Inbox]
) -> None:
    """SMTP_URL: the verification mail goes to that SMTP server, not into the log."""
    url, inbox = smtp_server
    env = environment(backend, f"sqlite://{tmp_path / 'mail.sqlite3'}", SMTP_URL=url)
    async with (
        running(settings_from(env)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=30) as client,
    ):
        user = await Api(client, server).register()
        await inbox.message(0)
    [message] = inbox.messages
    assert message["To"] == user.email
    assert "/verify-email?token=" in str(message.get_payload())


@pytest.mark.backends("sqlite")
async def test_demo_supplier_off_serves_no_demo_catalog(
    backend: backends.Backend, tmp_path: Path
) -> None:
    """DEMO_SUPPLIER=off: nothing is seeded and nothing is on sale."""
    env = environment(backend, f"sqlite://{tmp_path / 'nodemo.sqlite3'}", DEMO_SUPPLIER="off")
    async with (
        running(settings_from(env)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=30) as client,
    ):
        data = await Api(client, server).gql("{ countries { code } prices { available } }")
    assert data == {"countries": [], "prices": []}


@pytest.mark.backends("postgres")
async def test_redis_prefix_names_every_key(tuned: Api, backend: backends.Backend) -> None:
    """REDIS_PREFIX: the rate-limit keys of a server live under its prefix."""
    prefix = f"{backend.redis_prefix}env:"
    await tuned.register()
    client = aioredis.from_url(testkit.backends.REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    finally:
        await client.aclose()
    assert keys, f"no Redis key under {prefix}"
