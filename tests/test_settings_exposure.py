"""What a production server shows to strangers (issue 10, item 11): METRICS_TOKEN, GRAPHIQL and
INTROSPECTION, each closed by default when DEMO_SUPPLIER=off and opened by its setting; and
the mail that a demo writes into its log, which production does not.

Servers started from an operator's environment, as in tests/test_settings.py; none of these
settings touches the database, so they run on the SQLite pair only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from structlog.testing import capture_logs

from tests import backends
from tests.api import Api
from tests.conftest import Server, running
from tests.test_settings import environment, settings_from

pytestmark = pytest.mark.backends("sqlite")

INTROSPECT = "{ __schema { queryType { name } } }"
METRICS_TOKEN = "metrics-token-for-tests"


@pytest.fixture(scope="module")
async def production(
    server: Server, backend: backends.Backend, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    """DEMO_SUPPLIER=off and nothing else of these settings: the defaults of production. (After
    the session's `server`: the first database opened is the one tests read through.)"""
    url = f"sqlite://{tmp_path_factory.mktemp('production') / 'db.sqlite3'}"
    env = environment(backend, url, DEMO_SUPPLIER="off")
    async with (
        running(settings_from(env)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=30) as client,
    ):
        yield Api(client, server)


@pytest.fixture
async def opened(server: Server, backend: backends.Backend, tmp_path: Path) -> AsyncIterator[Api]:
    """DEMO_SUPPLIER=off with each of the three opened by its setting."""
    env = environment(
        backend,
        f"sqlite://{tmp_path / 'opened.sqlite3'}",
        DEMO_SUPPLIER="off",
        METRICS_TOKEN=METRICS_TOKEN,
        INTROSPECTION="on",
        GRAPHIQL="on",
    )
    async with (
        running(settings_from(env)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=30) as client,
    ):
        yield Api(client, server)


async def test_metrics_are_closed_in_production_without_a_token(production: Api) -> None:
    response = await production.client.get("/metrics")
    assert response.status_code == 404
    assert "smsrooms_http_requests_total" not in response.text


async def test_metrics_token_is_required_where_it_is_set(opened: Api, api: Api) -> None:
    """METRICS_TOKEN: only its bearer reads /metrics (the demo server, without one, is open)."""
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": METRICS_TOKEN}):
        refused = await opened.client.get("/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert "smsrooms_http_requests_total" not in refused.text
    allowed = await opened.client.get(
        "/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"}
    )
    assert allowed.status_code == 200
    assert "smsrooms_http_requests_total" in allowed.text
    assert "smsrooms_http_requests_total" in (await api.client.get("/metrics")).text


async def test_introspection_is_off_in_production(production: Api, api: Api) -> None:
    refused = await production.post(INTROSPECT)
    assert refused.get("data") is None
    assert "introspection" in refused["errors"][0]["message"].lower()
    assert (await production.gql("{ __typename }")) == {"__typename": "Query"}
    assert (await api.gql(INTROSPECT))["__schema"]["queryType"]["name"] == "Query"


async def test_introspection_setting_turns_it_on(opened: Api) -> None:
    assert (await opened.gql(INTROSPECT))["__schema"]["queryType"]["name"] == "Query"


async def test_mail_without_smtp_is_not_logged_in_production(production: Api) -> None:
    """Without SMTP_URL a demo writes the verification mail into the log; production only
    says that it was not sent, never the link."""
    with capture_logs() as entries:
        user = await production.register()
        for _ in range(250):
            unsent = [e for e in entries if e.get("to") == user.email]
            if unsent:
                break
            await asyncio.sleep(0.02)
    assert [(e["event"], e["log_level"], sorted(e)) for e in unsent] == [
        ("mail not sent: SMTP_URL is not set", "warning", ["event", "log_level", "subject", "to"])
    ]


async def test_graphiql_is_off_in_production_and_on_by_its_setting(
    production: Api, opened: Api
) -> None:
    html = {"accept": "text/html"}
    closed = await production.client.get("/graphql", headers=html)
    assert "graphiql" not in closed.text.lower()
    assert "graphiql" in (await opened.client.get("/graphql", headers=html)).text.lower()
