"""One runtime per app (web/state.py, services/runtime.py): two apps live in one process, each
with its own settings, database, clock and caches; and every lock wait is bounded
(services/locks.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest

from models import Activation, ActivationStatus, User
from services import ledger, locks
from settings import Settings
from tests import backends
from tests.activation_helpers import wait_for_status
from tests.api import Api
from tests.backends import own_database
from tests.conftest import Server, running, settings_for

DEEP_QUERY = "{ me { id } activations { edges { node { country { code } } } } }"  # depth 5


@asynccontextmanager
async def api_of(server: Server) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield Api(client, server)


async def test_two_apps_live_in_one_process_without_sharing_state(
    backend: backends.Backend, tmp_path: Path
) -> None:
    """Two apps with their own databases and settings, served at once by one process (beside
    the session's server): an account of one is unknown to the other, each enforces its own
    GraphQL depth limit, and moving one app's clock expires its activation only."""
    async with (
        own_database(backend, tmp_path, "a") as url_a,
        own_database(backend, tmp_path, "b") as url_b,
    ):
        settings_a = settings_for(
            backend,
            database_url=url_a,
            redis_prefix=f"{backend.redis_prefix}a:",
            graphql_max_depth=3,
        )
        settings_b = settings_for(
            backend,
            database_url=url_b,
            redis_prefix=f"{backend.redis_prefix}b:",
            graphql_max_depth=10,
        )
        await _two_apps(settings_a, settings_b)


async def _two_apps(settings_a: Settings, settings_b: Settings) -> None:
    async with (
        running(settings_a) as server_a,
        running(settings_b) as server_b,
        api_of(server_a) as a,
        api_of(server_b) as b,
    ):
        assert server_a.runtime is not server_b.runtime
        user_a = await a.funded_user("5.00")
        user_b = await b.funded_user("5.00")

        # Separate databases: a token of A means nothing to B.
        assert (await b.gql("{ me { id } }", token=user_a.token))["me"] is None
        assert (await a.gql("{ me { email } }", token=user_a.token))["me"]["email"] == user_a.email

        # Each app's own limits, built from its own settings.
        refused = await a.post(DEEP_QUERY, token=user_a.token)
        assert "exceeds maximum operation depth of 3" in refused["errors"][0]["message"]
        assert "errors" not in await b.post(DEEP_QUERY, token=user_b.token)

        # Each app's own clock: A's activation expires (R4), B's keeps waiting.
        bought_a = await a.bought(user_a, "GB", "tg")
        bought_b = await b.bought(user_b, "GB", "tg")
        server_a.runtime.clock.advance(settings_a.sms_wait_seconds + 1)
        with server_a.runtime.database.activate():
            expired = await wait_for_status(bought_a["id"], ActivationStatus.EXPIRED)
            assert expired.refunded is True
            assert await User.filter(email=user_b.email).count() == 0
            assert await ledger.balance_minor(user_a.id) == 500
        with server_b.runtime.database.activate():
            assert await User.filter(email=user_a.email).count() == 0
            stored = await Activation.get(id=int(bought_b["id"]))
            assert stored.status == ActivationStatus.WAITING_SMS
        seen_b = await b.activation(user_b, bought_b["id"])
        assert seen_b is not None
        assert seen_b["status"] == "WAITING_SMS"


@pytest.mark.backends("postgres")  # SQLite has one writer and no lock waits to bound
async def test_a_lock_held_too_long_answers_busy_and_changes_nothing(
    server: Server, backend: backends.Backend
) -> None:
    """A purchase waits at most LOCK_TIMEOUT_MS for its user's lock, then answers BUSY (a
    refusal to retry) instead of hanging; nothing is bought or charged, and once the lock is
    free the same purchase goes through. A second app on the same database, with a short
    lock timeout, serves it."""
    settings = dataclasses.replace(settings_for(backend), lock_timeout_ms=300)
    async with running(settings) as fast, api_of(fast) as api:
        user = await api.funded_user("5.00")
        holder = await asyncpg.connect(backend.database_url)
        try:
            await holder.execute("SELECT pg_advisory_lock($1, $2)", locks.EVENT_LOCK_CLASS, user.id)
            refused = await api.buy(user, "GB", "tg")
        finally:
            await holder.close()  # releases the lock
        assert refused["activation"] is None
        assert [e["code"] for e in refused["errors"]] == ["BUSY"]
        with fast.runtime.database.activate():
            assert await Activation.filter(user_id=user.id).count() == 0
            assert await ledger.balance_minor(user.id) == 500

        bought = await api.buy(user, "GB", "tg")
        assert bought["errors"] == []
