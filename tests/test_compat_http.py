"""The sms-activate-compatible API over raw HTTP: every answer pinned byte for byte, every bad
input refused with the protocol's token and nothing changed (contract/compat.md, issue 4).

Answers are always HTTP 200 with `text/plain; charset=utf-8` (tokens) or `application/json`.
The business rules are the services' (R1, R3, R4, R5, R9, R11, R12); these tests check that the
protocol layer maps them faithfully and that it never leaks a traceback or an HTML page.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from string import Template
from typing import Any

import httpx
import pytest

import services.activations
import services.ledger
from models import Activation, User
from services import ledger
from tests.api import Api
from tests.api import User as ApiUser

HANDLER = "/stubs/handler_api.php"
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"
MISSING_ID = str(2**31 - 1)  # a valid id that no activation reaches in a test run
POLL_TIMEOUT_SECONDS = 10.0  # the sweeper runs every 0.1 s in tests
BANNED = re.compile(r"^BANNED:(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)$")
TG_TEXT = "Telegram code: {code}. Do not give this code to anyone"


# -- helpers --------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def many_requests_per_key(override_settings: Any) -> None:
    """These tests send dozens of requests a second with one key; the per-key limit has a test
    of its own (`test_rate_limit_per_api_key_...`), which sets it low again."""
    override_settings(api_requests_per_second=10_000)


@dataclass(frozen=True)
class Bot:
    """A user and the API key its bot uses."""

    user: ApiUser
    key: str


async def create_api_key(api: Api, user: ApiUser, name: str = "bot") -> str:
    data = await api.gql(
        "mutation($n: String!) { createApiKey(name: $n) { key errors { code } } }",
        {"n": name},
        token=user.token,
    )
    assert data["createApiKey"]["errors"] == []
    return data["createApiKey"]["key"]  # type: ignore[no-any-return]


async def new_bot(api: Api, amount: str | None = "10.00") -> Bot:
    user = await api.funded_user(amount) if amount else await api.register()
    return Bot(user, await create_api_key(api, user))


async def compat(
    api: Api,
    key: str | None,
    action: str | None,
    *,
    method: str = "GET",
    form: dict[str, str] | None = None,
    **params: str,
) -> httpx.Response:
    query = {k: v for k, v in {"api_key": key, "action": action, **params}.items() if v is not None}
    if method == "GET":
        return await api.client.get(HANDLER, params=query)
    return await api.client.post(HANDLER, params=query, data=form)


def text(response: httpx.Response) -> str:
    """The body of a plain-text answer, after checking status and content type."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == TEXT, response.headers
    return response.text


def json_text(response: httpx.Response) -> str:
    """The raw body of a JSON answer (compared byte for byte), after the same checks."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == JSON, response.headers
    assert response.content.isascii()
    return response.text


async def ask(api: Api, bot: Bot, action: str, **params: str) -> str:
    return text(await compat(api, bot.key, action, **params))


async def state(user: ApiUser) -> tuple[Any, ...]:
    """What a refused request must leave as it was: balance, activations, cool-down."""
    rows = (
        await Activation.filter(user_id=user.id)
        .order_by("id")
        .values_list("id", "status", "refunded", "code", "another_sms_requested_at", "ended_at")
    )
    stored = await User.get(id=user.id)
    return await ledger.balance_minor(user.id), tuple(rows), stored.cooldown_until


def pinned(template: str, **values: object) -> str:
    """An expected answer: `template` with `$name` placeholders filled in."""
    return Template(template).substitute(values)


def banned_until(answer: str) -> datetime:
    match = BANNED.match(answer)
    assert match, answer
    return datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def protocol_time(iso: str) -> str:
    return f"{datetime.fromisoformat(iso).astimezone(UTC):%Y-%m-%d %H:%M:%S}"


async def bought(api: Api, bot: Bot, country: str = "16", service: str = "tg") -> tuple[int, str]:
    """Buys through the compatible API: (activation id, phone digits)."""
    answer = await ask(api, bot, "getNumber", service=service, country=country)
    match = re.fullmatch(r"ACCESS_NUMBER:(\d+):(\d+)", answer)
    assert match, answer
    return int(match[1]), match[2]


async def deliver(api: Api, digits: str, code: str) -> None:
    response = await api.deliver_sms(f"+{digits}", TG_TEXT.format(code=code))
    assert response.json() == {"status": "delivered"}


async def graphql_offers(api: Api, country: str | None = None, service: str | None = None) -> Any:
    data = await api.gql(
        "query($c: String, $s: String) { prices(country: $c, service: $s)"
        " { country { code } service { code name } price { amount } available } }",
        {"c": country, "s": service},
    )
    return data["prices"]


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


# -- transport ------------------------------------------------------------------------------
async def test_get_post_query_and_form_body_answer_alike_and_extra_params_are_ignored(
    api: Api,
) -> None:
    bot = await new_bot(api, "3.00")
    expected = "ACCESS_BALANCE:3.00"
    auth = {"api_key": bot.key, "action": "getBalance"}
    extra = {"json": "1", "ref": "someone", "freePrice": "true", "lang": "en"}
    answers = [
        await compat(api, bot.key, "getBalance"),
        await compat(api, bot.key, "getBalance", **extra),
        await compat(api, bot.key, "getBalance", method="POST"),  # query only, empty body
        await compat(api, None, None, method="POST", form=auth),
        await compat(api, None, None, method="POST", form={**auth, **extra}),
        await compat(api, bot.key, None, method="POST", form={"action": "getBalance"}),
        # The body wins over the query string, as PHP's $_REQUEST has it.
        await compat(api, "srk_wrong", "getNumber", method="POST", form=auth),
    ]
    for response in answers:
        assert text(response) == expected
    assert (await state(bot.user))[1] == ()  # the overridden getNumber bought nothing


async def test_form_body_buys_like_the_query_string(api: Api) -> None:
    bot = await new_bot(api)
    form = {"api_key": bot.key, "action": "getNumber", "service": "tg", "country": "16"}
    answer = text(await compat(api, None, None, method="POST", form=form))
    assert re.fullmatch(r"ACCESS_NUMBER:\d+:44\d+", answer)
    assert len((await state(bot.user))[1]) == 1


async def test_oversized_form_body_is_refused_and_changes_nothing(api: Api) -> None:
    bot = await new_bot(api)
    before = await state(bot.user)
    form = {"service": "tg", "country": "16", "padding": "x" * 20_000}
    response = await compat(api, bot.key, "getNumber", method="POST", form=form)
    assert text(response) == "ERROR_SQL"
    assert await state(bot.user) == before


# -- authentication and actions -------------------------------------------------------------
async def test_r13_only_a_live_api_key_authenticates(api: Api) -> None:
    bot = await new_bot(api)
    revoked = await create_api_key(api, bot.user, "old")
    data = await api.gql("{ credentials { id kind name } }", token=bot.user.token)
    [old_id] = [c["id"] for c in data["credentials"] if c["name"] == "old"]
    revoke = await api.gql(
        "mutation($id: ID!) { revokeCredential(id: $id) { revoked errors { code } } }",
        {"id": old_id},
        token=bot.user.token,
    )
    assert revoke["revokeCredential"]["revoked"] is True
    before = await state(bot.user)
    for key in (None, "", "garbage", "srk_" + "x" * 43, bot.user.token, revoked, "k" * 5000):
        for action in ("getBalance", "getNumber"):
            response = await compat(api, key, action, service="tg", country="16")
            assert text(response) == "BAD_KEY", (key, action)
    assert await state(bot.user) == before
    assert await ask(api, bot, "getBalance") == "ACCESS_BALANCE:10.00"


async def test_missing_or_unknown_action_is_bad_action(api: Api) -> None:
    bot = await new_bot(api)
    before = await state(bot.user)
    for action in (None, "", "getbalance", "getRentList", "buyNumber", "x" * 500):
        answer = await compat(api, bot.key, action, service="tg", country="16")
        assert text(answer) == "BAD_ACTION", action
    assert await state(bot.user) == before


# -- buying: bad input ----------------------------------------------------------------------
GET_NUMBER_REFUSALS = [
    ({"country": "16"}, "BAD_SERVICE"),  # missing
    ({"service": "", "country": "16"}, "BAD_SERVICE"),
    ({"service": "nosuch", "country": "16"}, "BAD_SERVICE"),
    ({"service": "qw", "country": "16"}, "BAD_SERVICE"),  # R9: Qiwi is never sold
    ({"service": "tg"}, "WRONG_COUNTRY_ID"),  # missing
    ({"service": "tg", "country": "uk"}, "WRONG_COUNTRY_ID"),
    ({"service": "tg", "country": "-16"}, "WRONG_COUNTRY_ID"),
    ({"service": "tg", "country": "16.0"}, "WRONG_COUNTRY_ID"),
    ({"service": "tg", "country": "999"}, "WRONG_COUNTRY_ID"),
    ({"service": "tg", "country": "9" * 40}, "WRONG_COUNTRY_ID"),
    ({"service": "tg", "country": "57"}, "WRONG_COUNTRY_ID"),  # R11: Iran
    ({"service": "tg", "country": "43"}, "NO_NUMBERS"),  # Germany: nothing priced
]


async def test_r9_r11_get_number_refusals_change_nothing(api: Api) -> None:
    bot = await new_bot(api)
    before = await state(bot.user)
    for params, token in GET_NUMBER_REFUSALS:
        for action in ("getNumber", "getNumberV2"):
            assert text(await compat(api, bot.key, action, **params)) == token, (action, params)
    assert await state(bot.user) == before


async def test_wrong_or_absurd_max_price_is_wrong_max_price_with_the_price(api: Api) -> None:
    bot = await new_bot(api)
    [gb] = await graphql_offers(api, "GB", "tg")
    assert gb["price"]["amount"] == "0.48"  # the demo price the maxPrices below are chosen for
    before = await state(bot.user)
    cases = [
        ("getNumber", p)
        for p in (
            "0.47",
            "0.01",
            "0",
            "-1",
            "abc",
            "NaN",
            "Infinity",
            "1e400",
            "0.001",
            "99999999999",
            "0x10",
            "1,5",
        )
    ]
    for action, max_price in [*cases, ("getNumberV2", "0.47"), ("getNumberV2", "abc")]:
        answer = await compat(api, bot.key, action, service="tg", country="16", maxPrice=max_price)
        assert text(answer) == "WRONG_MAX_PRICE:0.48", (action, max_price)
    assert await state(bot.user) == before


async def test_max_price_at_or_above_the_price_buys(api: Api) -> None:
    bot = await new_bot(api)
    for max_price in ("0.48", "5", "1e2"):
        answer = await ask(api, bot, "getNumber", service="tg", country="16", maxPrice=max_price)
        assert answer.startswith("ACCESS_NUMBER:")
    assert len((await state(bot.user))[1]) == 3


async def test_r1_no_balance_is_no_balance_and_changes_nothing(api: Api) -> None:
    bot = await new_bot(api, "0.47")
    before = await state(bot.user)
    for action in ("getNumber", "getNumberV2"):
        assert text(await compat(api, bot.key, action, service="tg", country="16")) == "NO_BALANCE"
    assert await state(bot.user) == before
    assert await ask(api, bot, "getBalance") == "ACCESS_BALANCE:0.47"


async def test_r12_unverified_email_is_account_inactive(api: Api, override_settings: Any) -> None:
    bot = await new_bot(api)
    override_settings(email_verification="required")
    before = await state(bot.user)
    answer = await compat(api, bot.key, "getNumber", service="tg", country="16")
    assert text(answer) == "ACCOUNT_INACTIVE"
    assert await state(bot.user) == before


async def test_r5_cancellation_cool_down_is_banned_until(api: Api, override_settings: Any) -> None:
    override_settings(abuse_cancel_threshold=2)
    bot = await new_bot(api)
    for _ in range(2):
        activation_id, _digits = await bought(api, bot)
        answer = await ask(api, bot, "setStatus", id=str(activation_id), status="8")
        assert answer == "ACCESS_CANCEL"
    balance, rows, _ = await state(bot.user)
    answer = await ask(api, bot, "getNumber", service="tg", country="16")
    stored = await User.get(id=bot.user.id)
    assert stored.cooldown_until is not None
    until = stored.cooldown_until.astimezone(UTC)
    if until.microsecond:  # rounded up: retrying at that second succeeds
        until = until.replace(microsecond=0) + timedelta(seconds=1)
    assert answer == f"BANNED:{until:%Y-%m-%d %H:%M:%S}"
    assert await state(bot.user) == (balance, rows, stored.cooldown_until)
    assert await ask(api, bot, "getNumber", service="tg", country="16") == answer


async def test_rate_limit_per_api_key_answers_banned_until_and_buys_nothing(
    api: Api, override_settings: Any
) -> None:
    bot = await new_bot(api)
    other_key = await create_api_key(api, bot.user, "second bot")
    override_settings(api_requests_per_second=2)
    responses = await asyncio.gather(
        *[compat(api, bot.key, "getNumber", service="tg", country="16") for _ in range(6)]
    )
    answers = [text(r) for r in responses]
    bought_ids = [a for a in answers if a.startswith("ACCESS_NUMBER:")]
    refused = [a for a in answers if BANNED.match(a)]
    assert len(bought_ids) + len(refused) == 6, answers
    assert len(bought_ids) >= 2
    assert refused
    until = banned_until(refused[0])
    now = datetime.now(UTC)
    assert now - timedelta(seconds=1) <= until <= now + timedelta(seconds=3)
    assert len((await state(bot.user))[1]) == len(bought_ids)  # refused ones bought nothing
    # Per key: the same user's other key is not slowed down by the first one.
    assert text(await compat(api, other_key, "getBalance")).startswith("ACCESS_BALANCE:")


# -- one activation: bad ids and statuses ---------------------------------------------------
ID_ACTIONS = [
    ("getStatus", {}),
    ("getFullSms", {}),
    ("getStatusV2", {}),
    ("setStatus", {"status": "1"}),
    ("setStatus", {"status": "3"}),
    ("setStatus", {"status": "6"}),
    ("setStatus", {"status": "8"}),
    ("setStatus", {"status": "-1"}),
]


async def test_bad_and_foreign_activation_ids_are_no_activation_alike(api: Api) -> None:
    owner, stranger = await new_bot(api), await new_bot(api)
    foreign_id, _digits = await bought(api, owner)
    before = await state(owner.user), await state(stranger.user)
    for action, extra in ID_ACTIONS:
        unknown = await compat(api, stranger.key, action, id=MISSING_ID, **extra)
        foreign = await compat(api, stranger.key, action, id=str(foreign_id), **extra)
        # Another user's activation reads exactly like one that does not exist.
        assert (foreign.status_code, foreign.headers["content-type"], foreign.content) == (
            unknown.status_code,
            unknown.headers["content-type"],
            unknown.content,
        )
        assert text(foreign) == "NO_ACTIVATION", (action, extra)
        for bad in (None, "", "abc", "-1", "0", "1.5", "1_2", "１２", "9" * 11, "9" * 5000):
            answer = await compat(api, stranger.key, action, id=bad, **extra)
            assert text(answer) == "NO_ACTIVATION", (action, extra, bad)
    assert (await state(owner.user), await state(stranger.user)) == before


async def test_unknown_set_status_value_is_bad_status(api: Api) -> None:
    bot = await new_bot(api)
    activation_id, _digits = await bought(api, bot)
    before = await state(bot.user)
    for status in (None, "", "0", "2", "4", "7", "9", "-2", "abc", "8.0", "1" * 300):
        answer = await compat(api, bot.key, "setStatus", id=str(activation_id), status=status)
        assert text(answer) == "BAD_STATUS", status
    assert await state(bot.user) == before


async def test_r4_set_status_8_and_legacy_minus_1_cancel_with_full_refund(
    api: Api, ledger_is_consistent: None
) -> None:
    bot = await new_bot(api, "10.00")
    for status in ("8", "-1"):
        activation_id, _digits = await bought(api, bot)
        aid = str(activation_id)
        assert await ask(api, bot, "setStatus", id=aid, status=status) == "ACCESS_CANCEL"
        assert await ask(api, bot, "getStatus", id=aid) == "STATUS_CANCEL"
        assert await ask(api, bot, "getFullSms", id=aid) == "STATUS_CANCEL"
        seen = await api.activation(bot.user, aid)
        assert seen is not None
        assert (seen["status"], seen["refunded"]) == ("CANCELLED", True)
    assert await ask(api, bot, "getBalance") == "ACCESS_BALANCE:10.00"
    assert await api.balance(bot.user) == "10.00"


async def test_r4_no_sms_in_five_minutes_reads_status_cancel_and_refunds(api: Api) -> None:
    bot = await new_bot(api, "10.00")
    activation_id, _digits = await bought(api, bot)
    api.rt.clock.advance(301)
    deadline = asyncio.get_running_loop().time() + POLL_TIMEOUT_SECONDS
    while (answer := await ask(api, bot, "getStatus", id=str(activation_id))) != "STATUS_CANCEL":
        assert answer == "STATUS_WAIT_CODE"
        assert asyncio.get_running_loop().time() < deadline, "the sweeper did not expire it"
        await asyncio.sleep(0.05)
    assert (await Activation.get(id=activation_id)).status == "EXPIRED"
    assert await ask(api, bot, "getBalance") == "ACCESS_BALANCE:10.00"


async def test_r4_cancel_after_the_code_is_bad_status_and_keeps_the_charge(api: Api) -> None:
    bot = await new_bot(api, "10.00")
    activation_id, digits = await bought(api, bot)
    aid = str(activation_id)
    assert await ask(api, bot, "setStatus", id=aid, status="6") == "BAD_STATUS"  # no code yet
    await deliver(api, digits, "31337")
    before = await state(bot.user)
    for status in ("8", "-1"):
        assert await ask(api, bot, "setStatus", id=aid, status=status) == "BAD_STATUS"
    assert await state(bot.user) == before
    assert await ask(api, bot, "getStatus", id=aid) == "STATUS_OK:31337"


async def test_every_status_change_of_a_finished_activation_is_bad_status(api: Api) -> None:
    bot = await new_bot(api, "10.00")
    activation_id, digits = await bought(api, bot)
    aid = str(activation_id)
    await deliver(api, digits, "27182")
    assert await ask(api, bot, "setStatus", id=aid, status="6") == "ACCESS_ACTIVATION"
    before = await state(bot.user)
    for status in ("1", "3", "6", "8", "-1"):
        assert await ask(api, bot, "setStatus", id=aid, status=status) == "BAD_STATUS"
    assert await state(bot.user) == before
    assert await ask(api, bot, "getStatus", id=aid) == "STATUS_OK:27182"
    assert await ask(api, bot, "getFullSms", id=aid) == f"FULL_SMS:{TG_TEXT.format(code='27182')}"


async def test_r2_an_sms_without_a_readable_code_shows_its_text(api: Api) -> None:
    bot = await new_bot(api)
    activation_id, digits = await bought(api, bot)
    aid = str(activation_id)
    message = "Telegram: вход в аккаунт подтверждён"  # from Telegram, and no code in it
    response = await api.deliver_sms(f"+{digits}", message)
    assert response.json() == {"status": "delivered"}
    assert await ask(api, bot, "getStatus", id=aid) == f"STATUS_OK:{message}"
    assert await ask(api, bot, "getFullSms", id=aid) == f"FULL_SMS:{message}"
    v2 = json_text(await compat(api, bot.key, "getStatusV2", id=aid))  # ASCII, \u escapes
    assert json.loads(v2)["sms"]["code"] == ""
    assert json.loads(v2)["sms"]["text"] == message


async def test_another_sms_before_the_first_is_bad_status(api: Api) -> None:
    bot = await new_bot(api)
    activation_id, _digits = await bought(api, bot)
    before = await state(bot.user)
    assert await ask(api, bot, "setStatus", id=str(activation_id), status="3") == "BAD_STATUS"
    assert await state(bot.user) == before


# -- never a traceback ----------------------------------------------------------------------
async def test_an_unexpected_error_is_a_plain_token_never_a_traceback(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await new_bot(api)

    async def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(services.ledger, "balance_minor", broken)
    response = await compat(api, bot.key, "getBalance")
    assert text(response) == "ERROR_SQL"
    assert "Traceback" not in response.text
    assert "fire" not in response.text


async def test_a_failure_inside_a_purchase_answers_error_sql_and_changes_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await new_bot(api)
    before = await state(bot.user)
    [gb] = await graphql_offers(api, "GB", "tg")

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("ledger unavailable")

    monkeypatch.setattr(services.activations.ledger, "post", broken)
    response = await compat(api, bot.key, "getNumber", service="tg", country="16")
    monkeypatch.undo()
    assert text(response) == "ERROR_SQL"
    assert await state(bot.user) == before
    [after] = await graphql_offers(api, "GB", "tg")
    assert after["available"] == gb["available"]  # the number went back to the pool
