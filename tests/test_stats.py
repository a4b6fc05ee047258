"""The shop's figures (issue 12): `stats(from, to)` per country, service and supplier, and the
success rate of each offer in `prices`, against a hand count on a seeded data set.

The data set is four purchases of a fresh offer (a country and a service of their own, numbers
of a supplier of its own, so that no other test's activations fall in their rows): a code after
10 s, a code after 30 s, a cancel and one still waiting.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from models import Country, PhoneNumber
from tests import supplier_helpers as sh
from tests.api import Api
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


async def test_the_figures_of_a_period_match_a_hand_count(api: Api) -> None:
    country, service = await fresh_offer(price_minor=10, numbers=0)  # price 0.10, cost 0.05
    supplier, secret = await sh.created(api)
    for _ in range(4):
        await PhoneNumber.create(
            e164=fictional_e164(),
            country=await Country.get(code=country),
            supplier_id=int(supplier["id"]),
        )
    start = api.rt.clock.now() - timedelta(seconds=1)
    buyer = await api.funded_user("1.00")
    bought = [await api.bought(buyer, country, service) for _ in range(4)]

    async def code(activation: dict[str, str]) -> None:
        # A fresh service's sender pattern is its code; the number's own supplier delivers.
        response = await api.deliver_sms(
            activation["phoneNumber"],
            "Your code: 123456",
            sender=service,
            supplier=supplier["code"],
            secret=secret,
        )
        assert response.status_code == 200, response.text

    api.rt.clock.advance(10)
    await code(bought[0])
    api.rt.clock.advance(20)
    await code(bought[1])
    assert (await api.act(buyer, "cancelActivation", bought[2]["id"]))["errors"] == []
    end = api.rt.clock.now() + timedelta(seconds=1)
    await sh.switch_off(api, supplier["id"])

    data = await api.gql(
        STATS, {"from": start.isoformat(), "to": end.isoformat()}, token=await api.admin_token()
    )
    figures = data["stats"]
    [by_country] = [r for r in figures["byCountry"] if r["key"] == country]
    [by_service] = [r for r in figures["byService"] if r["key"] == service]
    [by_supplier] = [r for r in figures["bySupplier"] if r["key"] == supplier["code"]]
    for row in (by_country, by_service, by_supplier):
        median = row.pop("medianSecondsToCode")
        assert row == {
            "key": row["key"],
            "purchases": 4,
            "codes": 2,
            "refunds": 1,
            "revenue": {"amount": "0.20"},
            "cost": {"amount": "0.10"},
            "margin": {"amount": "0.10"},
            "successRate": pytest.approx(2 / 3),
        }
        assert median == pytest.approx(20, abs=1)  # (10 + 30) / 2, give or take the requests
    # Other tests' purchases of the period count in the total too: it holds at least these.
    total = figures["total"]
    assert (total["key"], total["purchases"] >= 4, total["codes"] >= 2) == (None, True, True)

    # The offer's success rate is shown to users beside its price.
    [offer] = (await api.gql(RATE, {"c": country, "s": service}))["prices"]
    assert offer["successRate"] == pytest.approx(2 / 3)


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
