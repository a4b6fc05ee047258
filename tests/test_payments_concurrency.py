"""R10 under concurrency (PostgreSQL + Redis, several connections at once): the same processor
notification delivered 20 times in parallel, interleaved with purchases, credits exactly once
and leaves the ledger audit clean."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from models import Transfer, TransferKind
from tests import payments
from tests.api import Api
from tests.conftest import Processors

pytestmark = [pytest.mark.backends("postgres"), pytest.mark.usefixtures("ledger_is_consistent")]


Events = Callable[[dict[str, Any]], list[dict[str, Any]]]


async def _race(api: Api, processors: Processors, events_for: Events) -> list[str]:
    """Delivers the events for one paid Stripe session while 20 purchases run, all at once;
    returns the webhook's answers after checking the money."""
    user = await payments.paid_user(api, "10.00")
    others = [await payments.paid_user(api, "5.00") for _ in range(3)]
    top_up = await payments.started(api, user, "25.00", "stripe")
    events = events_for(processors.stripe.pay((await payments.stored(top_up)).reference or ""))
    buyers = [user, *others] * 5

    deliveries = [payments.post_stripe(api, event) for event in events]
    purchases = [api.buy(buyer, "GB", "tg") for buyer in buyers]
    interleaved = [job for pair in zip(deliveries, purchases, strict=True) for job in pair]
    results = await asyncio.gather(*interleaved)

    answers = [response.json()["status"] for response in results[0::2]]
    bought = results[1::2]
    spent = sum(
        (
            Decimal(p["activation"]["price"]["amount"])
            for p, buyer in zip(bought, buyers, strict=True)
            if p["activation"] and buyer is user
        ),
        Decimal(0),
    )
    assert Decimal(await api.balance(user)) == Decimal("35.00") - spent
    credits = await Transfer.filter(top_up_id=int(top_up["id"]), kind=TransferKind.TOP_UP)
    assert [t.amount_minor for t in credits] == [2500]
    assert Counter(answers)["credited"] == 1, answers
    return answers


async def test_r10_the_same_notification_20_times_in_parallel_credits_once(
    api: Api, processors: Processors
) -> None:
    def same_event(session: dict[str, Any]) -> list[dict[str, Any]]:
        return [processors.stripe.event("checkout.session.completed", session)] * 20

    answers = await _race(api, processors, same_event)
    assert Counter(answers) == {"credited": 1, "duplicate": 19}


async def test_r10_twenty_different_events_for_one_payment_credit_once(
    api: Api, processors: Processors
) -> None:
    def many_events(session: dict[str, Any]) -> list[dict[str, Any]]:
        kinds = ["checkout.session.completed", "checkout.session.async_payment_succeeded"]
        return [processors.stripe.event(kinds[i % 2], session) for i in range(20)]

    answers = await _race(api, processors, many_events)
    assert Counter(answers) == {"credited": 1, "unchanged": 19}
