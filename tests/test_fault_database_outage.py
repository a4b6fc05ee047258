"""Database outages (PostgreSQL): the app's connections killed under load (`pg_terminate_backend`),
and the database refusing connections for a while. Requests fail cleanly with a retryable
answer (BUSY, or 503 to a supplier), never a 500 or a traceback; the pool recovers by itself,
`/readyz` says when the database is gone and when it is back; nothing is half-written."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest

from testkit.backends import POSTGRES_URL
from testkit.processes import ServerProcess
from tests import stored_state
from tests.api import Api, GraphQLFailure, User
from tests.app_processes import assert_no_traceback, shared_bus_env
from tests.compat_helpers import ask, new_bot
from tests.workload import Deliveries, Shopper

pytestmark = [pytest.mark.backends("postgres"), pytest.mark.slow]

SEED = 1414
SHOPPERS = 6
STEPS = 40  # per shopper
TERMINATIONS = 4  # of every connection to the database, at seeded points of the load
WAIT_SECONDS = 60.0  # generous: a loaded CI machine, never a timing assertion


class Database:
    """The test's own database, seen from PostgreSQL's side (a connection to another one)."""

    def __init__(self, url: str) -> None:
        self.name = url.rsplit("/", 1)[1].split("?", 1)[0]

    async def _admin(self, sql: str, *args: object) -> None:
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            await conn.execute(sql, *args)
        finally:
            await conn.close()

    async def terminate_connections(self) -> None:
        await self._admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            self.name,
        )

    async def allow_connections(self, allowed: bool) -> None:
        await self._admin(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS {str(allowed).lower()}')


class Outcomes:
    """What the clients saw: counts by kind; anything but an answer or a retryable refusal
    fails the test where it happens."""

    def __init__(self) -> None:
        self.answered = 0
        self.busy = 0

    async def run(self, operation: Callable[[], Awaitable[None]]) -> None:
        try:
            await operation()
        except GraphQLFailure as failure:  # top-level errors (a query, or a mutation's field)
            errors = json.loads(str(failure))
            assert [e.get("extensions", {}).get("code") for e in errors] == ["BUSY"], errors
            self.busy += 1
            return
        self.answered += 1


async def wait_ready(client: httpx.AsyncClient, ready: bool) -> dict[str, str]:
    """Polls `/readyz` until it says ready (200) or not ready (503); returns its body."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while True:
        answer = await client.get("/readyz")
        assert answer.status_code in (200, 503), answer.text
        if (answer.status_code == 200) == ready:
            return answer.json()  # type: ignore[no-any-return]
        assert loop.time() < deadline, f"/readyz stayed {answer.status_code}: {answer.text}"
        await asyncio.sleep(0.1)


async def test_killed_connections_fail_requests_cleanly_and_the_pool_recovers(api: Api) -> None:
    since = await stored_state.last_number_use_id()
    rng = random.Random(SEED)
    database = Database(api.server.settings.database_url)
    users: list[User] = [await api.funded_user("300.00") for _ in range(SHOPPERS)]
    deliveries, outcomes = Deliveries(), Outcomes()
    env = shared_bus_env(api.server, abuse_cancel_threshold=10**6)
    total = SHOPPERS * STEPS
    kill_points = set(rng.sample(range(10, total - 10), TERMINATIONS))
    async with (
        ServerProcess("app:app", env) as process,
        httpx.AsyncClient(base_url=process.url, timeout=60) as client,
    ):
        app = Api(client, api.server)
        shoppers = [Shopper([app], user, random.Random(rng.random()), deliveries) for user in users]
        steps = 0

        async def shop(shopper: Shopper) -> None:
            nonlocal steps
            for _ in range(STEPS):
                await outcomes.run(shopper.step)
                steps += 1
                if steps in kill_points:
                    await database.terminate_connections()

        await asyncio.gather(*(shop(shopper) for shopper in shoppers))
        assert outcomes.answered > total // 2, vars(outcomes)  # the load mostly got through

        # The pool recovers by itself: the next requests are answered.
        await wait_ready(client, ready=True)
        for user in users:
            await app.bought(user)
        await deliveries.send_unanswered(app)
        assert_no_traceback(process)
    assert await stored_state.violations(deliveries, swept=False, since_use_id=since) == []
    await stored_state.sweep_all(api.rt)
    assert await stored_state.violations(deliveries, swept=True, since_use_id=since) == []


async def test_readyz_reports_a_database_that_refuses_connections_until_it_is_back(
    api: Api,
) -> None:
    since = await stored_state.last_number_use_id()
    database = Database(api.server.settings.database_url)
    bot = await new_bot(api, "50.00")
    user = bot.user
    env = shared_bus_env(api.server)
    async with (
        ServerProcess("app:app", env) as process,
        httpx.AsyncClient(base_url=process.url, timeout=60) as client,
    ):
        app = Api(client, api.server)
        activation = await app.bought(user)
        balance = await app.balance(user)
        try:
            await database.allow_connections(False)
            await database.terminate_connections()
            down = await wait_ready(client, ready=False)
            assert down["database"].startswith("error"), down
            # Requests meanwhile are refused with a retryable answer, and change nothing.
            refused = await app.buy(user)
            assert [e["code"] for e in refused["errors"]] == ["BUSY"], refused
            query = await app.post("{ me { balance { amount } } }", token=user.token)
            assert [e["extensions"]["code"] for e in query["errors"]] == ["BUSY"], query
            answer = await app.deliver_sms(activation["phoneNumber"], "Telegram code: 55555")
            assert answer.status_code == 503, answer.text
            assert await ask(app, bot, "getBalance") == "ERROR_SQL"  # the protocol's retry
        finally:
            await database.allow_connections(True)
        up = await wait_ready(client, ready=True)
        assert up["database"] == "ok"
        assert await app.balance(user) == balance  # the refused purchase took nothing
        # Back without a restart: the refused SMS, sent again, is delivered; buying works.
        answer = await app.deliver_sms(activation["phoneNumber"], "Telegram code: 55555")
        assert answer.json() == {"status": "delivered"}
        assert (await app.activation(user, activation["id"]))["code"] == "55555"  # type: ignore[index]
        await app.bought(user)
        assert_no_traceback(process)
    assert await stored_state.violations(Deliveries(), swept=False, since_use_id=since) == []
