"""Activations through the public API (R1, R3, R4, R6, R7), checked against the stored state.

Every test buys through GraphQL, delivers SMS through the signed supplier webhook, and then reads
the database (models, services/ledger.py, services/audit.py) to see that the answer is the truth.
After every refused operation it asserts that nothing changed (`Snapshot`).
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from tortoise.expressions import Q

from models import (
    AccountKind,
    Activation,
    ActivationStatus,
    LedgerAccount,
    NumberUse,
    Sms,
    Transfer,
    TransferKind,
)
from services import activations, audit, ledger, sweeper
from tests.api import Api, User

POLL_TIMEOUT_SECONDS = 30.0  # a bound, not a wait: the sweeper runs every 0.1 s in tests
MAX_SWEEPS = 100  # explicit sweep rounds before a test gives up
MISSING_ID = str(2**31 - 1)  # a valid id that no activation will reach in a test run
ACTIVATION_MUTATIONS = ("cancelActivation", "banNumber", "finishActivation", "requestAnotherSms")


# -- helpers --------------------------------------------------------------------------------
def minor(amount: str) -> int:
    return int(Decimal(amount) * 100)


@dataclass(frozen=True)
class Snapshot:
    """Everything a refused operation must leave as it was, for one user and globally."""

    balance_minor: int
    escrow_minor: int
    activations: tuple[tuple[Any, ...], ...]
    transfers: int
    sms_shown: int
    number_uses: tuple[int, int]  # (rows, banned rows), all users


async def snapshot(user: User) -> Snapshot:
    accounts = {a.kind: a for a in await LedgerAccount.filter(user_id=user.id)}
    ids = [a.id for a in accounts.values()]
    transfers = await Transfer.filter(
        Q(debit_account_id__in=ids) | Q(credit_account_id__in=ids)
    ).count()
    rows = (
        await Activation.filter(user_id=user.id)
        .order_by("id")
        .values_list("id", "status", "refunded", "code", "another_sms_requested_at", "ended_at")
    )
    return Snapshot(
        balance_minor=accounts[AccountKind.USER].balance_minor,
        escrow_minor=accounts[AccountKind.ESCROW].balance_minor,
        activations=tuple(tuple(r) for r in rows),
        transfers=transfers,
        sms_shown=await Sms.filter(activation__user_id=user.id).count(),
        number_uses=(await NumberUse.all().count(), await NumberUse.filter(banned=True).count()),
    )


async def price_of(api: Api, country: str, service: str) -> str:
    data = await api.gql(
        "query($c: String, $s: String) { prices(country: $c, service: $s) { price { amount } } }",
        {"c": country, "s": service},
    )
    [offer] = data["prices"]
    return offer["price"]["amount"]  # type: ignore[no-any-return]


async def resolutions(activation_id: str) -> list[TransferKind]:
    """The kinds of the transfers of one activation, in order (HOLD, then CAPTURE or VOID)."""
    rows = await Transfer.filter(activation_id=int(activation_id)).order_by("id")
    return [t.kind for t in rows]


async def wait_for_status(activation_id: str, status: ActivationStatus) -> Activation:
    """Polls the stored activation until the background sweeper has moved it (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + POLL_TIMEOUT_SECONDS
    while True:
        activation = await Activation.get(id=int(activation_id))
        if activation.status == status:
            return activation
        if loop.time() > deadline:
            raise AssertionError(f"still {activation.status} after {POLL_TIMEOUT_SECONDS}s")
        await asyncio.sleep(0.05)


async def sweep_until_ended(
    sweep: Callable[[], Awaitable[sweeper.SweepResult]], activation_id: str
) -> None:
    """Runs `sweep` until it has ended this activation. One round takes a bounded batch, oldest
    deadline first, and other tests' leftovers fall due at once when the clock jumps."""
    for _ in range(MAX_SWEEPS):
        await sweep()
        if not await Activation.exists(id=int(activation_id), status=ActivationStatus.WAITING_SMS):
            return
    raise AssertionError(f"activation {activation_id} still waiting after {MAX_SWEEPS} sweeps")


async def code_sms(api: Api, phone: str, code: str) -> dict[str, Any]:
    response = await api.deliver_sms(phone, f"Telegram code: {code}. Do not give this code")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def only_error(payload: dict[str, Any], code: str) -> dict[str, Any]:
    assert payload["activation"] is None, payload
    [error] = payload["errors"]
    assert error["code"] == code, payload
    return error  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def _clean_ledger_after_each_test(ledger_is_consistent: None) -> None:
    """Every test here ends with the ledger audit (services/audit.py) clean."""


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


# -- R3: any number of SMS within the window --------------------------------------------------
async def test_r3_first_sms_receives_and_further_sms_are_delivered(api: Api) -> None:
    user = await api.funded_user("5.00")
    activation = await api.bought(user, "KZ", "tg")
    balance = await ledger.balance_minor(user.id)

    assert await code_sms(api, activation["phoneNumber"], "11111") == {"status": "delivered"}
    assert await code_sms(api, activation["phoneNumber"], "22222") == {"status": "delivered"}
    assert await code_sms(api, activation["phoneNumber"], "33333") == {"status": "delivered"}

    seen = await api.activation(user, activation["id"])
    assert seen is not None
    assert seen["status"] == "RECEIVED"
    assert seen["refunded"] is False
    assert seen["code"] == "33333"
    assert [m["code"] for m in seen["messages"]] == ["11111", "22222", "33333"]
    # Captured once, on the first SMS; further SMS cost nothing more.
    assert await resolutions(activation["id"]) == [TransferKind.HOLD, TransferKind.CAPTURE]
    assert await ledger.balance_minor(user.id) == balance
    assert (await ledger.escrow_account(user.id)).balance_minor == 0


async def test_r3_request_another_sms_only_after_the_first(api: Api) -> None:
    user = await api.funded_user("5.00")
    activation = await api.bought(user, "KZ", "tg")
    before = await snapshot(user)

    refused = await api.act(user, "requestAnotherSms", activation["id"])

    only_error(refused, "INVALID_STATE")
    assert await snapshot(user) == before

    await code_sms(api, activation["phoneNumber"], "12345")
    asked = await api.act(user, "requestAnotherSms", activation["id"])
    assert asked["errors"] == []
    assert asked["activation"]["status"] == "RECEIVED"
    assert (await Activation.get(id=int(activation["id"]))).another_sms_requested_at is not None

    assert await code_sms(api, activation["phoneNumber"], "67890") == {"status": "delivered"}
    stored = await Activation.get(id=int(activation["id"]))
    assert stored.another_sms_requested_at is None
    assert stored.code == "67890"


async def test_r3_finish_only_from_received(api: Api) -> None:
    user = await api.funded_user("5.00")
    activation = await api.bought(user, "KZ", "tg")
    before = await snapshot(user)

    only_error(await api.act(user, "finishActivation", activation["id"]), "INVALID_STATE")
    assert await snapshot(user) == before

    await code_sms(api, activation["phoneNumber"], "24680")
    balance = await ledger.balance_minor(user.id)
    finished = await api.act(user, "finishActivation", activation["id"])
    assert finished["errors"] == []
    assert finished["activation"]["status"] == "FINISHED"
    assert finished["activation"]["refunded"] is False
    assert await ledger.balance_minor(user.id) == balance  # the charge is final (R4)

    after_finish = await snapshot(user)
    only_error(await api.act(user, "finishActivation", activation["id"]), "INVALID_STATE")
    only_error(await api.act(user, "requestAnotherSms", activation["id"]), "INVALID_STATE")
    # A finished activation receives nothing more.
    assert await code_sms(api, activation["phoneNumber"], "13579") == {"status": "stored"}
    assert await snapshot(user) == after_finish


async def test_r3_window_closing_finishes_received_without_refund(api: Api) -> None:
    user = await api.funded_user("5.00")
    activation = await api.bought(user, "KZ", "tg")
    await code_sms(api, activation["phoneNumber"], "55555")
    balance = await ledger.balance_minor(user.id)

    api.rt.clock.advance(api.rt.settings.activation_window_seconds + 1)
    stored = await wait_for_status(activation["id"], ActivationStatus.FINISHED)

    assert stored.refunded is False
    assert stored.ended_at is not None
    assert await resolutions(activation["id"]) == [TransferKind.HOLD, TransferKind.CAPTURE]
    assert await ledger.balance_minor(user.id) == balance
    # The window is closed: a late SMS is kept for audit but not shown.
    assert await code_sms(api, activation["phoneNumber"], "66666") == {"status": "stored"}
    seen = await api.activation(user, activation["id"])
    assert seen is not None
    assert seen["code"] == "55555"
    assert len(seen["messages"]) == 1


# -- R4: refund on cancel or when no SMS came in time ----------------------------------------
async def test_r4_cancel_while_waiting_refunds_in_full(api: Api) -> None:
    user = await api.funded_user("5.00")
    activation = await api.bought(user, "ID", "tg")
    price = activation["price"]["amount"]

    cancelled = await api.act(user, "cancelActivation", activation["id"])

    assert cancelled["errors"] == []
    assert cancelled["activation"]["status"] == "CANCELLED"
    assert cancelled["activation"]["refunded"] is True
    assert await api.balance(user) == "5.00"
    assert await ledger.balance_minor(user.id) == 500
    assert (await ledger.escrow_account(user.id)).balance_minor == 0
    assert await resolutions(activation["id"]) == [TransferKind.HOLD, TransferKind.VOID]
    data = await api.gql(
        "{ transactions(first: 1) { edges { node { kind amount { amount } balanceAfter { amount }"
        " activationId } } } }",
        token=user.token,
    )
    assert data["transactions"]["edges"][0]["node"] == {
        "kind": "REFUND",
        "amount": {"amount": price},
        "balanceAfter": {"amount": "5.00"},
        "activationId": activation["id"],
    }
    # Once is all: a second cancel is refused and refunds nothing more.
    before = await snapshot(user)
    only_error(await api.act(user, "cancelActivation", activation["id"]), "INVALID_STATE")
    assert await snapshot(user) == before


async def test_r4_cancel_after_the_first_sms_is_refused(api: Api) -> None:
    user = await api.funded_user("5.00")
    activation = await api.bought(user, "ID", "tg")
    await code_sms(api, activation["phoneNumber"], "31415")
    before = await snapshot(user)

    only_error(await api.act(user, "cancelActivation", activation["id"]), "INVALID_STATE")

    assert await snapshot(user) == before
    assert await resolutions(activation["id"]) == [TransferKind.HOLD, TransferKind.CAPTURE]


async def test_r4_no_sms_by_the_deadline_expires_with_a_refund(api: Api) -> None:
    user = await api.funded_user("5.00")
    activation = await api.bought(user, "ID", "tg")

    api.rt.clock.advance(api.rt.settings.sms_wait_seconds + 1)
    stored = await wait_for_status(activation["id"], ActivationStatus.EXPIRED)

    assert stored.refunded is True
    assert await ledger.balance_minor(user.id) == 500
    assert await resolutions(activation["id"]) == [TransferKind.HOLD, TransferKind.VOID]
    seen = await api.activation(user, activation["id"])
    assert seen is not None
    assert seen["status"] == "EXPIRED"
    assert seen["refunded"] is True

    # An SMS after expiry is stored for audit, but never shown and never charged.
    before = await snapshot(user)
    assert await code_sms(api, activation["phoneNumber"], "27182") == {"status": "stored"}
    assert await Sms.filter(to_e164=activation["phoneNumber"], text__contains="27182").count() == 1
    seen = await api.activation(user, activation["id"])
    assert seen is not None
    assert seen["messages"] == []
    assert seen["code"] is None
    assert await snapshot(user) == before


async def test_r4_sms_after_the_deadline_is_not_delivered_even_before_the_sweep(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deadline, not the sweeper's timing, decides: an SMS that arrives after smsDeadline
    while the activation still waits (the sweep has not run yet) neither captures nor shows."""
    user = await api.funded_user("5.00")
    activation = await api.bought(user, "ID", "tg")
    real_sweep = sweeper.sweep_once

    async def paused(*_: object) -> sweeper.SweepResult:
        return sweeper.SweepResult(expired=0, finished=0)

    monkeypatch.setattr(sweeper, "sweep_once", paused)  # the app's loop looks it up each round
    api.rt.clock.advance(api.rt.settings.sms_wait_seconds + 1)

    assert await code_sms(api, activation["phoneNumber"], "16180") == {"status": "stored"}
    assert (await Activation.get(id=int(activation["id"]))).status == ActivationStatus.WAITING_SMS

    await sweep_until_ended(lambda: real_sweep(api.rt), activation["id"])
    stored = await Activation.get(id=int(activation["id"]))
    assert stored.status == ActivationStatus.EXPIRED
    assert stored.refunded is True
    assert await ledger.balance_minor(user.id) == 500
    seen = await api.activation(user, activation["id"])
    assert seen is not None
    assert seen["messages"] == []
    assert seen["code"] is None


# -- R6: ban number ----------------------------------------------------------------------------
async def test_r6_ban_refunds_and_the_number_is_never_sold_again_for_the_service(
    api: Api,
) -> None:
    user = await api.funded_user("5.00")
    banned = await api.bought(user, "ID", "wa")

    payload = await api.act(user, "banNumber", banned["id"])

    assert payload["errors"] == []
    assert payload["activation"]["status"] == "BANNED"
    assert payload["activation"]["refunded"]
    assert await ledger.balance_minor(user.id) == 500
    assert await resolutions(banned["id"]) == [TransferKind.HOLD, TransferKind.VOID]
    stored = await Activation.get(id=int(banned["id"]))
    use = await NumberUse.get(number_id=stored.number_id, service_id=stored.service_id)  # type: ignore[attr-defined]
    assert use.banned is True

    # Neither this user nor anyone else gets that number for that service again.
    other = await api.funded_user("5.00")
    later = [await api.bought(buyer, "ID", "wa") for buyer in (user, other, user, other, user)]
    assert banned["phoneNumber"] not in {a["phoneNumber"] for a in later}
    assert (
        await Activation.filter(
            number_id=stored.number_id,
            service_id=stored.service_id,  # type: ignore[attr-defined]
        ).count()
        == 1
    )


async def test_r6_ban_after_a_code_is_refused(api: Api) -> None:
    user = await api.funded_user("5.00")
    activation = await api.bought(user, "ID", "tg")
    await code_sms(api, activation["phoneNumber"], "99999")
    before = await snapshot(user)

    only_error(await api.act(user, "banNumber", activation["id"]), "INVALID_STATE")

    assert await snapshot(user) == before
    stored = await Activation.get(id=int(activation["id"]))
    use = await NumberUse.get(number_id=stored.number_id, service_id=stored.service_id)  # type: ignore[attr-defined]
    assert use.banned is False


# -- R7: history is kept and cannot be deleted -------------------------------------------------
async def test_r7_no_mutation_deletes_activations_or_transactions(api: Api) -> None:
    data = await api.gql("{ __schema { mutationType { fields { name args { name } } } } }")
    fields = data["__schema"]["mutationType"]["fields"]
    assert {"buyNumber", "cancelActivation"} <= {f["name"] for f in fields}  # it is the real list
    history_words = ("activation", "transaction", "transfer", "history", "sms", "message", "ledger")
    for field in fields:
        name = field["name"].lower()
        if not name.startswith(("delete", "remove", "purge", "erase", "clear", "destroy")):
            continue
        described = " ".join([name, *(a["name"].lower() for a in field["args"])])
        assert not any(word in described for word in history_words), field


async def test_r7_history_lists_everything_newest_first_in_pages(api: Api) -> None:
    user = await api.funded_user("5.00")
    bought = [await api.bought(user, "RU", service) for service in ("tg", "wa", "go", "ig", "ds")]
    await api.act(user, "cancelActivation", bought[1]["id"])  # a refund is history too

    ids = [a["id"] for a in await pages(api, user, "activations", first=2, expected_pages=3)]
    assert ids == [a["id"] for a in reversed(bought)]

    entries = await pages(api, user, "transactions", first=4, expected_pages=2)
    assert [e["kind"] for e in entries] == ["REFUND", *["PURCHASE"] * 5, "ADJUSTMENT"]
    assert [int(e["id"]) for e in entries] == sorted((int(e["id"]) for e in entries), reverse=True)
    assert await Transfer.filter(activation__user_id=user.id).count() == 6  # 5 holds + 1 void

    waiting = [a["id"] for a in reversed(bought) if a is not bought[1]]
    for statuses, first, expected in (
        ("[CANCELLED]", 5, [bought[1]["id"]]),
        ("[WAITING_SMS]", 3, waiting[:3]),
    ):
        data = await api.gql(
            f"{{ activations(status: {statuses}, first: {first}) {{ edges {{ node {{ id }} }}"
            " pageInfo { hasNextPage } } }",
            token=user.token,
        )
        assert [e["node"]["id"] for e in data["activations"]["edges"]] == expected, statuses
        assert data["activations"]["pageInfo"]["hasNextPage"] is (statuses == "[WAITING_SMS]")


NODE_FIELDS = {"activations": "id", "transactions": "id kind"}


async def pages(
    api: Api, user: User, connection: str, *, first: int, expected_pages: int
) -> list[dict[str, Any]]:
    """Walks a connection with first/after; checks hasNextPage and endCursor on every page."""
    nodes: list[dict[str, Any]] = []
    after = None
    for page in range(expected_pages):
        data = await api.gql(
            f"query($f: Int, $a: String) {{ {connection}(first: $f, after: $a) {{"
            f" edges {{ cursor node {{ {NODE_FIELDS[connection]} }} }}"
            " pageInfo { hasNextPage endCursor } } }",
            {"f": first, "a": after},
            token=user.token,
        )
        result = data[connection]
        edges = result["edges"]
        last = page == expected_pages - 1
        assert result["pageInfo"]["hasNextPage"] is not last
        assert 1 <= len(edges) <= first
        assert last or len(edges) == first
        assert result["pageInfo"]["endCursor"] == edges[-1]["cursor"]
        nodes += [e["node"] for e in edges]
        after = result["pageInfo"]["endCursor"]
    return nodes


BAD_PAGES = [
    (0, None),
    (-1, None),
    (101, None),
    (5, "garbage!"),
    (5, "Z2FyYmFnZQ=="),
    (5, ""),
    (5, base64.urlsafe_b64encode(b"other:5").decode()),
    (5, base64.urlsafe_b64encode(b"activation:-1").decode()),
    (5, base64.urlsafe_b64encode(b"activation:0").decode()),
    (5, base64.urlsafe_b64encode(b"transaction:x").decode()),
]


async def test_r7_page_size_is_bounded_and_cursors_are_checked(api: Api) -> None:
    user = await api.funded_user("1.00")
    for connection in ("activations", "transactions"):
        for first, after in BAD_PAGES:
            answer = await api.post(
                f"query($f: Int, $a: String) {{ {connection}(first: $f, after: $a)"
                " { edges { cursor } } }",
                {"f": first, "a": after},
                token=user.token,
            )

            case = (connection, first, after, answer)
            assert answer.get("data") is None or answer["data"].get(connection) is None, case
            codes = [e["extensions"]["code"] for e in answer["errors"]]
            assert codes == ["INVALID_INPUT"], case


async def test_r7_largest_page_size_is_accepted(api: Api) -> None:
    user = await api.funded_user("1.00")
    for connection in ("activations", "transactions"):
        data = await api.gql(
            f"{{ {connection}(first: {api.rt.settings.max_page_size}) {{ edges {{ cursor }} }} }}",
            token=user.token,
        )
        assert len(data[connection]["edges"]) == (1 if connection == "transactions" else 0)


# -- numbers: never live twice for one service, never resold for it ---------------------------
async def test_a_number_is_never_sold_twice_for_one_service(api: Api) -> None:
    user = await api.funded_user("20.00")
    go_before, wa_before = await available(api, "US", "go"), await available(api, "US", "wa")

    go = [await api.bought(user, "US", "go") for _ in range(6)]
    go += await asyncio.gather(*(api.bought(user, "US", "go") for _ in range(6)))

    phones = [a["phoneNumber"] for a in go]
    assert len(set(phones)) == len(phones)
    # A number live for one service stays on sale for the others (one number, many services).
    assert await available(api, "US", "go") == go_before - len(go)
    assert await available(api, "US", "wa") == wa_before
    other = await api.bought(user, "US", "wa")
    stored = await Activation.get(id=int(other["id"]))
    assert (
        await NumberUse.filter(
            number_id=stored.number_id,
            service_id=stored.service_id,  # type: ignore[attr-defined]
        ).count()
        == 1
    )
    await assert_no_pair_sold_twice(user)


async def available(api: Api, country: str, service: str) -> int:
    data = await api.gql(
        "query($c: String, $s: String) { prices(country: $c, service: $s) { available } }",
        {"c": country, "s": service},
    )
    [offer] = data["prices"]
    return int(offer["available"])


async def assert_no_pair_sold_twice(user: User) -> None:
    """Over every activation ever stored, each (number, service) pair appears at most once; and
    each of this user's pairs is recorded as used, so that it is never offered again."""
    pairs = await Activation.all().values_list("number_id", "service_id")
    assert len(pairs) == len(set(pairs))
    mine = set(await Activation.filter(user_id=user.id).values_list("number_id", "service_id"))
    used = await NumberUse.filter(number_id__in=[number for number, _ in mine]).values_list(
        "number_id", "service_id"
    )
    assert mine <= set(used)


# -- ids that do not exist or belong to someone else --------------------------------------------
async def test_someone_elses_activation_looks_exactly_like_a_missing_one(api: Api) -> None:
    owner = await api.funded_user("5.00")
    stranger = await api.funded_user("5.00")
    activation = await api.bought(owner, "GB", "go")
    owner_before, stranger_before = await snapshot(owner), await snapshot(stranger)

    assert await api.activation(stranger, activation["id"]) is None
    assert await api.activation(stranger, MISSING_ID) is None
    for mutation in ACTIVATION_MUTATIONS:
        foreign = await api.act(stranger, mutation, activation["id"])
        missing = await api.act(stranger, mutation, MISSING_ID)
        only_error(foreign, "NOT_FOUND")
        assert foreign == missing, mutation

    assert await snapshot(owner) == owner_before
    assert await snapshot(stranger) == stranger_before
    assert (await api.activation(owner, activation["id"]) or {})["status"] == "WAITING_SMS"


async def test_malformed_activation_ids_are_not_found(api: Api) -> None:
    user = await api.funded_user("5.00")
    await api.bought(user, "GB", "go")
    before = await snapshot(user)

    for bad_id in ("abc", "-1", "0", "99999999999", "1.5", " ", "1e3", "0x10"):
        assert await api.activation(user, bad_id) is None, bad_id
        for mutation in ACTIVATION_MUTATIONS:
            only_error(await api.act(user, mutation, bad_id), "NOT_FOUND")
    assert await snapshot(user) == before


async def test_audit_sees_every_activation_resolved_as_its_status_says(api: Api) -> None:
    """The fixture's audit is meaningful: it covers the activations these tests made."""
    user = await api.funded_user("5.00")
    activation = await api.bought(user, "GB", "ds")
    await api.act(user, "cancelActivation", activation["id"])
    assert await audit.ledger_violations() == []
    assert await resolutions(activation["id"]) == [TransferKind.HOLD, TransferKind.VOID]
