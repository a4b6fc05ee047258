"""The catalog as clients see it (countries, services, prices) and what may never be sold (R9, R11).

Catalog rows that a test needs (a fresh service, a country without numbers, a prohibited service
with a price and numbers) are created directly with the models: the public API cannot create
them, and creating them makes each test own its pool instead of sharing the demo one.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import pytest

from models import Country, NumberUse, PhoneNumber, Price, Service, Supplier
from services import policy
from suppliers import demo
from tests.api import Api, User
from tests.snapshot import snapshot

COUNTRIES = "{ countries { code name dialCode } }"
SERVICES = "{ services { code name } }"
PRICES = (
    "query($country: String, $service: String) { prices(country: $country, service: $service)"
    " { country { code name } service { code name } price { amount currency } available } }"
)


# -- catalog rows made directly in the database ----------------------------------------------
async def fresh_country(code: str | None = None) -> Country:
    """A country of the ISO user-assigned range (X?), which no real country will ever take."""
    taken = set(await Country.all().values_list("code", flat=True))
    code = code or next(f"X{c}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if f"X{c}" not in taken)
    compat_id = (await Country.all().order_by("-compat_id").first()).compat_id + 1  # type: ignore[union-attr]
    country, _ = await Country.get_or_create(
        code=code, defaults={"name": f"Testland {code}", "dial_code": "999", "compat_id": compat_id}
    )
    return country


async def fresh_service(
    *, name: str | None = None, category: str = "messaging", forbidden: bool = False
) -> Service:
    code = f"t{uuid.uuid4().hex[:10]}"
    return await Service.create(
        code=code,
        name=name or f"Test service {code}",
        category=category,
        sender_pattern=code,
        forbidden=forbidden,
    )


async def set_price(country: Country, service: Service, price_minor: int = 10) -> Price:
    return await Price.create(
        country=country, service=service, price_minor=price_minor, cost_minor=price_minor // 2
    )


async def add_numbers(country: Country, e164s: list[str]) -> list[PhoneNumber]:
    supplier = await Supplier.get(code=demo.CODE)
    return [
        await PhoneNumber.create(e164=e164, country=country, supplier=supplier) for e164 in e164s
    ]


def fictional_e164(prefix: str = "+999") -> str:
    """+999 is a spare E.164 country code: these numbers belong to nobody."""
    return f"{prefix}{secrets.randbelow(10**9):09d}"


# -- reading the public catalog ---------------------------------------------------------------
async def offers(api: Api, country: str | None = None, service: str | None = None) -> list[Any]:
    data = await api.gql(PRICES, {"country": country, "service": service})
    return data["prices"]  # type: ignore[no-any-return]


async def available(api: Api, country: str, service: str) -> int:
    [offer] = await offers(api, country, service)
    return offer["available"]  # type: ignore[no-any-return]


async def assert_refused(
    api: Api, user: User, country: str, service: str, code: str, field: str | None
) -> None:
    before = await snapshot(user)
    payload = await api.buy(user, country, service)
    assert payload["activation"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], payload
    assert await snapshot(user) == before


# -- listing ------------------------------------------------------------------------------------
async def test_countries_are_sorted_by_name(api: Api) -> None:
    countries = (await api.gql(COUNTRIES))["countries"]
    names = [c["name"] for c in countries]
    assert names == sorted(names)
    assert {"GB", "US", "RU", "KZ", "ID"} <= {c["code"] for c in countries}
    assert {"code": "GB", "name": "United Kingdom", "dialCode": "44"} in countries


async def test_only_countries_and_services_with_an_offer_are_listed(api: Api) -> None:
    """ "Countries (services) that numbers are sold for": known ones with no offer are not."""
    unsold_country, unsold_service = await fresh_country(), await fresh_service()
    countries = {c["code"] for c in (await api.gql(COUNTRIES))["countries"]}
    services = {s["code"] for s in (await api.gql(SERVICES))["services"]}
    assert unsold_country.code not in countries
    assert unsold_service.code not in services
    await set_price(unsold_country, unsold_service)
    assert unsold_country.code in {c["code"] for c in (await api.gql(COUNTRIES))["countries"]}
    assert unsold_service.code in {s["code"] for s in (await api.gql(SERVICES))["services"]}


async def test_services_are_sorted_by_name(api: Api) -> None:
    first = await fresh_service(name="Aaa first by name")  # sorts first whatever the demo holds
    await set_price(await fresh_country(), first)  # an offer, in a country of its own
    services = (await api.gql(SERVICES))["services"]
    names = [s["name"] for s in services]
    assert names == sorted(names)
    assert names[0] == "Aaa first by name"
    assert {"tg", "wa", "go", "ig", "ds"} <= {s["code"] for s in services}


async def test_offers_are_sorted_by_country_then_service(api: Api) -> None:
    listed = await offers(api)
    keys = [(o["country"]["name"], o["service"]["name"]) for o in listed]
    assert keys == sorted(keys)
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize(("country", "service"), [("GB", None), ("gb", None), (" Gb ", None)])
async def test_prices_filtered_by_country_any_case(api: Api, country: str, service: None) -> None:
    listed = await offers(api, country, service)
    assert {o["country"]["code"] for o in listed} == {"GB"}
    assert {"tg", "wa", "go"} <= {o["service"]["code"] for o in listed}


@pytest.mark.parametrize("service", ["tg", "TG", "Tg"])
async def test_prices_filtered_by_service_any_case(api: Api, service: str) -> None:
    listed = await offers(api, service=service)
    assert {o["service"]["code"] for o in listed} == {"tg"}
    assert {"GB", "US", "RU", "KZ", "ID"} <= {o["country"]["code"] for o in listed}


async def test_prices_filtered_by_country_and_service(api: Api) -> None:
    [offer] = await offers(api, "us", "WA")
    assert (offer["country"]["code"], offer["service"]["code"]) == ("US", "wa")
    assert offer["price"] == {"amount": "0.90", "currency": "USD"}  # demo: 45 cents x 2.0
    assert offer["available"] > 0


async def test_prices_for_unknown_codes_are_empty(api: Api) -> None:
    assert await offers(api, "ZZ") == []
    assert await offers(api, service="no-such-service") == []


async def test_sold_out_offer_is_listed_with_zero_available(api: Api) -> None:
    country, service = await fresh_country(), await fresh_service()
    await set_price(country, service, 123)
    [offer] = await offers(api, country.code, service.code)
    assert offer["available"] == 0
    assert offer["price"]["amount"] == "1.23"
    # Listed in the unfiltered list too, not only when asked for.
    assert any(o["service"]["code"] == service.code for o in await offers(api))


async def test_available_drops_by_one_after_a_purchase(api: Api) -> None:
    user = await api.funded_user()
    before = await available(api, "GB", "tg")
    await api.bought(user, "GB", "tg")
    assert await available(api, "GB", "tg") == before - 1


# -- R9: prohibited services ----------------------------------------------------------------
async def test_r9_qiwi_is_never_listed(api: Api) -> None:
    assert await Service.exists(code="qw")  # in the catalog, and still never on sale
    assert "qw" not in {s["code"] for s in (await api.gql(SERVICES))["services"]}
    assert await offers(api, service="qw") == []
    assert all(o["service"]["code"] != "qw" for o in await offers(api))


@pytest.mark.parametrize("service", ["qw", "QW"])
async def test_r9_qiwi_cannot_be_bought(api: Api, service: str) -> None:
    user = await api.funded_user()
    await assert_refused(api, user, "GB", service, "SERVICE_UNAVAILABLE", "service")


@pytest.mark.parametrize(
    ("name", "category", "forbidden"),
    [
        ("Test Bank", "banking", False),
        ("Test Bank", "Banking", True),
        ("WebMoney", "messaging", False),
        ("webmoney wallet", "social", True),
    ],
)
async def test_r9_banking_and_webmoney_are_never_listed_nor_sold(
    api: Api, name: str, category: str, forbidden: bool
) -> None:
    # A price and a pool of numbers are there: only the rule stands between them and a buyer.
    service = await fresh_service(name=name, category=category, forbidden=forbidden)
    await set_price(await Country.get(code="GB"), service)
    assert not policy.service_on_sale(service)
    assert service.code not in {s["code"] for s in (await api.gql(SERVICES))["services"]}
    assert await offers(api, service=service.code) == []
    assert all(o["service"]["code"] != service.code for o in await offers(api, "GB"))
    user = await api.funded_user()
    await assert_refused(api, user, "GB", service.code, "SERVICE_UNAVAILABLE", "service")
    assert not await NumberUse.exists(service_id=service.id)


# -- R11: sanctioned countries and Crimean numbers -----------------------------------------
async def test_r11_iran_is_never_listed(api: Api) -> None:
    assert await Price.exists(country__code="IR")  # the demo prices it, and it is still not sold
    assert "IR" not in {c["code"] for c in (await api.gql(COUNTRIES))["countries"]}
    assert await offers(api, "IR") == []
    assert all(o["country"]["code"] != "IR" for o in await offers(api))


@pytest.mark.parametrize("country", ["IR", "ir"])
async def test_r11_iran_cannot_be_bought(api: Api, country: str) -> None:
    user = await api.funded_user()
    await assert_refused(api, user, country, "tg", "COUNTRY_UNAVAILABLE", "country")


async def test_r11_sanctioned_country_with_price_and_numbers_is_never_sold(api: Api) -> None:
    country = await Country.get_or_none(code="SY") or await fresh_country("SY")
    await Price.get_or_create(
        country=country,
        service=await Service.get(code="tg"),
        defaults={"price_minor": 10, "cost_minor": 5},
    )
    await add_numbers(country, [fictional_e164()])
    assert "SY" not in {c["code"] for c in (await api.gql(COUNTRIES))["countries"]}
    assert await offers(api, "SY") == []
    user = await api.funded_user()
    await assert_refused(api, user, "SY", "tg", "COUNTRY_UNAVAILABLE", "country")


async def crimean_test_pool(ru: Country) -> tuple[Service, list[str], list[str]]:
    """A fresh service priced for RU whose only free numbers are a few normal ones and the
    Crimean ones: every demo RU number but the demo's Crimean +7978 is marked used for it."""
    service = await fresh_service()
    await set_price(ru, service, 7)
    demo_crimean = "+79785550000"
    demo_numbers = await PhoneNumber.filter(country=ru).exclude(e164=demo_crimean)
    await NumberUse.bulk_create([NumberUse(number=n, service=service) for n in demo_numbers])
    normal = [f"+7901{secrets.randbelow(10**7):07d}" for _ in range(3)]
    crimean = [demo_crimean, f"+38065{secrets.randbelow(10**7):07d}"]
    await add_numbers(ru, [*normal, crimean[1]])
    assert await PhoneNumber.exists(e164=demo_crimean, country=ru)
    return service, normal, crimean


async def test_r11_crimean_numbers_are_never_sold(api: Api) -> None:
    ru = await Country.get(code="RU")
    service, normal, crimean = await crimean_test_pool(ru)
    assert await available(api, "RU", service.code) == len(normal)  # Crimean ones not counted
    user = await api.funded_user()
    sold = [(await api.bought(user, "RU", service.code))["phoneNumber"] for _ in normal]
    assert sorted(sold) == sorted(normal)
    # Only the Crimean numbers are left: they are not offered, and not sold.
    assert await available(api, "RU", service.code) == 0
    await assert_refused(api, user, "RU", service.code, "NO_NUMBERS", None)
    assert not await NumberUse.exists(service_id=service.id, number__e164__in=crimean)
    assert all(not policy.number_on_sale(e164) for e164 in crimean)


# -- refusals of unknown or unpriced offers ----------------------------------------------------
@pytest.mark.parametrize(
    ("country", "service", "code", "field"),
    [
        ("ZZ", "tg", "COUNTRY_UNAVAILABLE", "country"),
        ("GBR", "tg", "COUNTRY_UNAVAILABLE", "country"),
        ("", "tg", "COUNTRY_UNAVAILABLE", "country"),
        ("GB", "no-such-service", "SERVICE_UNAVAILABLE", "service"),
        ("GB", "", "SERVICE_UNAVAILABLE", "service"),
    ],
)
async def test_unknown_codes_are_refused(
    api: Api, country: str, service: str, code: str, field: str
) -> None:
    user = await api.funded_user()
    await assert_refused(api, user, country, service, code, field)


async def test_offer_without_price_is_refused_no_numbers(api: Api) -> None:
    # GB has a pool of free numbers; the service simply has no price there.
    service = await fresh_service()
    assert await offers(api, "GB", service.code) == []
    user = await api.funded_user()
    await assert_refused(api, user, "GB", service.code, "NO_NUMBERS", None)


async def test_known_country_without_any_price_is_refused_no_numbers(api: Api) -> None:
    assert not await Price.exists(country__code="UA")  # demo: known, on sale, never priced
    user = await api.funded_user()
    await assert_refused(api, user, "UA", "tg", "NO_NUMBERS", None)
