"""R10 and R15 through Stripe: the official `stripe` library against a local stand-in of the
Stripe API (tests/standins/stripe_api.py), webhooks signed exactly as Stripe signs them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from models import TopUp, User, UserState
from settings import Settings
from tests import payments
from tests.api import Api
from tests.api import User as ApiUser
from tests.conftest import Processors
from tests.standins import stripe_api

pytestmark = pytest.mark.usefixtures("ledger_is_consistent")


async def paid_at_stripe(
    api: Api, processors: Processors, user: ApiUser, amount: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Stripe top-up the customer has paid, with its credit notification delivered."""
    top_up = await payments.started(api, user, amount, "stripe")
    session = processors.stripe.pay((await payments.stored(top_up)).reference or "")
    answer = await payments.post_stripe(
        api, processors.stripe.event("checkout.session.completed", session)
    )
    assert answer.json() == {"status": "credited"}, answer.text
    return top_up, session


async def test_r10_stripe_checkout_session_then_signed_webhook_credits_once(
    api: Api, processors: Processors
) -> None:
    user = await api.register()
    top_up = await payments.started(api, user, "25.00", "stripe")
    row = await payments.stored(top_up)
    session = processors.stripe.sessions[row.reference or ""]
    assert top_up["checkoutUrl"] == session["url"]  # the user pays on Stripe's page (R10)
    assert (session["amount_total"], session["currency"]) == (2500, "usd")
    assert session["metadata"] == {"top_up_id": top_up["id"]}
    assert await api.balance(user) == "0.00"

    event = processors.stripe.event(
        "checkout.session.completed", processors.stripe.pay(row.reference or "")
    )
    assert (await payments.post_stripe(api, event)).json() == {"status": "credited"}
    assert (await payments.post_stripe(api, event)).json() == {"status": "duplicate"}
    # Stripe may also send async_payment_succeeded for the same session: a new event id,
    # the same payment, nothing more credited.
    again = processors.stripe.event("checkout.session.async_payment_succeeded", session)
    assert (await payments.post_stripe(api, again)).json() == {"status": "unchanged"}
    assert await api.balance(user) == "25.00"
    [listed] = await payments.top_ups(api, user)
    assert listed["status"] == "SUCCEEDED"
    assert (await payments.stored(top_up)).payment_reference == session["payment_intent"]


async def test_r10_stripe_webhooks_that_are_forged_stale_or_do_not_match_are_refused(
    api: Api, processors: Processors
) -> None:
    user = await api.register()
    top_up = await payments.started(api, user, "12.00", "stripe")
    session = processors.stripe.pay((await payments.stored(top_up)).reference or "")
    event = processors.stripe.event("checkout.session.completed", session)
    body = stripe_api.encode(event)
    stale = int(time.time()) - 301

    def changed(**fields: Any) -> dict[str, Any]:
        return processors.stripe.event("checkout.session.completed", session | fields)

    refusals = [
        ({"body": body, "signature": ""}, 401),
        ({"body": body, "signature": stripe_api.sign(body, secret="whsec_wrong")}, 401),
        ({"body": body, "signature": stripe_api.sign(body, timestamp=stale)}, 401),
        ({"body": body.replace(b"1200", b"9900"), "signature": stripe_api.sign(body)}, 401),
        ({"body": stripe_api.encode(changed(amount_total=9900))}, 400),
        ({"body": stripe_api.encode(changed(currency="eur"))}, 400),
        ({"body": stripe_api.encode(changed(amount_total="12.00"))}, 400),
        ({"body": stripe_api.encode(changed(id="cs_test_unknown"))}, 404),
    ]
    for kwargs, status in refusals:
        answer = await payments.post_stripe(api, event, **kwargs)  # type: ignore[arg-type]
        assert answer.status_code == status, (kwargs, answer.text)
        assert await api.balance(user) == "0.00"
        assert (await payments.stored(top_up)).credited_minor == 0
    assert (await payments.post_stripe(api, event)).json() == {"status": "credited"}
    assert await api.balance(user) == "12.00"


async def test_r10_expired_session_then_late_payment_is_reconciled_exactly_once(
    api: Api, processors: Processors
) -> None:
    user = await api.register()
    top_up = await payments.started(api, user, "8.00", "stripe")
    reference = (await payments.stored(top_up)).reference or ""
    expired = processors.stripe.event(
        "checkout.session.expired", processors.stripe.sessions[reference] | {"status": "expired"}
    )
    assert (await payments.post_stripe(api, expired)).json() == {"status": "closed"}
    assert (await payments.top_ups(api, user))[0]["status"] == "EXPIRED"

    # The processor says it was paid after all: the notification is refused (409) ...
    late = processors.stripe.event("checkout.session.completed", processors.stripe.pay(reference))
    assert (await payments.post_stripe(api, late)).status_code == 409
    assert await api.balance(user) == "0.00"
    # ... and the reconciliation lists it; the admin settles it from Stripe's state, once.
    admin = await api.admin_token()
    await TopUp.filter(id=int(top_up["id"])).update(
        created_at=api.rt.clock.now().replace(year=2025)
    )
    report = await api.gql(
        "{ paymentReconciliation { topUp { id status } processorStatus processorPaid { amount }"
        " problem } }",
        token=admin,
    )
    mine = [d for d in report["paymentReconciliation"] if d["topUp"]["id"] == top_up["id"]]
    assert mine == [
        {
            "topUp": {"id": top_up["id"], "status": "EXPIRED"},
            "processorStatus": "paid",
            "processorPaid": {"amount": "8.00"},
            "problem": "paid at the processor, not credited here",
        }
    ]
    settle = (
        "mutation($id: ID!) { settleTopUp(id: $id) {"
        " topUp { status credited { amount } } errors { code } } }"
    )
    for _ in range(2):
        settled = await api.gql(settle, {"id": top_up["id"]}, token=admin)
        assert settled["settleTopUp"]["topUp"] == {
            "status": "SUCCEEDED",
            "credited": {"amount": "8.00"},
        }
    assert (await payments.post_stripe(api, late)).json() == {"status": "unchanged"}
    assert await api.balance(user) == "8.00"
    refused = await api.gql(settle, {"id": top_up["id"]}, token=user.token)
    assert refused["settleTopUp"]["errors"] == [{"code": "FORBIDDEN"}]
    forbidden = await api.post("{ paymentReconciliation { problem } }", token=user.token)
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_r10_refund_and_dispute_at_stripe_debit_and_restrict_what_cannot_be_paid(
    api: Api, processors: Processors
) -> None:
    user = await api.register()
    _, session = await paid_at_stripe(api, processors, user, "20.00")
    refunded = processors.stripe.event(
        "charge.refunded", processors.stripe.charge(session["id"], amount_refunded=500)
    )
    assert (await payments.post_stripe(api, refunded)).json() == {"status": "charged_back"}
    assert (await payments.post_stripe(api, refunded)).json() == {"status": "duplicate"}
    assert await api.balance(user) == "15.00"
    assert (await payments.history(api, user))[0]["kind"] == "CHARGEBACK"

    bought = await api.bought(user, "GB", "tg")
    left = await api.balance(user)
    dispute = processors.stripe.event(
        "charge.dispute.created", processors.stripe.dispute(session["id"], 1500)
    )
    assert (await payments.post_stripe(api, dispute)).json() == {"status": "charged_back"}
    assert await api.balance(user) == "0.00"  # never below zero ...
    row = await User.get(id=user.id)
    assert row.state == UserState.RESTRICTED  # ... what it could not pay is owed
    again = processors.stripe.event(
        "charge.dispute.created",
        processors.stripe.dispute(session["id"], 1500) | {"id": dispute["data"]["object"]["id"]},
    )
    assert (await payments.post_stripe(api, again)).json() == {"status": "duplicate"}

    owed = 1500 - round(float(left) * 100)
    assert owed == round(float(bought["price"]["amount"]) * 100)
    report = await api.gql("{ paymentReconciliation { problem } }", token=await api.admin_token())
    owes = f"user {user.id} owes {owed / 100:.2f} (restricted)"
    assert {"problem": owes} in report["paymentReconciliation"]  # shown to admins
    answer = await payments.pay_demo(api, await payments.started(api, user, "10.00"))
    assert answer.status_code == 303
    assert await api.balance(user) == f"{(1000 - owed) / 100:.2f}"  # the debt is repaid first
    assert (await User.get(id=user.id)).state == UserState.ACTIVE


async def test_r15_refund_request_is_paid_back_through_stripe_minus_fees(
    api: Api, processors: Processors, override_settings: Callable[..., Settings]
) -> None:
    override_settings(refund_fee_fixed_minor=30, refund_fee_basis_points=290)
    user = await api.register()
    top_up, session = await paid_at_stripe(api, processors, user, "20.00")
    asked = await payments.request_refund(api, user, "10.00", "moving away")
    assert asked["errors"] == [], asked
    assert await api.balance(user) == "10.00"  # held while an admin decides

    decided = await payments.decide_refund(
        api, asked["refundRequest"]["id"], True, "ok", token=await api.admin_token()
    )
    request = decided["refundRequest"]
    assert request["state"] == "APPROVED"
    assert request["payout"] == "issued"
    assert request["fee"] == {"amount": "0.59"}  # 0.30 + 2.9 % of 10.00, kept (R15)
    [refund] = [
        r for r in processors.stripe.refunds if r["payment_intent"] == session["payment_intent"]
    ]
    assert refund["amount"] == 941
    assert await api.balance(user) == "10.00"

    # Stripe then reports the refund it made: already accounted for, nothing moves twice.
    reported = processors.stripe.event(
        "charge.refunded", processors.stripe.charge(session["id"], amount_refunded=941)
    )
    assert (await payments.post_stripe(api, reported)).json() == {"status": "unchanged"}
    assert await api.balance(user) == "10.00"
    assert (await payments.stored(top_up)).refunded_minor == 941


async def test_r15_a_refund_stripe_refuses_is_listed_for_the_admin(
    api: Api, processors: Processors
) -> None:
    user = await api.register()
    await paid_at_stripe(api, processors, user, "5.00")
    asked = await payments.request_refund(api, user, "5.00", "please")
    processors.stripe.fail_refunds = True
    try:
        decided = await payments.decide_refund(
            api, asked["refundRequest"]["id"], True, "ok", token=await api.admin_token()
        )
    finally:
        processors.stripe.fail_refunds = False
    assert decided["refundRequest"]["payout"] == "failed"
    report = await api.gql("{ paymentReconciliation { problem } }", token=await api.admin_token())
    problem = (
        f"refund request {asked['refundRequest']['id']}: the processor has not confirmed its payout"
    )
    assert {"problem": problem} in report["paymentReconciliation"]
    assert await api.balance(user) == "0.00"  # held, then paid out: nothing comes back
