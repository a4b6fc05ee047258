"""Pricing (issue 12): markup rules turn supplier costs into offer prices, previewed before they
are saved, never below cost; admins switch countries and services on and off for sale; every
operation is an admin's (FORBIDDEN to others, nothing changed).

Rules and switches are scoped to fresh countries and services, so that no other test's prices
move.
"""

from __future__ import annotations

from typing import Any

import pytest

from models import Activation, PriceRule
from tests.api import Api, User
from tests.snapshot import snapshot
from tests.test_catalog import (
    add_numbers,
    fictional_e164,
    fresh_country,
    fresh_service,
    offers,
    set_price,
)

RULE_FIELDS = "country service supplierId markupPercent minMargin { amount }"
RULE = f"rule {{ {RULE_FIELDS} }}"
SET_RULE = (
    "mutation($input: PriceRuleInput!) { setPriceRule(input: $input) {"
    f" {RULE} errors {{ code field }} }} }}"
)
PREVIEW = (
    "query($input: PriceRuleInput!) { priceRulePreview(input: $input) {"
    " country { code } service { code } current { amount } proposed { amount } } }"
)
SWITCH = (
    "mutation($on: Boolean!, $country: String, $service: String) {"
    " setOnSale(onSale: $on, country: $country, service: $service) {"
    " country { code } service { code } onSale errors { code field } } }"
)


async def fresh_offer(price_minor: int = 10, numbers: int = 3) -> tuple[str, str]:
    """A country and service of their own, list price `price_minor`, reference cost half of it,
    with demo numbers."""
    country, service = await fresh_country(), await fresh_service()
    await set_price(country, service, price_minor)
    await add_numbers(country, [fictional_e164() for _ in range(numbers)])
    return country.code, service.code


async def set_rule(api: Api, token: str | None = None, **rule: Any) -> dict[str, Any]:
    data = await api.gql(SET_RULE, {"input": rule}, token=token or await api.admin_token())
    return data["setPriceRule"]  # type: ignore[no-any-return]


async def price_of(api: Api, country: str, service: str) -> str:
    [offer] = await offers(api, country, service)
    return offer["price"]["amount"]  # type: ignore[no-any-return]


async def test_a_rule_prices_the_offer_from_its_cost_and_the_buyer_pays_it(
    api: Api, ledger_is_consistent: None
) -> None:
    country, service = await fresh_offer(price_minor=10)  # cost 0.05
    assert await price_of(api, country, service) == "0.10"  # no rule: the list price
    rule = {"country": country, "markupPercent": "35", "minMargin": "0.10"}
    saved = await set_rule(api, **rule)
    assert saved["errors"] == []
    assert saved["rule"] == {
        "country": country,
        "service": None,
        "supplierId": None,
        "markupPercent": "35.00",
        "minMargin": {"amount": "0.10"},
    }
    assert await price_of(api, country, service) == "0.15"  # 0.05 + max(35 %, 0.10)
    buyer = await api.funded_user("1.00")
    activation = await api.bought(buyer, country, service)
    row = await Activation.get(id=int(activation["id"]))
    assert (activation["price"]["amount"], row.price_minor, row.cost_minor) == ("0.15", 15, 5)
    assert await api.balance(buyer) == "0.85"


async def test_the_most_specific_rule_applies_and_rounds_half_up_to_the_cent(api: Api) -> None:
    country, service = await fresh_offer(price_minor=10)  # cost 0.05
    assert (await set_rule(api, country=country, markupPercent="100", minMargin="0.50"))[
        "errors"
    ] == []
    assert await price_of(api, country, service) == "0.55"
    # 35 % of 0.05 is 0.0175: 0.02, half up; the service rule wins over the country rule.
    assert (
        await set_rule(api, country=country, service=service, markupPercent="35", minMargin="0")
    )["errors"] == []
    assert await price_of(api, country, service) == "0.07"
    listed = await api.gql(f"{{ priceRules {{ {RULE_FIELDS} }} }}", token=await api.admin_token())
    mine = [r for r in listed["priceRules"] if r["country"] == country]
    assert [(r["service"], r["markupPercent"], r["minMargin"]["amount"]) for r in mine] == [
        (None, "100.00", "0.50"),
        (service, "35.00", "0.00"),
    ]


async def test_the_preview_shows_prices_before_and_after_and_saves_nothing(api: Api) -> None:
    country, service = await fresh_offer(price_minor=10)
    before = await snapshot()
    rules = await PriceRule.all().count()
    data = await api.gql(
        PREVIEW,
        {"input": {"country": country, "markupPercent": "200", "minMargin": "0"}},
        token=await api.admin_token(),
    )
    assert data["priceRulePreview"] == [
        {
            "country": {"code": country},
            "service": {"code": service},
            "current": {"amount": "0.10"},
            "proposed": {"amount": "0.15"},
        }
    ]
    assert (await snapshot(), await PriceRule.all().count()) == (before, rules)
    assert await price_of(api, country, service) == "0.10"


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"markupPercent": "-10", "minMargin": "0"}, "markupPercent"),
        ({"markupPercent": "-10", "minMargin": "-0.01"}, "minMargin"),
        ({"markupPercent": "1.234", "minMargin": "0"}, "markupPercent"),
        ({"markupPercent": "10", "minMargin": "0.001"}, "minMargin"),
        ({"country": "ZZ", "markupPercent": "10", "minMargin": "0"}, "country"),
    ],
)
async def test_a_rule_that_would_price_below_cost_or_is_malformed_is_refused(
    api: Api, rule: dict[str, Any], field: str
) -> None:
    country, service = await fresh_offer()
    before = (await snapshot(), await PriceRule.all().count())
    refused = await set_rule(api, **({"country": country} | rule))
    assert refused["rule"] is None
    [(code, given_field)] = [(e["code"], e["field"]) for e in refused["errors"]]
    assert given_field == field
    assert code == ("NOT_FOUND" if field == "country" else "INVALID_INPUT")
    assert (await snapshot(), await PriceRule.all().count()) == before
    assert await price_of(api, country, service) == "0.10"


async def test_a_supplier_whose_cost_the_price_does_not_cover_is_not_asked(
    api: Api, ledger_is_consistent: None
) -> None:
    country, service = await fresh_offer(price_minor=10, numbers=1)
    # The demo supplier's cost of this offer is set above the list price: selling would lose
    # money, so nobody is asked and the buyer is told there are no numbers.
    demo_id = (await api.gql("{ suppliers { id code } }", token=await api.admin_token()))[
        "suppliers"
    ]
    [demo] = [s["id"] for s in demo_id if s["code"] == "demo"]
    cost = await api.gql(
        "mutation($s: ID!, $c: String, $v: String) { setSupplierCost(supplierId: $s,"
        ' country: $c, service: $v, cost: "0.20") { errors { code } } }',
        {"s": demo, "c": country, "v": service},
        token=await api.admin_token(),
    )
    assert cost["setSupplierCost"]["errors"] == []
    buyer = await api.funded_user("1.00")
    before = await snapshot(buyer)
    refused = await api.buy(buyer, country, service)
    assert [e["code"] for e in refused["errors"]] == ["NO_NUMBERS"]
    assert await snapshot(buyer) == before
    # A rule prices it from that cost: then it is sold, at cost plus the margin.
    assert (await set_rule(api, country=country, markupPercent="10", minMargin="0"))["errors"] == []
    activation = await api.bought(buyer, country, service)
    row = await Activation.get(id=int(activation["id"]))
    assert (row.price_minor, row.cost_minor) == (22, 20)


async def test_admins_switch_countries_and_services_off_and_on_for_sale(api: Api) -> None:
    country, service = await fresh_offer()
    admin = await api.admin_token()
    buyer = await api.funded_user("1.00")
    off = await api.gql(SWITCH, {"on": False, "country": country}, token=admin)
    assert off["setOnSale"] == {
        "country": {"code": country},
        "service": None,
        "onSale": False,
        "errors": [],
    }
    assert await offers(api, country, service) == []
    before = await snapshot(buyer)
    refused = await api.buy(buyer, country, service)
    assert [e["code"] for e in refused["errors"]] == ["COUNTRY_UNAVAILABLE"]
    assert await snapshot(buyer) == before
    await api.gql(SWITCH, {"on": True, "country": country}, token=admin)
    await api.gql(SWITCH, {"on": False, "service": service}, token=admin)
    assert await offers(api, country, service) == []
    refused = await api.buy(buyer, country, service)
    assert [e["code"] for e in refused["errors"]] == ["SERVICE_UNAVAILABLE"]
    await api.gql(SWITCH, {"on": True, "service": service}, token=admin)
    assert await price_of(api, country, service) == "0.10"


OPERATIONS = [
    (SET_RULE, {"input": {"markupPercent": "0", "minMargin": "0"}}, "setPriceRule"),
    (SWITCH, {"on": False, "country": "GB"}, "setOnSale"),
    (PREVIEW, {"input": {"markupPercent": "0", "minMargin": "0"}}, None),
    ("{ priceRules { id } }", {}, None),
    ("{ stats { total { purchases } } }", {}, None),
]


@pytest.mark.parametrize(("operation", "variables", "mutation"), OPERATIONS)
async def test_a_user_who_is_not_an_admin_is_refused_and_nothing_changes(
    api: Api, operation: str, variables: dict[str, Any], mutation: str | None
) -> None:
    user: User = await api.funded_user("1.00")
    before = (await snapshot(user), await PriceRule.all().count(), await offers(api))
    answer = await api.post(operation, variables, token=user.token)
    if mutation is None:
        assert [e["extensions"]["code"] for e in answer["errors"]] == ["FORBIDDEN"]
    else:
        assert [e["code"] for e in answer["data"][mutation]["errors"]] == ["FORBIDDEN"]
    assert (await snapshot(user), await PriceRule.all().count(), await offers(api)) == before
