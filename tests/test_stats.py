"""The shop's figures (issue 12): `stats(from, to)` per country, service and supplier, and the
success rate of each offer in `prices`, against a hand count on a seeded data set.

The data set is four purchases of a fresh offer (a country and a service of their own, numbers
of a supplier of its own, so that no other test's activations fall in their rows): a code after
10 s, a code after 30 s, a cancel and one still waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from models import Country, PhoneNumber
from tests import supplier_helpers as sh
from tests.api import Api
from tests.operator_helpers import REVOKE_ACTIVATION
from tests.test_catalog import fictional_e164
from tests.test_pricing import fresh_offer

RATE = "query($c: String, $s: String) { prices(country: $c, service: $s) { successRate } }"

STATS = (
    "query($from: DateTime, $to: DateTime) { stats(from: $from, to: $to) { from to"
    " total { ...Row } byCountry { ...Row } byService { ...Row } bySupplier { ...Row }"
    " topUps { amount } } }"
    " fragment Row on StatsRow { key purchases codes refunds revenue { amount } cost { amount }"
    " margin { amount } successRate medianSecondsToCode }"
)


@dataclass(frozen=True)
class Offer:
    """A fresh offer (price 0.10, cost 0.05) whose numbers are all of a supplier of its own."""

    country: str
    service: str
    supplier: dict[str, Any]
    secret: str


async def fresh_supplier_offer(api: Api, numbers: int) -> Offer:
    country, service = await fresh_offer(price_minor=10, numbers=0)
    supplier, secret = await sh.created(api)
    for _ in range(numbers):
        await PhoneNumber.create(
            e164=fictional_e164(),
            country=await Country.get(code=country),
            supplier_id=int(supplier["id"]),
        )
    return Offer(country, service, supplier, secret)


async def code(api: Api, offer: Offer, activation: dict[str, Any]) -> None:
    # A fresh service's sender pattern is its code; the number's own supplier delivers.
    response = await api.deliver_sms(
        activation["phoneNumber"],
        "Your code: 123456",
        sender=offer.service,
        supplier=offer.supplier["code"],
        secret=offer.secret,
    )
    assert response.status_code == 200, response.text


async def offer_stats(
    api: Api, offer: Offer, start: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`stats` from `start` until now, and the offer's rows in it by country, by service and by
    supplier."""
    await sh.switch_off(api, offer.supplier["id"])
    end = api.rt.clock.now() + timedelta(seconds=1)
    data = await api.gql(
        STATS, {"from": start.isoformat(), "to": end.isoformat()}, token=await api.admin_token()
    )
    figures = data["stats"]
    keys = {"byCountry": offer.country, "byService": offer.service}
    keys["bySupplier"] = offer.supplier["code"]
    rows = [[r for r in figures[group] if r["key"] == key] for group, key in keys.items()]
    assert [len(r) for r in rows] == [1, 1, 1]
    return figures, [r[0] for r in rows]


def counts_and_money(row: dict[str, Any]) -> tuple[Any, ...]:
    """(purchases, codes, refunds, revenue, cost, margin) of a row of `stats`."""
    counts = tuple(row[k] for k in ("purchases", "codes", "refunds"))
    return counts + tuple(row[k]["amount"] for k in ("revenue", "cost", "margin"))


async def test_the_figures_of_a_period_match_a_hand_count(api: Api) -> None:
    offer = await fresh_supplier_offer(api, 4)
    country, service = offer.country, offer.service
    start = api.rt.clock.now() - timedelta(seconds=1)
    buyer = await api.funded_user("1.00")
    bought = [await api.bought(buyer, country, service) for _ in range(4)]
    api.rt.clock.advance(10)
    await code(api, offer, bought[0])
    api.rt.clock.advance(20)
    await code(api, offer, bought[1])
    assert (await api.act(buyer, "cancelActivation", bought[2]["id"]))["errors"] == []

    figures, rows = await offer_stats(api, offer, start)
    for row in rows:
        assert counts_and_money(row) == (4, 2, 1, "0.20", "0.10", "0.10")
        assert row["successRate"] == pytest.approx(2 / 3)
        # (10 + 30) / 2, give or take the requests
        assert row["medianSecondsToCode"] == pytest.approx(20, abs=1)
    # Other tests' purchases of the period count in the total too: it holds at least these.
    total = figures["total"]
    assert (total["key"], total["purchases"] >= 4, total["codes"] >= 2) == (None, True, True)

    # The offer's success rate is shown to users beside its price.
    [shown] = (await api.gql(RATE, {"c": country, "s": service}))["prices"]
    assert shown["successRate"] == pytest.approx(2 / 3)


async def test_an_activation_revoked_after_its_code_counts_its_code_and_its_cost(
    api: Api,
) -> None:
    """R14: the buyer got the price back, but the supplier delivered and is paid: a code, a
    refund, no revenue, the cost borne by the shop."""
    offer = await fresh_supplier_offer(api, 2)
    start = api.rt.clock.now() - timedelta(seconds=1)
    buyer = await api.funded_user("1.00")
    revoked, cancelled = [await api.bought(buyer, offer.country, offer.service) for _ in range(2)]
    await code(api, offer, revoked)
    admin = await api.admin_token()
    answer = await api.gql(REVOKE_ACTIVATION, {"id": revoked["id"], "r": "reported"}, token=admin)
    assert answer["revokeActivation"]["errors"] == []
    assert (await api.act(buyer, "cancelActivation", cancelled["id"]))["errors"] == []
    for row in (await offer_stats(api, offer, start))[1]:
        assert counts_and_money(row) == (2, 1, 2, "0.00", "0.05", "-0.05")
        assert row["successRate"] == pytest.approx(1 / 2)
    [shown] = (await api.gql(RATE, {"c": offer.country, "s": offer.service}))["prices"]
    assert shown["successRate"] == pytest.approx(1 / 2)


async def test_a_period_that_ends_before_it_starts_is_refused(api: Api) -> None:
    now = api.rt.clock.now()
    answer = await api.post(
        STATS,
        {"from": now.isoformat(), "to": (now - timedelta(hours=1)).isoformat()},
        token=await api.admin_token(),
    )
    assert [e["extensions"]["code"] for e in answer["errors"]] == ["INVALID_INPUT"]


async def test_an_offer_nobody_has_bought_has_no_success_rate(api: Api) -> None:
    country, service = await fresh_offer()
    [offer] = (await api.gql(RATE, {"c": country, "s": service}))["prices"]
    assert offer["successRate"] is None
