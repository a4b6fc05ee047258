"""Routing (issue 8): the cheapest supplier with stock gives the number; "no numbers", a time-out
or an error moves on to the next; a supplier that keeps failing is paused with a visible reason;
`prices` shows the stock summed over suppliers; the buyer pays the offer's price, and the
supplier is owed what it asked once the code arrives.

Suppliers other than the demo pool are small in-test NumberSources, registered for the UPSTREAM
kind through `rt.sources`, the mechanism real protocol clients use. Each test switches its
suppliers off at the end, so that no other test routes to them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from models import (
    Activation,
    ActivationStatus,
    Country,
    PhoneNumber,
    Service,
    Supplier,
    SupplierCost,
    SupplierKind,
    SupplierStock,
)
from services import stock
from services.routing import Acquired, Ending, NumberSource, Want
from testkit import factory
from tests import supplier_helpers as sh
from tests.api import Api
from tests.operator_helpers import REVOKE_ACTIVATION
from tests.snapshot import snapshot
from tests.test_catalog import add_numbers, fictional_e164, fresh_country, fresh_service, set_price


@dataclass
class Behaviour:
    """What one test supplier does when asked for a number, and what it was told."""

    answer: str = "number"  # "number" | "none" | "error" | "hang"
    asked: int = 0
    endings: list[Ending] = field(default_factory=list)


class Double(NumberSource):
    """A supplier answering as its Behaviour says (numbers of the spare +999 code)."""

    behaviours: dict[str, Behaviour] = {}

    async def acquire(self, want: Want) -> Acquired | None:
        behaviour = self.behaviours[self.supplier.code]
        behaviour.asked += 1
        if behaviour.answer == "none":
            return None
        if behaviour.answer == "error":
            raise ValueError("<html>502 Bad Gateway</html>")
        if behaviour.answer == "hang":
            await asyncio.sleep(3600)
        return Acquired(e164=fictional_e164(), supplier_activation_id=str(behaviour.asked))

    async def release(self, conn: Any, ending: Ending) -> None:
        self.behaviours[self.supplier.code].endings.append(ending)


@dataclass
class Upstream:
    id: str
    code: str
    behaviour: Behaviour


Make = Callable[..., Any]


@pytest.fixture
async def upstreams(api: Api) -> AsyncIterator[Make]:
    """make(cost="0.05", answer="number", stock={("GB", "tg"): 5}) -> a test supplier."""
    made: list[Upstream] = []

    async def make(
        cost: str, answer: str = "number", offers: dict[tuple[str, str], int] | None = None
    ) -> Upstream:
        supplier, _ = await sh.created(
            api, kind="UPSTREAM", url="http://127.0.0.1:9/", apiKey="our-key-there"
        )
        behaviour = Double.behaviours[supplier["code"]] = Behaviour(answer)
        quotes = []
        for (country, service), available in (offers or {("GB", "tg"): 5}).items():
            quotes.append(
                stock.Quote(
                    (await Country.get(code=country)).id,
                    (await Service.get(code=service)).id,
                    available,
                    int(Decimal(cost) * 100),
                )
            )
        await stock.report(int(supplier["id"]), quotes, api.rt.clock.now())
        made.append(Upstream(supplier["id"], supplier["code"], behaviour))
        return made[-1]

    with api.rt.sources.registered(SupplierKind.UPSTREAM, Double):
        try:
            yield make
        finally:
            for supplier in made:
                await sh.switch_off(api, supplier.id)
                Double.behaviours.pop(supplier.code, None)


async def supplier_of(activation: dict[str, Any]) -> str:
    number = await PhoneNumber.get(e164=activation["phoneNumber"]).prefetch_related("supplier")
    return number.supplier.code


# -- ordering ------------------------------------------------------------------------------------
async def test_the_cheapest_supplier_with_stock_gives_the_number(
    api: Api, upstreams: Make, ledger_is_consistent: None
) -> None:
    dear = await upstreams("0.20")
    cheap = await upstreams("0.05")
    buyer = await api.funded_user()
    activation = await api.bought(buyer, "GB", "tg")
    assert await supplier_of(activation) == cheap.code
    assert (cheap.behaviour.asked, dear.behaviour.asked) == (1, 0)
    row = await Activation.get(id=int(activation["id"]))
    # The buyer pays the offer's price; the supplier's cost is recorded beside it.
    assert (activation["price"]["amount"], row.cost_minor) == ("0.48", 5)
    assert row.supplier_activation_id == "1"


async def test_at_equal_cost_the_better_success_rate_goes_first(api: Api, upstreams: Make) -> None:
    worse = await upstreams("0.05")
    better = await upstreams("0.05")
    await Supplier.filter(id=int(worse.id)).update(success_rate=0.2)
    await Supplier.filter(id=int(better.id)).update(success_rate=0.9)
    activation = await api.bought(await api.funded_user(), "GB", "tg")
    assert await supplier_of(activation) == better.code


async def test_a_cost_an_admin_sets_for_the_offer_comes_before_the_quoted_one(
    api: Api, upstreams: Make, ledger_is_consistent: None
) -> None:
    quoted_cheap = await upstreams("0.05")
    quoted_dear = await upstreams("0.10")
    assert (await sh.set_cost(api, quoted_dear.id, "0.01", "GB", "tg"))["errors"] == []
    activation = await api.bought(await api.funded_user(), "GB", "tg")
    assert await supplier_of(activation) == quoted_dear.code
    assert (await Activation.get(id=int(activation["id"]))).cost_minor == 1
    assert quoted_cheap.behaviour.asked == 0
    default = await sh.set_cost(api, quoted_cheap.id, "0.02")
    assert default["supplier"]["defaultCost"]["amount"] == "0.02"


@pytest.mark.parametrize(
    ("country", "service", "cost", "field"),
    [
        ("GB", None, "0.01", None),
        ("ZZ", "tg", "0.01", "country"),
        ("GB", "nope", "0.01", "service"),
        ("GB", "tg", "-0.01", "cost"),
        ("GB", "tg", "0.001", "cost"),
    ],
)
async def test_a_bad_cost_is_refused_and_nothing_changes(
    api: Api, upstreams: Make, country: str, service: str | None, cost: str, field: str | None
) -> None:
    supplier = await upstreams("0.05")
    before = await snapshot()
    refused = await sh.set_cost(api, supplier.id, cost, country, service)
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_INPUT", field)]
    assert await snapshot() == before
    assert not await SupplierCost.exists(supplier_id=int(supplier.id))


async def test_a_supplier_without_stock_of_the_offer_is_not_asked(
    api: Api, upstreams: Make
) -> None:
    elsewhere = await upstreams("0.01", offers={("US", "tg"): 5})
    activation = await api.bought(await api.funded_user(), "GB", "tg")
    assert (await supplier_of(activation), elsewhere.behaviour.asked) == ("demo", 0)


# -- falling through -------------------------------------------------------------------------------
async def test_no_numbers_error_and_timeout_each_move_on_to_the_next(
    api: Api, upstreams: Make, override_settings: Any, ledger_is_consistent: None
) -> None:
    override_settings(supplier_acquire_timeout_seconds=0.2)
    empty = await upstreams("0.01", "none")
    broken = await upstreams("0.02", "error")
    silent = await upstreams("0.03", "hang")
    buyer = await api.funded_user("1.00")
    activation = await api.bought(buyer, "GB", "tg")
    assert await supplier_of(activation) == "demo"  # the pool, dearest, still sold
    assert [s.behaviour.asked for s in (empty, broken, silent)] == [1, 1, 1]
    assert await api.balance(buyer) == "0.52"  # charged once, the offer's price
    # "No numbers" is an answer: its stock is gone until its next report; the others failed.
    [row] = await SupplierStock.filter(supplier_id=int(empty.id))
    assert row.available == 0
    failures = {
        s.code: s.consecutive_failures
        for s in await Supplier.filter(id__in=[int(s.id) for s in (empty, broken, silent)])
    }
    assert failures == {empty.code: 0, broken.code: 1, silent.code: 1}


async def test_when_every_supplier_fails_the_buyer_gets_no_numbers_and_nothing_changes(
    api: Api, upstreams: Make
) -> None:
    country, service = await fresh_country(), await fresh_service()
    await set_price(country, service)
    api.rt.catalog.invalidate()
    await upstreams("0.01", "error", offers={(country.code, service.code): 3})
    buyer = await api.funded_user("1.00")
    before = await snapshot(buyer)
    payload = await api.buy(buyer, country.code, service.code)
    assert [e["code"] for e in payload["errors"]] == ["NO_NUMBERS"]
    assert await snapshot(buyer) == before


async def test_routing_max_candidates_bounds_the_suppliers_asked(
    api: Api, upstreams: Make, override_settings: Any
) -> None:
    override_settings(routing_max_candidates=2)
    asked = [await upstreams(cost, "none") for cost in ("0.01", "0.02", "0.03")]
    buyer = await api.funded_user()
    before = await snapshot(buyer)
    payload = await api.buy(buyer, "GB", "tg")
    # The two cheapest said no; neither the third nor the demo pool was reached.
    assert [e["code"] for e in payload["errors"]] == ["NO_NUMBERS"]
    assert [s.behaviour.asked for s in asked] == [1, 1, 0]
    assert await snapshot(buyer) == before


async def test_a_supplier_that_keeps_failing_is_paused_with_a_reason(
    api: Api, upstreams: Make, override_settings: Any
) -> None:
    override_settings(supplier_failures_to_pause=2)
    broken = await upstreams("0.01", "error")
    buyer = await api.funded_user()
    for _ in range(3):
        assert await supplier_of(await api.bought(buyer, "GB", "tg")) == "demo"
    assert broken.behaviour.asked == 2  # not asked once paused
    shown = (await sh.listed(api))[broken.code]
    assert shown["state"] == "PAUSED"
    assert "2 failures in a row" in shown["pausedReason"]
    assert "502 Bad Gateway" in shown["pausedReason"]
    # An admin resumes it: the count starts again.
    resumed = await sh.update(api, broken.id, state="ACTIVE")
    assert (resumed["supplier"]["state"], resumed["supplier"]["pausedReason"]) == ("ACTIVE", None)
    assert (await Supplier.get(id=int(broken.id))).consecutive_failures == 0


async def test_a_buyer_who_cannot_pay_takes_no_supplier_number(api: Api, upstreams: Make) -> None:
    cheap = await upstreams("0.01")
    buyer = await api.funded_user("0.10")
    before = await snapshot(buyer)
    payload = await api.buy(buyer, "GB", "tg")
    assert [e["code"] for e in payload["errors"]] == ["INSUFFICIENT_BALANCE"]
    assert cheap.behaviour.asked == 0
    assert await snapshot(buyer) == before


# -- a remote number's life ---------------------------------------------------------------------
async def test_a_remote_number_is_settled_at_its_cost_and_its_end_is_reported(
    api: Api, upstreams: Make, ledger_is_consistent: None
) -> None:
    upstream = await upstreams("0.07")
    buyer = await api.funded_user()
    sold = await api.bought(buyer, "GB", "tg")
    cancelled = await api.bought(buyer, "GB", "tg")
    assert (await api.act(buyer, "cancelActivation", cancelled["id"]))["errors"] == []
    # Its SMS comes through its protocol (here: straight to the ingest, as a poller would).
    supplier = await Supplier.get(id=int(upstream.id))
    await factory.sms(api.rt, supplier, sold["phoneNumber"], "Telegram code: 48213")
    assert (await api.act(buyer, "finishActivation", sold["id"]))["errors"] == []
    assert (await sh.listed(api))[upstream.code]["owed"]["amount"] == "0.07"
    assert [(e.e164, e.status) for e in upstream.behaviour.endings] == [
        (cancelled["phoneNumber"], ActivationStatus.CANCELLED),
        (sold["phoneNumber"], ActivationStatus.FINISHED),
    ]
    assert upstream.behaviour.endings[1].supplier_activation_id == "1"
    # Its measured health: one of its two activations got a code.
    shown = (await sh.listed(api))[upstream.code]
    assert shown["successRate"] == 0.5
    assert shown["medianSecondsToSms"] is not None
    assert shown["lastContactAt"] is not None


async def test_a_number_revoked_after_its_code_is_still_sold_for_its_supplier(
    api: Api, upstreams: Make, ledger_is_consistent: None
) -> None:
    """An admin gives the buyer the price back (R14), but the supplier delivered the code: it
    is owed its cost and told FINISHED, never a cancel that would refund the shop."""
    upstream = await upstreams("0.07")
    buyer = await api.funded_user("5.00")
    sold = await api.bought(buyer, "GB", "tg")
    supplier = await Supplier.get(id=int(upstream.id))
    await factory.sms(api.rt, supplier, sold["phoneNumber"], "Telegram code: 48213")
    revoked = await api.gql(
        REVOKE_ACTIVATION, {"id": sold["id"], "r": "reported"}, token=await api.admin_token()
    )
    assert revoked["revokeActivation"]["errors"] == []
    assert await api.balance(buyer) == "5.00"
    shown = (await sh.listed(api))[upstream.code]
    assert (shown["owed"]["amount"], shown["successRate"]) == ("0.07", 1.0)  # it delivered
    assert [(e.e164, e.status) for e in upstream.behaviour.endings] == [
        (sold["phoneNumber"], ActivationStatus.FINISHED)
    ]
    stored = await Activation.get(id=int(sold["id"]))
    assert (stored.status, stored.refunded) == (ActivationStatus.CANCELLED, True)


# -- availability ----------------------------------------------------------------------------------
async def test_prices_show_the_stock_summed_over_suppliers(api: Api, upstreams: Make) -> None:
    country, service = await fresh_country(), await fresh_service()
    await set_price(country, service)
    await add_numbers(country, [fictional_e164(), fictional_e164()])  # the demo pool's
    offer = {(country.code, service.code): 5}
    first = await upstreams("0.01", offers=offer)
    second = await upstreams("0.01", offers={(country.code, service.code): 3})
    api.rt.catalog.invalidate()
    query = "query($c: String, $s: String) { prices(country: $c, service: $s) { available } }"
    variables = {"c": country.code, "s": service.code}
    assert (await api.gql(query, variables))["prices"] == [{"available": 10}]
    assert (await sh.listed(api))[first.code]["available"] == 5
    assert (await sh.update(api, second.id, state="PAUSED"))["errors"] == []
    assert (await api.gql(query, variables))["prices"] == [{"available": 7}]
