"""The sms-activate-compatible API over raw HTTP: every answer pinned byte for byte, through a
whole activation (R1, R3) and for the catalog actions.

Answers are always HTTP 200 with `text/plain; charset=utf-8` (tokens) or `application/json`;
the business rules are the services', these tests check that the protocol layer maps them
faithfully (contract/compat.md, issue 4).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest

from tests.api import Api
from tests.compat_helpers import (
    TG_TEXT,
    ask,
    bought,
    compat,
    deliver,
    graphql_offers,
    json_text,
    new_bot,
    pinned,
    protocol_time,
    text,
)

# These tests send dozens of requests a second with one key; the per-key limit has a test of
# its own, which sets it low again.
pytestmark = pytest.mark.usefixtures("many_requests_per_key")


# -- answer formats, byte for byte ----------------------------------------------------------
async def test_balance_is_access_balance_with_two_decimals(api: Api) -> None:
    bot = await new_bot(api, "10.00")
    assert await ask(api, bot, "getBalance") == "ACCESS_BALANCE:10.00"
    assert await ask(api, bot, "getBalanceAndCashBack") == "ACCESS_BALANCE:10.00"
    empty = await new_bot(api, None)
    assert await ask(api, empty, "getBalance") == "ACCESS_BALANCE:0.00"


async def test_r1_r3_activation_answers_through_a_whole_flow(
    api: Api, ledger_is_consistent: None
) -> None:
    bot = await new_bot(api, "10.00")
    activation_id, digits = await bought(api, bot, "16", "tg")
    seen = await api.activation(bot.user, str(activation_id))
    assert seen is not None  # the same id in GraphQL
    assert seen["phoneNumber"] == f"+{digits}"
    assert digits.startswith("44")
    price = seen["price"]["amount"]
    left = Decimal("10.00") - Decimal(price)
    assert await ask(api, bot, "getBalance") == f"ACCESS_BALANCE:{left}"
    aid = str(activation_id)

    assert await ask(api, bot, "getStatus", id=aid) == "STATUS_WAIT_CODE"
    assert await ask(api, bot, "getFullSms", id=aid) == "STATUS_WAIT_CODE"
    assert json_text(await compat(api, bot.key, "getStatusV2", id=aid)) == (
        '{"verificationType":0,"sms":null,"call":null}'
    )
    assert await ask(api, bot, "setStatus", id=aid, status="1") == "ACCESS_READY"
    assert json_text(await compat(api, bot.key, "getActiveActivations")) == pinned(
        '{"status":"success","activeActivations":[{"activationId":$id,"serviceCode":"tg",'
        '"phoneNumber":"$phone","activationCost":$cost,"activationStatus":"STATUS_WAIT_CODE",'
        '"smsCode":null,"smsText":null,"activationTime":"$time","countryCode":"16",'
        '"canGetAnotherSms":true}]}',
        id=aid,
        phone=digits,
        cost=price,
        time=protocol_time(seen["createdAt"]),
    )

    await deliver(api, digits, "48213")
    first_text = TG_TEXT.format(code="48213")
    assert await ask(api, bot, "getStatus", id=aid) == "STATUS_OK:48213"
    assert await ask(api, bot, "getFullSms", id=aid) == f"FULL_SMS:{first_text}"
    [message] = (await api.activation(bot.user, aid))["messages"]  # type: ignore[index]
    v2 = pinned(
        '{"verificationType":0,"sms":{"dateTime":"$time","code":"48213","text":"$text"},'
        '"call":null}',
        time=protocol_time(message["receivedAt"]),
        text=first_text,
    )
    assert json_text(await compat(api, bot.key, "getStatusV2", id=aid)) == v2

    # R3: another SMS: STATUS_WAIT_RETRY with the last code until the next one arrives.
    assert await ask(api, bot, "setStatus", id=aid, status="3") == "ACCESS_RETRY_GET"
    assert await ask(api, bot, "getStatus", id=aid) == "STATUS_WAIT_RETRY:48213"
    assert json_text(await compat(api, bot.key, "getStatusV2", id=aid)) == v2
    active = json.loads(json_text(await compat(api, bot.key, "getActiveActivations")))
    assert active["activeActivations"][0]["activationStatus"] == "STATUS_WAIT_RETRY"
    assert active["activeActivations"][0]["smsCode"] == "48213"
    assert active["activeActivations"][0]["smsText"] == first_text
    await deliver(api, digits, "90417")
    assert await ask(api, bot, "getStatus", id=aid) == "STATUS_OK:90417"
    assert await ask(api, bot, "getFullSms", id=aid) == f"FULL_SMS:{TG_TEXT.format(code='90417')}"

    assert await ask(api, bot, "setStatus", id=aid, status="6") == "ACCESS_ACTIVATION"
    assert await ask(api, bot, "getStatus", id=aid) == "STATUS_OK:90417"
    assert (await api.activation(bot.user, aid))["status"] == "FINISHED"  # type: ignore[index]
    assert await ask(api, bot, "getActiveActivations") == "NO_ACTIVATIONS"
    assert await ask(api, bot, "getBalance") == f"ACCESS_BALANCE:{await api.balance(bot.user)}"


async def test_get_number_v2_is_the_documented_json(api: Api) -> None:
    bot = await new_bot(api, "10.00")
    response = await compat(api, bot.key, "getNumberV2", service="wa", country="187")
    answer = json.loads(json_text(response))
    seen = await api.activation(bot.user, str(answer["activationId"]))
    assert seen is not None
    assert json_text(response) == pinned(
        '{"activationId":$id,"phoneNumber":"$phone","activationCost":$cost,"currency":840,'
        '"countryCode":"187","canGetAnotherSms":true,"activationTime":"$time",'
        '"activationOperator":"any"}',
        id=answer["activationId"],
        phone=seen["phoneNumber"][1:],
        cost=seen["price"]["amount"],
        time=protocol_time(seen["createdAt"]),
    )
    assert seen["country"]["code"] == "US"
    assert seen["service"]["code"] == "wa"
    assert seen["price"]["amount"].endswith("0")  # 0.90: the JSON keeps both decimals


async def test_get_prices_is_nested_json_with_two_decimal_costs(api: Api) -> None:
    bot = await new_bot(api)
    [gb] = await graphql_offers(api, "GB", "tg")
    assert json_text(await compat(api, bot.key, "getPrices", country="16", service="tg")) == (
        pinned(
            '{"16":{"tg":{"cost":$cost,"count":$count}}}',
            cost=gb["price"]["amount"],
            count=gb["available"],
        )
    )
    everywhere = json.loads(json_text(await compat(api, bot.key, "getPrices", service="tg")))
    assert everywhere["16"] == {
        "tg": {"cost": float(gb["price"]["amount"]), "count": gb["available"]}
    }
    assert set(everywhere) >= {"0", "2", "6", "16", "187"}  # RU KZ ID GB US pools
    assert "57" not in everywhere  # R11: Iran is priced in the demo, and never offered
    us = await compat(api, bot.key, "getPrices", country="187", service="tg")
    assert re.search(r'"cost":\d+\.\d\d,', json_text(us))  # 0.60, not 0.6
    by_country = json.loads(json_text(await compat(api, bot.key, "getPrices", country="16")))
    assert set(by_country) == {"16"}
    assert set(by_country["16"]) == {o["service"]["code"] for o in await graphql_offers(api, "GB")}


async def test_catalog_actions_are_the_documented_json(api: Api) -> None:
    bot = await new_bot(api)
    gb = sorted(await graphql_offers(api, "GB"), key=lambda o: o["service"]["name"])
    services = ",".join(
        pinned(
            '{"code":"$code","name":"$name"}', code=o["service"]["code"], name=o["service"]["name"]
        )
        for o in gb
    )
    assert json_text(await compat(api, bot.key, "getServicesList", country="16")) == (
        pinned('{"status":"success","services":[$services]}', services=services)
    )
    counts = ",".join(
        pinned('"${code}_0":"$count"', code=o["service"]["code"], count=o["available"]) for o in gb
    )
    assert json_text(await compat(api, bot.key, "getNumbersStatus", country="16")) == (
        pinned("{$counts}", counts=counts)
    )
    assert json_text(await compat(api, bot.key, "getOperators", country="16")) == (
        '{"status":"success","countryOperators":{"16":["any"]}}'
    )
    assert json_text(await compat(api, bot.key, "getOperators", country="57")) == (
        '{"status":"success","countryOperators":{}}'  # R11
    )
    assert json_text(await compat(api, bot.key, "getServicesList", country="43")) == (
        '{"status":"success","services":[]}'  # Germany: known, nothing priced
    )
    listed = json.loads(json_text(await compat(api, bot.key, "getServicesList")))["services"]
    assert {"code": "qw", "name": "Qiwi"} not in listed  # R9
    assert {"code": "tg", "name": "Telegram"} in listed


async def test_catalog_actions_refuse_bad_filters(api: Api) -> None:
    bot = await new_bot(api)
    for action in ("getPrices", "getNumbersStatus", "getServicesList", "getOperators"):
        for country in ("abc", "-1", "999", "1.0", "1" * 40):
            answer = await compat(api, bot.key, action, country=country)
            assert text(answer) == "WRONG_COUNTRY_ID", (action, country)
        # An empty country counts as absent: the unfiltered answer.
        assert json_text(await compat(api, bot.key, action, country="")) == json_text(
            await compat(api, bot.key, action)
        )
    assert text(await compat(api, bot.key, "getPrices", service="nosuch")) == "BAD_SERVICE"


async def test_get_countries_lists_countries_on_sale_by_protocol_id(api: Api) -> None:
    bot = await new_bot(api)
    body = json_text(await compat(api, bot.key, "getCountries"))
    # Russian names as PHP's json_encode writes them: ASCII with \u escapes.
    assert (
        pinned(
            '"16":{"id":16,"eng":"United Kingdom","rus":$rus,"visible":1,"retry":1}',
            rus=json.dumps("Великобритания"),
        )
        in body
    )
    assert (
        pinned(
            '"187":{"id":187,"eng":"United States","rus":$rus,"visible":1,"retry":1}',
            rus=json.dumps("США"),
        )
        in body
    )
    countries = json.loads(body)
    assert "57" not in countries  # R11: Iran is known and never on sale
    assert "12" not in countries  # an alias, not a country of its own
    assert [int(k) for k in countries] == sorted(int(k) for k in countries)
    assert countries["0"]["rus"] == "Россия"


async def test_protocol_country_12_is_an_alias_of_usa_187(api: Api) -> None:
    bot = await new_bot(api)
    activation_id, digits = await bought(api, bot, "12", "tg")
    seen = await api.activation(bot.user, str(activation_id))
    assert seen is not None
    assert seen["country"]["code"] == "US"
    assert digits.startswith("1")
    [us] = await graphql_offers(api, "US", "tg")
    # Keyed by the id asked for, so that a bot reading answer["12"] finds it.
    assert json_text(await compat(api, bot.key, "getPrices", country="12", service="tg")) == (
        pinned(
            '{"12":{"tg":{"cost":$cost,"count":$count}}}',
            cost=us["price"]["amount"],
            count=us["available"],
        )
    )
