"""R10 through NOWPayments (crypto): invoices at the stand-in API, IPN callbacks signed as their
documentation says (HMAC-SHA512 of the key-sorted JSON, computed by Node.js), partial payments
and over-payments credited for what arrived."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests import payments
from tests.api import Api
from tests.api import User as ApiUser
from tests.conftest import Processors

pytestmark = pytest.mark.usefixtures("ledger_is_consistent")


async def invoice(
    api: Api, processors: Processors, user: ApiUser, amount: str
) -> tuple[dict[str, Any], str]:
    top_up = await payments.started(api, user, amount, "nowpayments")
    reference = (await payments.stored(top_up)).reference or ""
    assert top_up["checkoutUrl"] == processors.nowpayments.invoices[reference]["invoice_url"]
    return top_up, reference


async def test_r10_crypto_partial_payment_then_the_rest_credits_what_arrived(
    api: Api, processors: Processors
) -> None:
    user = await api.register()
    top_up, invoice_id = await invoice(api, processors, user, "50.00")
    sent = processors.nowpayments.invoices[invoice_id]
    assert (sent["price_amount"], sent["price_currency"]) == ("50.0", "usd")
    assert sent["order_id"] == top_up["id"]
    assert sent["ipn_callback_url"].endswith("/payments/nowpayments/webhook")

    waiting = processors.nowpayments.ipn(invoice_id, "waiting", actually_paid=0, pay_amount=0.001)
    assert (await payments.post_ipn(api, waiting)).json() == {"status": "pending"}
    partial = processors.nowpayments.ipn(
        invoice_id, "partially_paid", actually_paid=0.0004, pay_amount=0.001
    )
    assert (await payments.post_ipn(api, partial)).json() == {"status": "credited"}
    assert await api.balance(user) == "20.00"  # 40 % of the price arrived
    assert (await payments.post_ipn(api, partial)).json() == {"status": "duplicate"}
    finished = processors.nowpayments.ipn(
        invoice_id, "finished", actually_paid=0.001, pay_amount=0.001
    )
    assert (await payments.post_ipn(api, finished)).json() == {"status": "credited"}
    assert await api.balance(user) == "50.00"  # the rest, not the whole price again
    [listed] = await payments.top_ups(api, user)
    assert listed["status"] == "SUCCEEDED"
    assert listed["credited"] == {"amount": "50.00"}


async def test_r10_crypto_over_payment_is_credited_in_full(
    api: Api, processors: Processors
) -> None:
    user = await api.register()
    _, invoice_id = await invoice(api, processors, user, "10.00")
    over = processors.nowpayments.ipn(
        invoice_id, "finished", actually_paid=0.0013, pay_amount=0.001
    )
    assert (await payments.post_ipn(api, over)).json() == {"status": "credited"}
    assert await api.balance(user) == "13.00"


async def test_r10_crypto_callbacks_forged_or_not_matching_are_refused(
    api: Api, processors: Processors
) -> None:
    user = await api.register()
    top_up, invoice_id = await invoice(api, processors, user, "30.00")
    paid = processors.nowpayments.ipn(invoice_id, "finished", actually_paid=0.002, pay_amount=0.002)
    body = json.dumps(paid).encode()

    def signed(**changes: Any) -> dict[str, Any]:
        return {"body": json.dumps(paid | changes).encode()}

    refusals = [
        ({"body": body, "signature": ""}, 401),
        ({"body": body, "signature": "0" * 128}, 401),
        (
            {
                "body": body.replace(b'"finished"', b'"partially_paid"'),
                "signature": payments.nowpayments_api.signature(body),
            },
            401,
        ),
        (signed(price_amount=300), 400),
        (signed(price_currency="eur"), 400),
        (signed(price_amount=30.001), 400),
        (signed(invoice_id=123), 404),
        (signed(payment_status="exploded"), 400),
        ({"body": b"[1, 2]", "signature": payments.nowpayments_api.signature(b"[1, 2]")}, 400),
    ]
    for kwargs, status in refusals:
        answer = await payments.post_ipn(api, paid, **kwargs)
        assert answer.status_code == status, (kwargs, answer.text)
        assert await api.balance(user) == "0.00"
        assert (await payments.stored(top_up)).credited_minor == 0
    # The signature covers the content, not the key order or spacing the body was sent in.
    reordered = json.dumps(dict(reversed(list(paid.items()))), indent=1).encode()
    answer = await payments.post_ipn(
        api, paid, body=reordered, signature=payments.nowpayments_api.signature(body)
    )
    assert answer.json() == {"status": "credited"}
    assert await api.balance(user) == "30.00"
