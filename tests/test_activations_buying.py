"""Buying through the public API (R1), checked against the stored state: the price is
charged at purchase, in the same transaction as the number; idempotency keys; maxPrice.
After every refused operation it asserts that nothing changed (tests/snapshot.py).
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import pytest

from models import Activation, ActivationStatus, Transfer, TransferKind
from services import activations, ledger
from tests.activation_helpers import POLL_TIMEOUT_SECONDS, minor, only_error, price_of
from tests.api import Api, User
from tests.snapshot import snapshot

pytestmark = pytest.mark.usefixtures("ledger_is_consistent")  # every test ends with a clean audit


# -- R1: the price is charged at purchase ----------------------------------------------------
async def test_r1_buy_debits_the_price_at_once(api: Api) -> None:
    user = await api.funded_user("5.00")
    activation = await api.bought(user, "GB", "tg")
    price = minor(activation["price"]["amount"])
    assert price > 0
    assert activation["status"] == "WAITING_SMS"
    assert activation["refunded"] is False

    assert await ledger.balance_minor(user.id) == 500 - price
    assert minor(await api.balance(user)) == 500 - price
    [hold] = await Transfer.filter(activation_id=int(activation["id"]))
    assert hold.kind == TransferKind.HOLD
    assert hold.amount_minor == price
    assert hold.debit_account_id == (await ledger.user_account(user.id)).id  # type: ignore[attr-defined]
    assert hold.credit_account_id == (await ledger.escrow_account(user.id)).id  # type: ignore[attr-defined]
    assert (await ledger.escrow_account(user.id)).balance_minor == price

    stored = await Activation.get(id=int(activation["id"]))
    assert stored.price_minor == price
    assert stored.status == ActivationStatus.WAITING_SMS
    settings = api.rt.settings
    assert (stored.sms_deadline_at - stored.created_at).total_seconds() == settings.sms_wait_seconds
    assert (stored.expires_at - stored.created_at).total_seconds() == (
        settings.activation_window_seconds
    )
    data = await api.gql(
        "{ transactions(first: 1) { edges { node { kind amount { amount } balanceAfter { amount }"
        " activationId } } } }",
        token=user.token,
    )
    [edge] = data["transactions"]["edges"]
    assert edge["node"] == {
        "kind": "PURCHASE",
        "amount": {"amount": f"-{activation['price']['amount']}"},
        "balanceAfter": {"amount": await api.balance(user)},
        "activationId": activation["id"],
    }


@pytest.mark.parametrize("short_by", ["0.01", "all"])
async def test_r1_insufficient_balance_changes_nothing(api: Api, short_by: str) -> None:
    price = await price_of(api, "GB", "wa")
    user = await api.register()
    if short_by != "all":  # "all": a user who never topped up
        await api.fund(user, str(Decimal(price) - Decimal(short_by)))
    before = await snapshot(user)

    payload = await api.buy(user, "GB", "wa")

    only_error(payload, "INSUFFICIENT_BALANCE")
    assert await snapshot(user) == before


# -- idempotency -------------------------------------------------------------------------------
async def test_same_idempotency_key_returns_the_same_activation_and_charges_once(api: Api) -> None:
    user = await api.funded_user("5.00")
    key = f"key-{uuid.uuid4()}"
    first = await api.buy(user, "US", "tg", idempotencyKey=key)
    assert first["errors"] == []
    after_first = await snapshot(user)

    again = await api.buy(user, "US", "tg", idempotencyKey=key)

    assert again == first
    assert await snapshot(user) == after_first
    assert await Activation.filter(user_id=user.id).count() == 1
    price = minor(first["activation"]["price"]["amount"])
    assert await ledger.balance_minor(user.id) == 500 - price


async def test_retries_racing_with_one_idempotency_key_buy_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Injected interleaving: every retry has found no activation for the key before any of
    them assigns a number; the unique key must still let exactly one buy and the others
    return what it bought."""
    user = await api.funded_user("5.00")
    key = f"key-{uuid.uuid4()}"
    retries = 4
    original = activations._assign_and_hold
    arrived: list[int] = []
    all_arrived = asyncio.Event()

    async def after_everyone_checked(*args: Any) -> Any:
        arrived.append(1)
        if len(arrived) == retries:
            all_arrived.set()
        await asyncio.wait_for(all_arrived.wait(), timeout=POLL_TIMEOUT_SECONDS)
        return await original(*args)

    monkeypatch.setattr(activations, "_assign_and_hold", after_everyone_checked)
    payloads = await asyncio.gather(
        *(api.buy(user, "US", "tg", idempotencyKey=key) for _ in range(retries))
    )

    assert all_arrived.is_set()
    assert [p["errors"] for p in payloads] == [[]] * retries
    assert len({p["activation"]["id"] for p in payloads}) == 1
    assert await Activation.filter(user_id=user.id).count() == 1
    price = minor(payloads[0]["activation"]["price"]["amount"])
    assert await ledger.balance_minor(user.id) == 500 - price


async def test_same_idempotency_key_with_other_input_is_a_conflict(api: Api) -> None:
    user = await api.funded_user("5.00")
    key = f"key-{uuid.uuid4()}"
    assert (await api.buy(user, "US", "tg", idempotencyKey=key))["errors"] == []
    before = await snapshot(user)

    for other in ({"service": "wa"}, {"country": "RU"}, {"maxPrice": "9.99"}):
        payload = await api.buy(
            user, **{"country": "US", "service": "tg", **other}, idempotencyKey=key
        )

        assert only_error(payload, "IDEMPOTENCY_CONFLICT")["field"] == "idempotencyKey", other
        assert await snapshot(user) == before, other


async def test_invalid_idempotency_key_is_invalid_input(api: Api) -> None:
    user = await api.funded_user("5.00")
    before = await snapshot(user)

    for key in ("k" * 101, "", "   "):
        payload = await api.buy(user, "US", "tg", idempotencyKey=key)

        assert only_error(payload, "INVALID_INPUT")["field"] == "idempotencyKey", key
        assert await snapshot(user) == before, key


async def test_idempotency_key_of_100_chars_is_accepted(api: Api) -> None:
    user = await api.funded_user("5.00")
    payload = await api.buy(user, "US", "tg", idempotencyKey="k" * 100)
    assert payload["errors"] == []
    assert payload["activation"]["status"] == "WAITING_SMS"


# -- maxPrice ----------------------------------------------------------------------------------
async def test_max_price_below_the_price_is_refused(api: Api) -> None:
    price = Decimal(await price_of(api, "RU", "tg"))
    user = await api.funded_user("5.00")
    before = await snapshot(user)

    payload = await api.buy(user, "RU", "tg", maxPrice=str(price - Decimal("0.01")))

    assert only_error(payload, "PRICE_ABOVE_MAX")["field"] == "maxPrice"
    assert await snapshot(user) == before


async def test_max_price_at_or_above_the_price_buys(api: Api) -> None:
    price = Decimal(await price_of(api, "RU", "tg"))
    user = await api.funded_user("5.00")

    for extra in ("0.00", "0.01", "100.00"):
        payload = await api.buy(user, "RU", "tg", maxPrice=str(price + Decimal(extra)))

        assert payload["errors"] == [], extra
        assert Decimal(payload["activation"]["price"]["amount"]) == price
    assert await ledger.balance_minor(user.id) == 500 - 3 * minor(str(price))


async def buy_with_max_price(api: Api, user: User, max_price: str) -> dict[str, Any]:
    return await api.post(
        'mutation($m: Decimal) { buyNumber(country: "RU", service: "tg", maxPrice: $m)'
        " { activation { id } errors { code field } } }",
        {"m": max_price},
        token=user.token,
        ip=user.ip,
    )


async def test_invalid_max_price_is_invalid_input(api: Api) -> None:
    user = await api.funded_user("5.00")
    before = await snapshot(user)

    for max_price in ("-1", "-0.50", "0", "0.00", "0.001", "1.999", "99999999999999999999"):
        answer = await buy_with_max_price(api, user, max_price)

        assert answer["data"]["buyNumber"] == {
            "activation": None,
            "errors": [{"code": "INVALID_INPUT", "field": "maxPrice"}],
        }, answer
        assert await snapshot(user) == before, max_price


async def test_max_price_that_is_not_a_decimal_is_refused_before_anything_runs(
    api: Api,
) -> None:
    """The strict Decimal scalar (schema/scalars.py) refuses it while coercing the variables:
    a GraphQL request error (no data, no path), so no resolver and no service ran."""
    user = await api.funded_user("5.00")
    before = await snapshot(user)

    for max_price in ("abc", "1e3", "NaN", "Infinity", "", "1,50"):
        answer = await buy_with_max_price(api, user, max_price)

        assert answer.get("data") is None, answer
        [error] = answer["errors"]
        assert "path" not in error, answer
        assert "Decimal" in error["message"], answer
        assert await snapshot(user) == before, max_price
