"""The activation bank (PostgreSQL + Redis, two app processes): a seeded mix of purchases,
cancels, bans, finishes, SMS and expiries from many users at once. Money is conserved in every
snapshot taken while it runs, and every code the app delivered reached its subscriber's live
feed, whichever process the feed and the SMS went through; so did every final status."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest

from models import ActivationEvent
from schema.pagination import encode_cursor
from services import audit
from services.db import newest_id, text_array
from testkit.processes import ServerProcess
from tests import live, stored_state
from tests.api import Api, User
from tests.app_processes import assert_no_traceback, shared_bus_env
from tests.workload import Deliveries, Shopper

pytestmark = [pytest.mark.backends("postgres"), pytest.mark.slow]

SEED = 1515
USERS = 20
STEPS = 24  # per user: the mix is reproducible, and its length bounds the run
THINK_SECONDS = 0.3  # at most, between one user's steps: numbers are left to expire meanwhile
WAIT_SECONDS = 60.0  # generous: a loaded CI machine, never a timing assertion
# Short deadlines, so that purchases expire (R4) and close (R3) within the run.
PROCESS_SETTINGS = {
    "sms_wait_seconds": 3,
    "activation_window_seconds": 6,
    "sweeper_interval_seconds": 0.2,
    "abuse_cancel_threshold": 10**6,  # R5's cool-down is not under test here
}
# Ids as text[] (services/db.py text_array): an int[] would make asyncpg introspect it.
ACTIVATIONS_OF = "SELECT id, user_id, status FROM activation WHERE user_id = ANY($1::text[]::int[])"
LIVE_OF = f"{ACTIVATIONS_OF} AND status IN ('WAITING_SMS', 'RECEIVED')"


class Feed:
    """A user's live feed, applied to a copy of their activations (as Zulip tests its events):
    the last status each event said, and the codes of the SMS it brought."""

    def __init__(self, events: live.Events) -> None:
        self.events = events
        self.statuses: dict[str, str] = {}
        self.codes: set[str] = set()

    async def catch_up(self, statuses: dict[str, str], codes: set[str]) -> None:
        """Applies events until the copy shows `statuses` and `codes`, or fails after
        WAIT_SECONDS with what is missing."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_SECONDS
        while not (self.statuses == statuses and self.codes >= codes):
            remaining = deadline - loop.time()
            try:
                event = await self.events.next(timeout=max(remaining, 0.01))
            except TimeoutError:
                missing = {
                    "codes": codes - self.codes,
                    "statuses": statuses.items() - self.statuses.items(),
                }
                raise AssertionError(f"the feed never caught up: {missing}") from None
            self.apply(event)
        assert self.codes == codes  # and no code the app did not say it delivered

    def apply(self, event: dict[str, Any]) -> None:
        activation = event["activation"]
        self.statuses[activation["id"]] = activation["status"]
        if event["kind"] == "SMS_RECEIVED":
            self.codes.add(event["sms"]["code"])


@asynccontextmanager
async def feeds(
    urls: list[str], users: list[User], rng: random.Random
) -> AsyncIterator[list[Feed]]:
    """A live feed for each user on a seeded choice of process, from a cursor before any of
    their events (so none is missed however late the subscription starts)."""
    after = encode_cursor("event", max(1, await newest_id(ActivationEvent.all())))
    async with AsyncExitStack() as stack:
        yield [
            Feed(
                await stack.enter_async_context(live.events(rng.choice(urls), u.token, after=after))
            )
            for u in users
        ]


async def money_snapshots(stop: asyncio.Event) -> list[list[str]]:
    """The balance audit, one statement each (a consistent snapshot), until `stop`: the
    problems each snapshot found."""
    taken = []
    while not stop.is_set():
        taken.append(await audit.balance_violations())
        await asyncio.sleep(0.05)
    return taken


async def wait_until_all_ended(users: list[User]) -> None:
    """The processes' sweepers end every purchase of `users`: expired, or closed after its
    window."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while live_rows := await stored_state.rows(LIVE_OF, text_array(user.id for user in users)):
        assert loop.time() < deadline, f"still live: {live_rows}"
        await asyncio.sleep(0.2)


async def test_activation_bank_conserves_money_and_delivers_every_code(api: Api) -> None:
    since = await stored_state.last_number_use_id()
    rng = random.Random(SEED)
    # Another user's purchase first: the event log then has an id before all of ours.
    await api.act(
        other := await api.funded_user(), "cancelActivation", (await api.bought(other))["id"]
    )
    # Some can afford a purchase or two only: INSUFFICIENT_BALANCE, at zero and never below.
    users = [await api.funded_user(rng.choice(["0.50", "1.00", "5.00"])) for _ in range(USERS)]
    env = shared_bus_env(api.server, **PROCESS_SETTINGS)
    deliveries = Deliveries()
    async with (
        ServerProcess("app:app", env) as process_a,
        ServerProcess("app:app", env) as process_b,
        httpx.AsyncClient(base_url=process_a.url, timeout=60) as client_a,
        httpx.AsyncClient(base_url=process_b.url, timeout=60) as client_b,
        feeds([process_a.url, process_b.url], users, rng) as user_feeds,
    ):
        apps = [Api(client_a, api.server), Api(client_b, api.server)]
        shoppers = [Shopper(apps, u, random.Random(rng.random()), deliveries) for u in users]

        async def shop(shopper: Shopper) -> None:
            for _ in range(STEPS):
                await shopper.step()
                await asyncio.sleep(shopper.rng.uniform(0, THINK_SECONDS))

        stop = asyncio.Event()
        snapshots = asyncio.create_task(money_snapshots(stop))
        try:
            await asyncio.gather(*(shop(shopper) for shopper in shoppers))
            await deliveries.send_unanswered(apps[0])  # any answered 503, as a supplier would
            await wait_until_all_ended(users)  # the last expiries are money moves too
        finally:
            stop.set()
            taken = await snapshots
        assert taken, "no snapshot was taken during the run"
        assert [problems for problems in taken if problems] == []

        final: dict[int, dict[str, str]] = {user.id: {} for user in users}
        for row in await stored_state.rows(ACTIVATIONS_OF, text_array(final)):
            final[row["user_id"]][str(row["id"])] = row["status"]
        codes = deliveries.delivered_codes()
        for user, feed in zip(users, user_feeds, strict=True):
            await feed.catch_up(final[user.id], codes.get(user.id, set()))
        assert_no_traceback(process_a)
        assert_no_traceback(process_b)
    await stored_state.sweep_all(api.rt)  # what earlier tests of the session left live
    assert await stored_state.violations(deliveries, swept=True, since_use_id=since) == []
    outcomes = {status for statuses in final.values() for status in statuses.values()}
    assert {"EXPIRED", "CANCELLED", "BANNED", "FINISHED"} <= outcomes, outcomes  # the mix ran
    assert any("INSUFFICIENT_BALANCE" in shopper.refusals for shopper in shoppers)
