"""Amounts are ASCII `-?[0-9]+(\\.[0-9]{1,2})?` and nothing else (issue 10): digits of other
scripts ("１２", "٣"), spaces around, exponents and digit separators are refused, in GraphQL and
in the compatible API, with nothing changed and nothing logged.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from models import RefundRequest, TopUp
from tests.account_helpers import ADJUST
from tests.api import Api, User
from tests.compat_helpers import compat, graphql_offers, new_bot, text
from tests.server_log import ServerLog
from tests.snapshot import snapshot

# Python's Decimal() and `\d` take each of these; the Decimal scalar refuses them as text.
NOT_AMOUNTS = ["１２", "٣", "１.５０", " 12", "12 ", "\t12", "1e2", "1_0", "+12", ".5"]
# A decimal, but with three decimals as written: refused by the argument's own rule.
THREE_DECIMALS = "12.500"

# Each mutation that takes an amount: its document (the amount is $a) and the argument's name.
AMOUNT_MUTATIONS = {
    "adjustBalance": (ADJUST, "amount"),
    "buyNumber": (
        'mutation($a: Decimal) { buyNumber(country: "GB", service: "tg", maxPrice: $a)'
        " { activation { id } errors { code field } } }",
        "maxPrice",
    ),
    "createTopUp": (
        'mutation($a: Decimal!) { createTopUp(amount: $a, provider: "demo")'
        " { topUp { id } errors { code field } } }",
        "amount",
    ),
    "requestRefund": (
        'mutation($a: Decimal!) { requestRefund(amount: $a, reason: "hostile amounts")'
        " { refundRequest { id } errors { code field } } }",
        "amount",
    ),
}


async def send_amount(
    api: Api, mutation: str, user: User, admin: str, amount: str
) -> dict[str, Any]:
    document, _ = AMOUNT_MUTATIONS[mutation]
    if mutation == "adjustBalance":
        variables = {"u": str(user.id), "a": amount, "r": "hostile amounts"}
        return await api.post(document, variables, token=admin)
    return await api.post(document, {"a": amount}, token=user.token, ip=user.ip)


async def stored_state(user: User) -> tuple[object, ...]:
    """The snapshot, and the top-ups and refund requests it does not count."""
    return (
        await snapshot(user),
        await TopUp.filter(user_id=user.id).count(),
        await RefundRequest.filter(user_id=user.id).count(),
    )


@pytest.mark.parametrize("mutation", list(AMOUNT_MUTATIONS))
async def test_graphql_amount_that_is_not_ascii_with_two_decimals_is_refused(
    api: Api, admin: str, server_log: ServerLog, mutation: str
) -> None:
    user = await api.funded_user("20.00")
    before = await stored_state(user)
    for amount in NOT_AMOUNTS:
        answer = await send_amount(api, mutation, user, admin, amount)
        assert answer.get("data") is None, (amount, answer)
        [error] = answer["errors"]
        assert "Decimal must be a string such as" in error["message"], amount
        assert error["extensions"]["code"] == "INVALID_INPUT", amount
        assert await stored_state(user) == before, amount

    answer = await send_amount(api, mutation, user, admin, THREE_DECIMALS)
    [payload] = answer["data"].values()
    [error] = payload["errors"]
    assert (error["code"], error["field"]) == ("INVALID_INPUT", AMOUNT_MUTATIONS[mutation][1])
    assert await stored_state(user) == before
    assert server_log.errors() == []


async def test_compat_max_price_that_is_not_ascii_decimal_text_is_wrong_max_price(
    api: Api, server_log: ServerLog
) -> None:
    bot = await new_bot(api)
    [offer] = await graphql_offers(api, "GB", "tg")
    before = await snapshot(bot.user)
    for max_price in [*NOT_AMOUNTS, THREE_DECIMALS]:
        answer = await compat(
            api, bot.key, "getNumber", service="tg", country="16", maxPrice=max_price
        )
        assert text(answer) == f"WRONG_MAX_PRICE:{offer['price']['amount']}", max_price
        assert await snapshot(bot.user) == before, max_price
    assert server_log.errors() == []


@pytest.mark.parametrize(
    ("action", "params", "token"),
    [
        ("getStatus", {"id": "１２"}, "NO_ACTIVATION"),
        ("setStatus", {"id": "٣", "status": "8"}, "NO_ACTIVATION"),
        ("getNumber", {"service": "tg", "country": "１６"}, "WRONG_COUNTRY_ID"),
        ("getPrices", {"country": "١٦"}, "WRONG_COUNTRY_ID"),
    ],
)
async def test_compat_ids_in_other_digits_are_unknown(
    api: Api, server_log: ServerLog, action: str, params: dict[str, str], token: str
) -> None:
    bot = await new_bot(api)
    before = await snapshot(bot.user)
    assert text(await compat(api, bot.key, action, **params)) == token
    assert await snapshot(bot.user) == before
    assert server_log.errors() == []


@pytest.mark.parametrize("row_id", ["١٢", " 12", "12 ", "+12"])
async def test_cursor_with_an_id_not_in_ascii_digits_is_refused(
    api: Api, server_log: ServerLog, row_id: str
) -> None:
    user = await api.register()
    cursor = base64.urlsafe_b64encode(f"activation:{row_id}".encode()).decode()
    answer = await api.post(
        "query($c: String) { activations(after: $c) { edges { cursor } } }",
        {"c": cursor},
        token=user.token,
    )
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "INVALID_INPUT", answer
    assert server_log.errors() == []
