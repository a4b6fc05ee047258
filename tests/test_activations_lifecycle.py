"""An activation's life through the public API, checked against the stored state and the
ledger: any number of SMS within the window (R3), a refund on cancel or when no SMS came in
time (R4), ban number (R6). SMS arrive through the signed supplier webhook.
"""

from __future__ import annotations

import pytest

from models import Activation, ActivationStatus, NumberUse, Sms, TransferKind
from services import ledger, sweeper
from tests.activation_helpers import (
    CAPTURED_TRANSFERS,
    code_sms,
    only_error,
    resolutions,
    sweep_until_ended,
    wait_for_status,
)
from tests.api import Api
from tests.snapshot import snapshot

pytestmark = pytest.mark.usefixtures("ledger_is_consistent")  # every test ends with a clean audit


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
    assert await resolutions(activation["id"]) == CAPTURED_TRANSFERS
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
    assert await resolutions(activation["id"]) == CAPTURED_TRANSFERS
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
    assert await resolutions(activation["id"]) == CAPTURED_TRANSFERS


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
