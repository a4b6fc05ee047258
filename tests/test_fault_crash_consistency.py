"""Crash consistency (PostgreSQL): an app process killed with SIGKILL at seeded points while
clients buy, cancel, ban and receive codes loses no money, sells no number twice, resolves every
hold exactly once, and keeps every SMS it acknowledged to a supplier."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest

from testkit.processes import ServerProcess
from tests import stored_state
from tests.api import Api, User
from tests.app_processes import assert_no_traceback, shared_bus_env
from tests.workload import Deliveries, Shopper

pytestmark = [pytest.mark.backends("postgres"), pytest.mark.slow]

SEED = 1313
ROUNDS = 5
SHOPPERS = 6
# The kill lands after this many completed operations of a round (seeded), with the other
# shoppers' requests in flight: in a transaction, between commit and answer, or before both.
KILL_AFTER = (8, 60)


async def kill(process: ServerProcess) -> None:
    """SIGKILL: no shutdown, no rollback by the app; PostgreSQL ends what it left open."""
    assert process.process is not None
    process.process.kill()
    await asyncio.to_thread(process.process.wait)


async def shop_until_killed(
    process: ServerProcess, shoppers: list[Shopper], kill_after: int
) -> None:
    """Runs the shoppers at once and kills the process after `kill_after` operations; each
    shopper stops at its first request that the dead process cuts off, and only then."""
    completed = 0
    killed = asyncio.Event()

    async def shop(shopper: Shopper) -> None:
        nonlocal completed
        while True:
            try:
                await shopper.step()
            except httpx.TransportError:
                if killed.is_set():
                    return
                raise
            completed += 1
            if completed == kill_after:
                assert_no_traceback(process)  # what the load made it log so far
                killed.set()
                await kill(process)

    await asyncio.gather(*(shop(shopper) for shopper in shoppers))


async def test_killed_app_process_loses_no_money_number_or_code(api: Api) -> None:
    since = await stored_state.last_number_use_id()
    rng = random.Random(SEED)
    users: list[User] = [await api.funded_user("300.00") for _ in range(SHOPPERS)]
    deliveries = Deliveries()
    # R5's cool-down would soon stop these shoppers' cancels from buying: not under test here.
    process = ServerProcess("app:app", shared_bus_env(api.server, abuse_cancel_threshold=10**6))
    try:
        for _ in range(ROUNDS):
            await process.start()
            async with httpx.AsyncClient(base_url=process.url, timeout=60) as client:
                app = Api(client, api.server)
                await deliveries.send_unanswered(app)  # the supplier's retries
                shoppers = [
                    Shopper([app], user, random.Random(rng.random()), deliveries) for user in users
                ]
                await shop_until_killed(process, shoppers, rng.randint(*KILL_AFTER))
            await process.stop()  # removes the dead process's log

            assert await stored_state.violations(deliveries, swept=False, since_use_id=since) == []
            await stored_state.sweep_all(api.rt)
            assert await stored_state.violations(deliveries, swept=True, since_use_id=since) == []

        await process.start()
        async with httpx.AsyncClient(base_url=process.url, timeout=60) as client:
            await deliveries.send_unanswered(Api(client, api.server))
        assert_no_traceback(process)
        assert await stored_state.violations(deliveries, swept=True, since_use_id=since) == []
        assert "delivered" in deliveries.acknowledged.values()  # the load did receive codes
    finally:
        await process.stop()
