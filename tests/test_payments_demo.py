"""R10 with the demo processor: top up on the app's own checkout page, through the same signed
notification path as a real processor; bad input refused with nothing credited."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from decimal import Decimal

import pytest
from gql import gql

from models import ActivityLog, PaymentNotification, TopUp
from services.payments.demo import sign
from settings import Settings
from tests import live, payments
from tests.api import Api
from tests.conftest import Server
from tests.live import gql_session

pytestmark = pytest.mark.usefixtures("ledger_is_consistent")


async def test_r10_new_user_tops_up_with_the_demo_processor_buys_and_gets_the_code(
    api: Api,
) -> None:
    user = await api.register()
    providers = await api.gql(
        "{ paymentProviders { code name minAmount { amount } maxAmount { amount } } }"
    )
    assert {
        "code": "demo",
        "name": "Demo (no real money)",
        "minAmount": {"amount": "1.00"},
        "maxAmount": {"amount": "1000.00"},
    } in providers["paymentProviders"]

    top_up = await payments.started(api, user, "5.00")
    assert top_up["status"] == "PENDING"
    assert top_up["provider"] == "demo"
    assert top_up["amount"] == {"amount": "5.00", "currency": "USD"}
    assert top_up["checkoutUrl"].endswith(
        f"/payments/demo/checkout/{(await payments.stored(top_up)).reference}"
    )
    assert await api.balance(user) == "0.00"  # starting a top-up credits nothing (R10)

    page = await api.client.get(payments.checkout_path(top_up))
    assert page.status_code == 200
    assert "5.00 USD" in page.text
    assert "<button" in page.text

    paid = await payments.pay_demo(api, top_up)
    assert paid.status_code == 303
    assert paid.headers["location"].startswith("/payments/done")
    assert await api.balance(user) == "5.00"
    [listed] = await payments.top_ups(api, user)
    assert listed["status"] == "SUCCEEDED"
    assert listed["credited"] == {"amount": "5.00"}
    assert listed["checkoutUrl"] is None
    assert (await payments.history(api, user))[0]["kind"] == "TOP_UP"

    activation = await api.bought(user, "GB", "tg")
    delivered = await api.deliver_sms(activation["phoneNumber"], "Telegram code: 48213")
    assert delivered.json() == {"status": "delivered"}
    assert (await api.activation(user, activation["id"]))["code"] == "48213"  # type: ignore[index]
    actions = await ActivityLog.filter(user_id=user.id).values_list("action", flat=True)
    assert {"top_up_started", "top_up", "purchase"} <= set(actions)  # R16


async def test_r10_balance_change_is_pushed_to_the_open_page(api: Api, server: Server) -> None:
    user = await api.register()
    top_up = await payments.started(api, user, "7.50")
    query = gql(
        "subscription { balanceChanges { cursor balance { amount }"
        " transaction { kind amount { amount } } } }"
    )
    async with gql_session(server.url, user.token) as session:
        changes = session.subscribe(query)
        first = asyncio.ensure_future(changes.__anext__())
        await live.wait_subscribed(api.rt.bus, user.id)
        await payments.pay_demo(api, top_up)
        change = (await asyncio.wait_for(first, 5))["balanceChanges"]
        bought = await api.bought(user, "GB", "tg")  # a purchase is a balance change too
        second = (await asyncio.wait_for(changes.__anext__(), 5))["balanceChanges"]
        await changes.aclose()
    assert change["balance"] == {"amount": "7.50"}
    assert change["transaction"] == {"kind": "TOP_UP", "amount": {"amount": "7.50"}}
    assert second["transaction"]["kind"] == "PURCHASE"
    assert Decimal(second["balance"]["amount"]) == Decimal("7.50") - Decimal(
        bought["price"]["amount"]
    )


async def test_r10_pressing_pay_twice_credits_once(api: Api) -> None:
    user = await api.register()
    top_up = await payments.started(api, user, "3.00")
    for _ in range(2):
        assert (await payments.pay_demo(api, top_up)).status_code == 303
    assert await api.balance(user) == "3.00"
    assert await PaymentNotification.filter(top_up_id=int(top_up["id"])).count() == 2
    assert (await payments.stored(top_up)).credited_minor == 300


async def test_r10_demo_notifications_refused_when_forged_stale_or_wrong(
    api: Api, server: Server
) -> None:
    user = await api.register()
    top_up = await payments.started(api, user, "4.00")
    reference = (await payments.stored(top_up)).reference
    secret = server.settings.demo_payments_secret

    def body(**changes: object) -> bytes:
        event = {
            "id": "evt_demo_manual",
            "type": "payment.succeeded",
            "reference": reference,
            "amount_minor": 400,
            "currency": "USD",
        }
        return json.dumps(event | changes).encode()

    async def send(payload: bytes, header: str | None) -> int:
        headers = {"demo-signature": header} if header is not None else {}
        answer = await api.client.post("/payments/demo/webhook", content=payload, headers=headers)
        return answer.status_code

    now = int(time.time())
    refusals = [
        (body(), None, 401),  # no signature
        (body(), sign("not-the-secret", body(), now), 401),  # forged
        (body(), sign(secret, body(), now - 301), 401),  # stale: outside the 300 s tolerance
        (body(amount_minor=40000), sign(secret, body(amount_minor=40000), now), 400),
        (body(currency="EUR"), sign(secret, body(currency="EUR"), now), 400),
        (body(amount_minor=399.5), sign(secret, body(amount_minor=399.5), now), 400),
        (body(reference="demo_unknown"), sign(secret, body(reference="demo_unknown"), now), 404),
        (b"not json", sign(secret, b"not json", now), 400),
    ]
    for payload, header, status in refusals:
        assert await send(payload, header) == status, payload
        assert await api.balance(user) == "0.00"
        assert (await payments.stored(top_up)).credited_minor == 0
    assert (await api.client.post("/payments/nowhere/webhook", content=b"{}")).status_code == 404

    assert await send(body(), sign(secret, body(), now)) == 200  # the genuine one
    replay = await api.client.post(
        "/payments/demo/webhook",
        content=body(),
        headers={"demo-signature": sign(secret, body(), now)},
    )
    assert replay.json() == {"status": "duplicate"}
    assert await api.balance(user) == "4.00"


@pytest.mark.parametrize(
    ("amount", "provider", "code"),
    [
        ("-5.00", "demo", "AMOUNT_OUT_OF_RANGE"),
        ("0", "demo", "AMOUNT_OUT_OF_RANGE"),
        ("0.99", "demo", "AMOUNT_OUT_OF_RANGE"),
        ("1000.01", "demo", "AMOUNT_OUT_OF_RANGE"),
        ("10.001", "demo", "INVALID_INPUT"),
        ("99999999999999999999.00", "demo", "INVALID_INPUT"),
        ("10.00", "paypal", "PAYMENT_PROVIDER_UNAVAILABLE"),
        ("10.00", "stripe", "PAYMENT_PROVIDER_UNAVAILABLE"),  # not configured on this server
    ],
)
async def test_r10_bad_top_up_requests_are_refused_and_create_nothing(
    api: Api, amount: str, provider: str, code: str
) -> None:
    user = await api.register()
    payload = await payments.create_top_up(api, user, amount, provider)
    assert payload["topUp"] is None
    assert [error["code"] for error in payload["errors"]] == [code]
    assert await TopUp.filter(user_id=user.id).count() == 0
    assert await api.balance(user) == "0.00"


async def test_r10_top_up_needs_a_signed_in_user(api: Api) -> None:
    answer = await api.post(
        'mutation { createTopUp(amount: "5.00", provider: "demo") { topUp { id } } }'
    )
    assert answer["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_r10_idempotency_key_returns_the_same_top_up(api: Api) -> None:
    user = await api.register()
    first = await payments.create_top_up(api, user, "6.00", key="k-1")
    again = await payments.create_top_up(api, user, "6.00", key="k-1")
    assert again["topUp"]["id"] == first["topUp"]["id"]
    other = await payments.create_top_up(api, user, "7.00", key="k-1")
    assert [e["code"] for e in other["errors"]] == ["IDEMPOTENCY_CONFLICT"]
    assert await TopUp.filter(user_id=user.id).count() == 1


async def test_r10_a_payment_after_the_top_up_expired_is_refused(
    api: Api, server: Server, override_settings: Callable[..., Settings]
) -> None:
    override_settings(top_up_expiry_seconds=60, webhook_tolerance_seconds=5)
    user = await api.register()
    top_up = await payments.started(api, user, "2.00")
    api.rt.clock.advance(66)
    for _ in range(100):  # the sweeper runs every 0.1 s
        if (await payments.top_ups(api, user))[0]["status"] == "EXPIRED":
            break
        await asyncio.sleep(0.05)
    [listed] = await payments.top_ups(api, user)
    assert listed["status"] == "EXPIRED"
    assert listed["checkoutUrl"] is None
    late = await payments.pay_demo(api, top_up)
    assert late.status_code == 409
    assert await api.balance(user) == "0.00"
    assert (await payments.stored(top_up)).credited_minor == 0
