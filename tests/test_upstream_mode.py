"""Upstream mode (issue 8, step 4): a shop (A) sells numbers it buys from another SMS Rooms (B)
through B's sms-activate-compatible API, as it would from sms-activate or HeroSMS.

B is the session's server, with its demo supplier; A is an app of its own, on a database of its
own of the same engine, that has B as an UPSTREAM supplier (our bot's key at B). A user buys on
A, A buys from B, B's demo supplier delivers the code (B's supplier webhook), and A pushes it to
the user's live feed. A's own demo pool is made dearer than B for GB/Telegram, so that routing
asks B first, and has it to fall back on when B is gone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from models import (
    Activation,
    ActivationStatus,
    Country,
    OutboxMessage,
    PhoneNumber,
    Sms,
    Supplier,
    UpstreamPoll,
)
from services import audit
from suppliers import demo
from suppliers.upstream import relay
from testkit.backends import free_port
from tests import backends, live
from tests import supplier_helpers as sh
from tests.api import Api, User
from tests.app_processes import app_process, process_env
from tests.backends import own_database
from tests.compat_helpers import HANDLER, Bot, ask, new_bot
from tests.conftest import Server, running, settings_for
from tests.test_catalog import add_numbers

WAIT_LIMIT_SECONDS = 20.0  # how long a test waits for A's background jobs to get somewhere
TG_TEXT = "Telegram code: {code}. Do not give this code to anyone"


@dataclass
class Shop:
    """A, with B as its upstream."""

    server: Server
    api: Api
    upstream: dict[str, Any]  # the supplier row of B, as A's admin sees it
    bot: Bot  # our account at B
    b: Api  # B's public interfaces


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Waits (bounded) until `check()` is true: A's jobs run on their own schedule."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_LIMIT_SECONDS
    while not await check():
        assert loop.time() < deadline, f"not within {WAIT_LIMIT_SECONDS:g} s: {what}"
        await asyncio.sleep(0.05)


@pytest.fixture
async def shop(api: Api, backend: backends.Backend, tmp_path: Path) -> AsyncIterator[Shop]:
    bot = await new_bot(api, "10.00")
    async with own_database(backend, tmp_path, "shop") as url:
        settings = settings_for(
            backend,
            database_url=url,
            redis_prefix=f"{backend.redis_prefix}shop:",
            upstream_sync_interval_seconds=0.3,
            upstream_status_first_seconds=0.1,
            upstream_status_max_seconds=0.3,
            outbox_poll_seconds=0.05,
            outbox_backoff_base_seconds=0.1,
            outbox_backoff_max_seconds=0.3,
        )
        async with (
            running(settings) as server,
            httpx.AsyncClient(base_url=server.url, timeout=30) as client,
        ):
            with server.runtime.database.activate():
                a = Api(client, server)
                upstream, _ = await sh.created(
                    a, kind="UPSTREAM", url=f"{api.server.url}{HANDLER}", apiKey=bot.key
                )
                await own_pool_apart_from_the_upstreams(server)
                own_pool = (await sh.listed(a))[demo.CODE]
                assert (await sh.set_cost(a, own_pool["id"], "9.00", "GB", "tg"))["errors"] == []

                async def synced() -> bool:
                    return (await sh.listed(a))[upstream["code"]]["available"] > 0

                await until(synced, "the upstream's prices synced")
                yield Shop(server, a, upstream, bot, api)
                assert await audit.ledger_violations() == []


async def own_pool_apart_from_the_upstreams(server: Server) -> None:
    """A's demo pool for GB gets numbers B's never has: both demo pools draw from the same
    fictional range, and a number another supplier of A owns is never taken from an upstream."""
    gb = await Country.get(code="GB")
    await PhoneNumber.filter(country=gb).delete()
    await add_numbers(gb, [f"+447700{999000 + i}" for i in range(5)])
    server.runtime.catalog.invalidate()


async def upstream_activation(shop: Shop, activation: dict[str, Any]) -> dict[str, Any]:
    """B's activation behind A's, as our bot at B sees it."""
    stored = await Activation.get(id=int(activation["id"]))
    assert stored.supplier_activation_id is not None
    seen = await shop.b.activation(shop.bot.user, stored.supplier_activation_id)
    assert seen is not None
    return seen


async def status_at_b(shop: Shop, activation: dict[str, Any]) -> str:
    return str((await upstream_activation(shop, activation))["status"])


def balance_at_b_is(shop: Shop, amount: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await shop.b.balance(shop.bot.user) == amount

    return check


async def bought_on_a(shop: Shop) -> tuple[User, dict[str, Any]]:
    user = await shop.api.funded_user("5.00")
    return user, await shop.api.bought(user, "GB", "tg")


# -- a purchase through the upstream, from offer to code ---------------------------------------
async def test_a_code_sent_at_the_upstream_reaches_the_buyer_on_the_shop(
    shop: Shop,
) -> None:
    with shop.server.runtime.database.activate():
        b = shop.b
        user = await shop.api.funded_user("5.00")
        price = (
            await shop.api.gql('{ prices(country: "GB", service: "tg") { price { amount } } }')
        )["prices"][0]["price"]["amount"]
        bought = await shop.api.bought(user, "GB", "tg")
        at_b = await upstream_activation(shop, bought)
        assert at_b["phoneNumber"] == bought["phoneNumber"]
        assert at_b["status"] == "WAITING_SMS"
        number = await PhoneNumber.get(e164=bought["phoneNumber"]).prefetch_related("supplier")
        assert number.supplier.code == shop.upstream["code"]
        # We paid B its price for the number (its cost on A), out of our 10.00 there.
        cost = (await Activation.get(id=int(bought["id"]))).cost_minor
        assert await b.balance(shop.bot.user) == f"{(1000 - cost) / 100:.2f}"

        async with live.events(shop.server.url, user.token, activationId=bought["id"]) as feed:
            response = await b.deliver_sms(bought["phoneNumber"], TG_TEXT.format(code="24680"))
            assert response.json() == {"status": "delivered"}
            event = await feed.next(timeout=WAIT_LIMIT_SECONDS)
            while event["kind"] != "SMS_RECEIVED":
                event = await feed.next(timeout=WAIT_LIMIT_SECONDS)
            assert event["sms"]["code"] == "24680"
            assert event["activation"]["code"] == "24680"

            # Another SMS: A relays setStatus 3, B waits for a new code, and it comes through too.
            assert (await shop.api.act(user, "requestAnotherSms", bought["id"]))["errors"] == []
            bot = shop.bot

            async def retry_relayed() -> bool:
                answer = await ask(b, bot, "getStatus", id=str(at_b["id"]))
                return answer == "STATUS_WAIT_RETRY:24680"

            await until(retry_relayed, "setStatus 3 reached the upstream")
            await b.deliver_sms(bought["phoneNumber"], TG_TEXT.format(code="13579"))
            event = await feed.next(timeout=WAIT_LIMIT_SECONDS)
            while event["kind"] != "SMS_RECEIVED":
                event = await feed.next(timeout=WAIT_LIMIT_SECONDS)
            assert event["sms"]["code"] == "13579"

        stored = await Activation.get(id=int(bought["id"]))
        assert (stored.status, stored.code) == (ActivationStatus.RECEIVED, "13579")
        messages = await Sms.filter(activation_id=stored.id).order_by("id")
        upstream_id = stored.supplier_activation_id
        assert [m.supplier_message_id for m in messages] == [
            f"{upstream_id}:24680:1",
            f"{upstream_id}:13579:2",
        ]
        assert await shop.api.balance(user) == f"{5 - float(price):.2f}"

        assert (await shop.api.act(user, "finishActivation", bought["id"]))["errors"] == []

        async def finished_at_b() -> bool:
            return await status_at_b(shop, bought) == "FINISHED"

        await until(finished_at_b, "setStatus 6 reached the upstream")
        owed = (await sh.listed(shop.api))[shop.upstream["code"]]["owed"]["amount"]
        assert owed == f"{stored.cost_minor / 100:.2f}"


async def test_a_cancel_on_the_shop_cancels_at_the_upstream_and_both_refund(
    shop: Shop,
) -> None:
    with shop.server.runtime.database.activate():
        b = shop.b
        user, bought = await bought_on_a(shop)
        assert await b.balance(shop.bot.user) != "10.00"
        cancelled = await shop.api.act(user, "cancelActivation", bought["id"])
        assert cancelled["errors"] == []
        assert await shop.api.balance(user) == "5.00"

        await until(balance_at_b_is(shop, "10.00"), "setStatus 8 reached the upstream")
        assert await status_at_b(shop, bought) == "CANCELLED"
        sent = await OutboxMessage.get(kind=relay.KIND)
        assert sent.sent_at is not None
        assert sent.last_error is None


async def test_an_activation_the_upstream_cancels_is_refunded_on_the_shop(
    shop: Shop,
) -> None:
    with shop.server.runtime.database.activate():
        b = shop.b
        user, bought = await bought_on_a(shop)
        at_b = await upstream_activation(shop, bought)
        assert (
            await ask(b, shop.bot, "setStatus", id=str(at_b["id"]), status="8") == "ACCESS_CANCEL"
        )

        async def refunded() -> bool:
            return await shop.api.balance(user) == "5.00"

        await until(refunded, "the upstream's STATUS_CANCEL reached the shop")
        stored = await Activation.get(id=int(bought["id"]))
        assert (stored.status, stored.refunded) == (ActivationStatus.EXPIRED, True)
        # The ending was decided with no message to the upstream (it would be in that transaction).
        assert not await OutboxMessage.filter(kind=relay.KIND).exists()


async def test_when_the_upstream_is_gone_the_shop_sells_from_its_own_pool(shop: Shop) -> None:
    with shop.server.runtime.database.activate():
        # The own pool (cost 9.00) may sell only at a price that covers it (ADR 0011): a margin
        # of 9.00 over the cheapest supplier, the upstream, lets both be tried, cheapest first.
        rule = await shop.api.gql(
            'mutation { setPriceRule(input: {markupPercent: "0", minMargin: "9.00"})'
            " { errors { code } } }",
            token=await shop.api.admin_token(),
        )
        assert rule["setPriceRule"]["errors"] == []
        closed = f"http://127.0.0.1:{free_port()}{HANDLER}"
        assert (await sh.update(shop.api, shop.upstream["id"], url=closed))["errors"] == []
        user = await shop.api.funded_user("20.00")
        bought = await shop.api.bought(user, "GB", "tg")
        number = await PhoneNumber.get(e164=bought["phoneNumber"]).prefetch_related("supplier")
        assert number.supplier.code == demo.CODE
        upstream = await Supplier.get(id=int(shop.upstream["id"]))
        assert upstream.consecutive_failures == 1

        async def sync_failure_shown() -> bool:
            return (await sh.listed(shop.api))[shop.upstream["code"]]["upstreamError"] is not None

        await until(sync_failure_shown, "the failing sync recorded")
        shown = (await sh.listed(shop.api))[shop.upstream["code"]]
        assert shown["state"] == "ACTIVE"
        assert shown["upstreamBalance"] is not None  # the last balance read is kept


async def test_the_upstreams_balance_is_shown_to_admins_with_a_low_balance_warning(
    shop: Shop,
) -> None:
    with shop.server.runtime.database.activate():
        b = shop.b
        shown = (await sh.listed(shop.api))[shop.upstream["code"]]
        assert shown["upstreamBalance"] == {"amount": "10.00", "currency": "USD"}
        assert shown["upstreamBalanceLow"] is False
        assert shown["upstreamError"] is None
        assert shown["upstreamSyncedAt"] is not None
        await b.fund(shop.bot.user, "-9.00", "spent elsewhere")

        async def low() -> bool:
            return bool((await sh.listed(shop.api))[shop.upstream["code"]]["upstreamBalanceLow"])

        await until(low, "the lower balance synced")
        assert (await sh.listed(shop.api))[shop.upstream["code"]]["upstreamBalance"][
            "amount"
        ] == "1.00"


async def test_a_cancel_while_the_upstream_is_away_reaches_it_when_it_is_back(shop: Shop) -> None:
    with shop.server.runtime.database.activate():
        user, bought = await bought_on_a(shop)
        upstream_url = shop.upstream["url"]
        closed = f"http://127.0.0.1:{free_port()}{HANDLER}"
        assert (await sh.update(shop.api, shop.upstream["id"], url=closed))["errors"] == []
        assert (await shop.api.act(user, "cancelActivation", bought["id"]))["errors"] == []
        assert await shop.api.balance(user) == "5.00"  # the buyer does not wait for the upstream

        async def retried() -> bool:
            message = await OutboxMessage.get(kind=relay.KIND)
            return message.attempts >= 2 and message.last_error is not None

        await until(retried, "the relay failed and was retried")
        assert (await OutboxMessage.get(kind=relay.KIND)).sent_at is None
        assert await status_at_b(shop, bought) == "WAITING_SMS"
        assert (await sh.update(shop.api, shop.upstream["id"], url=upstream_url))["errors"] == []

        await until(balance_at_b_is(shop, "10.00"), "setStatus 8 reached it once it was back")
        assert await status_at_b(shop, bought) == "CANCELLED"
        sent = await OutboxMessage.get(kind=relay.KIND)
        assert sent.sent_at is not None


@pytest.mark.backends("postgres")
async def test_with_two_app_processes_a_code_is_polled_and_delivered_once(shop: Shop) -> None:
    """A second process of the shop (a `uvicorn app:app` child on the shop's database and Redis)
    polls upstream codes too: the leased schedule lets one of them ask at a time, the message id
    keeps a repeated answer from counting twice, and the buyer's feed on either process gets the
    code once."""
    settings = shop.server.settings
    assert settings.redis_url is not None
    env = process_env(
        shop.server,
        settings.redis_url,
        settings.redis_prefix,
        secrets_key=settings.secrets_key,
        upstream_status_first_seconds=settings.upstream_status_first_seconds,
        upstream_status_max_seconds=settings.upstream_status_max_seconds,
    )
    async with app_process(env) as second:
        with shop.server.runtime.database.activate():
            user, bought = await bought_on_a(shop)
            async with live.events(second, user.token, activationId=bought["id"]) as feed:
                await shop.b.deliver_sms(bought["phoneNumber"], TG_TEXT.format(code="97531"))
                event = await feed.next(timeout=WAIT_LIMIT_SECONDS)
                while event["kind"] != "SMS_RECEIVED":
                    event = await feed.next(timeout=WAIT_LIMIT_SECONDS)
                assert event["sms"]["code"] == "97531"
                poll = await UpstreamPoll.get(activation_id=int(bought["id"]))

                async def polled_again() -> bool:
                    return (await UpstreamPoll.get(id=poll.id)).polls >= poll.polls + 3

                await until(polled_again, "the code polled again after it came")
                later = [feed.queue.get_nowait()["kind"] for _ in range(feed.queue.qsize())]
                assert "SMS_RECEIVED" not in later
            stored = await Sms.filter(activation_id=int(bought["id"]))
            assert [m.code for m in stored] == ["97531"]
