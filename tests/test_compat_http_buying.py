"""The sms-activate-compatible API over raw HTTP: every refused purchase answers the
protocol's token and buys nothing (R1, R5, R9, R11, R12, maxPrice, the per-key rate limit).

Answers are always HTTP 200 with `text/plain; charset=utf-8` (tokens) or `application/json`;
the business rules are the services', these tests check that the protocol layer maps them
faithfully (contract/compat.md, issue 4).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models import User
from tests.api import Api
from tests.compat_helpers import (
    BANNED,
    ask,
    banned_until,
    bought,
    compat,
    create_api_key,
    graphql_offers,
    new_bot,
    text,
)
from tests.snapshot import snapshot

# These tests send dozens of requests a second with one key; the per-key limit has a test of
# its own, which sets it low again.
pytestmark = pytest.mark.usefixtures("many_requests_per_key")


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
    before = await snapshot(bot.user)
    for params, token in GET_NUMBER_REFUSALS:
        for action in ("getNumber", "getNumberV2"):
            assert text(await compat(api, bot.key, action, **params)) == token, (action, params)
    assert await snapshot(bot.user) == before


async def test_wrong_or_absurd_max_price_is_wrong_max_price_with_the_price(api: Api) -> None:
    bot = await new_bot(api)
    [gb] = await graphql_offers(api, "GB", "tg")
    assert gb["price"]["amount"] == "0.48"  # the demo price the maxPrices below are chosen for
    before = await snapshot(bot.user)
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
            "1e2",
            "0.001",
            "99999999999",
            "0x10",
            "1,5",
        )
    ]
    for action, max_price in [*cases, ("getNumberV2", "0.47"), ("getNumberV2", "abc")]:
        answer = await compat(api, bot.key, action, service="tg", country="16", maxPrice=max_price)
        assert text(answer) == "WRONG_MAX_PRICE:0.48", (action, max_price)
    assert await snapshot(bot.user) == before


async def test_max_price_at_or_above_the_price_buys(api: Api) -> None:
    bot = await new_bot(api)
    for max_price in ("0.48", "5", "100.00"):
        answer = await ask(api, bot, "getNumber", service="tg", country="16", maxPrice=max_price)
        assert answer.startswith("ACCESS_NUMBER:")
    assert len((await snapshot(bot.user)).user.activations) == 3


async def test_r1_no_balance_is_no_balance_and_changes_nothing(api: Api) -> None:
    bot = await new_bot(api, "0.47")
    before = await snapshot(bot.user)
    for action in ("getNumber", "getNumberV2"):
        assert text(await compat(api, bot.key, action, service="tg", country="16")) == "NO_BALANCE"
    assert await snapshot(bot.user) == before
    assert await ask(api, bot, "getBalance") == "ACCESS_BALANCE:0.47"


async def test_r12_unverified_email_is_account_inactive(api: Api, override_settings: Any) -> None:
    bot = await new_bot(api)
    override_settings(email_verification="required")
    before = await snapshot(bot.user)
    answer = await compat(api, bot.key, "getNumber", service="tg", country="16")
    assert text(answer) == "ACCOUNT_INACTIVE"
    assert await snapshot(bot.user) == before


async def test_r5_cancellation_cool_down_is_banned_until(api: Api, override_settings: Any) -> None:
    override_settings(abuse_cancel_threshold=2)
    bot = await new_bot(api)
    for _ in range(2):
        activation_id, _digits = await bought(api, bot)
        answer = await ask(api, bot, "setStatus", id=str(activation_id), status="8")
        assert answer == "ACCESS_CANCEL"
    before = await snapshot(bot.user)
    answer = await ask(api, bot, "getNumber", service="tg", country="16")
    stored = await User.get(id=bot.user.id)
    assert stored.cooldown_until is not None
    until = stored.cooldown_until.astimezone(UTC)
    if until.microsecond:  # rounded up: retrying at that second succeeds
        until = until.replace(microsecond=0) + timedelta(seconds=1)
    assert answer == f"BANNED:{until:%Y-%m-%d %H:%M:%S}"
    assert await snapshot(bot.user) == before.with_user(cooldown_until=stored.cooldown_until)
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
    bought_rows = (await snapshot(bot.user)).user.activations
    assert len(bought_rows) == len(bought_ids)  # refused ones bought nothing
    # Per key: the same user's other key is not slowed down by the first one.
    assert text(await compat(api, other_key, "getBalance")).startswith("ACCESS_BALANCE:")
