"""Hostile input never reaches a 500 or a traceback (issue 10): deeply nested JSON, bytes that
are not UTF-8, and GraphQL-over-HTTP edge cases, on every door that parses client JSON.

Each test checks the answer, that nothing changed in the stored state, and that the server
logged no error (tests/server_log.py).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest

from models import PaymentNotification, Sms, User
from services import json_input
from services.payments.demo import sign as sign_demo
from tests import live
from tests.android_gateway import AndroidGateway
from tests.api import Api
from tests.server_log import ServerLog
from tests.snapshot import snapshot
from tests.standins import stripe_api
from tests.test_sms_webhook import assert_still_waiting, live_activation
from tests.test_supplier_android import gateway_supplier

# What the probe sent: ~1,000 levels, far past the bound, far inside every size limit.
DEEP = "[" * 1000 + "]" * 1000


def register_document(email: str) -> str:
    """A mutation that would create an account: refused input must not run it."""
    return f'mutation {{ register(email: "{email}", password: "correct horse 1") {{ token }} }}'


def spliced(payload: dict[str, object], raw: str | bytes) -> bytes:
    """`payload` in JSON with its "RAW" string replaced by `raw` (which json.dumps cannot
    write: too deep, or not UTF-8)."""
    encoded = json.dumps(payload).encode()
    return encoded.replace(b'"RAW"', raw.encode() if isinstance(raw, str) else raw)


def new_email() -> str:
    return f"hostile-{uuid.uuid4().hex[:12]}@example.com"


async def post_graphql(api: Api, body: bytes) -> httpx.Response:
    return await api.client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )


# -- 1. nesting beyond the bound --------------------------------------------------------------
async def test_deeply_nested_variables_in_a_post_are_400(api: Api, server_log: ServerLog) -> None:
    email, before = new_email(), await snapshot()
    body = spliced({"query": register_document(email), "variables": {"deep": "RAW"}}, DEEP)
    response = await post_graphql(api, body)
    assert response.status_code == 400, response.text
    assert f"nested deeper than {json_input.MAX_DEPTH} levels" in response.text
    assert not await User.exists(email=email)
    assert await snapshot() == before
    assert server_log.errors() == []


async def test_deeply_nested_variables_in_a_get_are_400(api: Api, server_log: ServerLog) -> None:
    before = await snapshot()
    response = await api.client.get(
        "/graphql", params={"query": "{ me { id } }", "variables": DEEP}
    )
    assert response.status_code == 400, response.text
    assert f"nested deeper than {json_input.MAX_DEPTH} levels" in response.text
    assert await snapshot() == before
    assert server_log.errors() == []


async def test_nesting_up_to_the_bound_is_parsed(api: Api, server_log: ServerLog) -> None:
    """The bound refuses only what is deeper: the same request at the bound is answered."""
    lists = json_input.MAX_DEPTH - 2  # inside the body's object and its variables' object
    at_bound = "[" * lists + "]" * lists
    body = spliced({"query": "{ __typename }", "variables": {"x": "RAW"}}, at_bound)
    response = await post_graphql(api, body)
    assert (response.status_code, response.json()) == (200, {"data": {"__typename": "Query"}})
    assert server_log.errors() == []


async def test_deeply_nested_first_websocket_message_closes_4400(
    api: Api, server_log: ServerLog
) -> None:
    before = await snapshot()
    async with live.raw_socket(api.server.url, live.TRANSPORT_WS) as socket:
        message = spliced({"type": "connection_init", "payload": {"x": "RAW"}}, DEEP)
        await socket.send(message.decode())  # a text frame, as the protocol's messages are
        assert await live.closed_with(socket) == 4400
    assert await snapshot() == before
    assert server_log.errors() == []


async def test_deeply_nested_legacy_websocket_message_is_ignored(
    api: Api, server_log: ServerLog
) -> None:
    """graphql-ws ignores a message it cannot parse (strawberry's handler): the socket goes on
    with the protocol instead of dropping with 1006."""
    user = await api.register()
    before = await snapshot(user)
    async with live.raw_socket(api.server.url, live.LEGACY_WS) as socket:
        await socket.send(DEEP)
        payload = {"authorization": f"Bearer {user.token}"}
        await live.send(socket, {"type": "connection_init", "payload": payload})
        assert (await live.receive(socket))["type"] == "connection_ack"
    assert await snapshot(user) == before
    assert server_log.errors() == []


async def test_deeply_nested_signed_sms_webhook_is_400(api: Api, server_log: ServerLog) -> None:
    user, activation = await live_activation(api)
    before, sms_before = await snapshot(user), await Sms.all().count()
    body = spliced({"id": "deep", "to": activation["phoneNumber"], "text": "RAW"}, DEEP)
    response = await api.send_webhook(body)
    assert response.status_code == 400, response.text
    assert "nested deeper than" in response.json()["error"]
    assert await Sms.all().count() == sms_before
    await assert_still_waiting(api, user, activation)
    assert await snapshot(user) == before
    assert server_log.errors() == []


async def test_deeply_nested_signed_android_gateway_event_is_400(
    api: Api, server_log: ServerLog
) -> None:
    supplier, key = await gateway_supplier()
    phone = AndroidGateway(api.client, supplier.code, key)
    before, sms_before = await snapshot(), await Sms.all().count()
    body = spliced({"deviceId": "phone-1", "event": "sms:received", "payload": "RAW"}, DEEP)
    response = await phone.send("sms:received", {}, body=body)
    assert response.status_code == 400, response.text
    assert await Sms.all().count() == sms_before
    assert await snapshot() == before
    assert server_log.errors() == []


PaymentPost = Callable[[Api, bytes], Awaitable[httpx.Response]]


async def post_demo_payment(api: Api, body: bytes) -> httpx.Response:
    header = sign_demo(api.server.settings.demo_payments_secret, body, int(time.time()))
    return await api.client.post(
        "/payments/demo/webhook", content=body, headers={"demo-signature": header}
    )


async def post_stripe_payment(api: Api, body: bytes) -> httpx.Response:
    return await api.client.post(
        "/payments/stripe/webhook",
        content=body,
        headers={"stripe-signature": stripe_api.sign(body)},
    )


async def post_nowpayments_payment(api: Api, body: bytes) -> httpx.Response:
    # NOWPayments signs the parsed payload, so the body is parsed first: no signature needed.
    return await api.client.post("/payments/nowpayments/webhook", content=body)


PAYMENT_WEBHOOKS: dict[str, PaymentPost] = {
    "demo": post_demo_payment,
    "stripe": post_stripe_payment,
    "nowpayments": post_nowpayments_payment,
}
HOSTILE_BODIES = {
    "nested too deep": spliced(
        {"id": "evt_deep", "type": "payment.succeeded", "data": "RAW"}, DEEP
    ),
    "not UTF-8": spliced({"id": "RAW", "type": "payment.succeeded"}, b'"evt_\xff"'),
}


@pytest.mark.usefixtures("processors")  # Stripe and NOWPayments configured (stand-ins)
@pytest.mark.parametrize("body", list(HOSTILE_BODIES))
@pytest.mark.parametrize("provider", list(PAYMENT_WEBHOOKS))
async def test_hostile_payment_webhook_body_is_400(
    api: Api, server_log: ServerLog, provider: str, body: str
) -> None:
    before, notifications = await snapshot(), await PaymentNotification.all().count()
    response = await PAYMENT_WEBHOOKS[provider](api, HOSTILE_BODIES[body])
    assert response.status_code == 400, response.text
    assert await PaymentNotification.all().count() == notifications
    assert await snapshot() == before
    assert server_log.errors() == []


# -- 2. bytes that are not UTF-8 --------------------------------------------------------------
async def test_json_body_that_is_not_utf8_is_400(api: Api, server_log: ServerLog) -> None:
    email, before = new_email(), await snapshot()
    body = spliced({"query": register_document(email), "operationName": "RAW"}, b'"\xff\xfe"')
    response = await post_graphql(api, body)
    assert response.status_code == 400, response.text
    assert "not UTF-8" in response.text
    assert not await User.exists(email=email)
    assert await snapshot() == before
    assert server_log.errors() == []


# -- 4. GraphQL over HTTP: null variables -----------------------------------------------------
@pytest.mark.parametrize("name", ["variables", "extensions"])
async def test_get_with_null_variables_or_extensions_is_answered(
    api: Api, server_log: ServerLog, name: str
) -> None:
    response = await api.client.get("/graphql", params={"query": "{ __typename }", name: "null"})
    assert (response.status_code, response.json()) == (200, {"data": {"__typename": "Query"}})
    assert server_log.errors() == []


async def test_get_with_variables_that_are_not_an_object_is_still_400(api: Api) -> None:
    response = await api.client.get(
        "/graphql", params={"query": "{ __typename }", "variables": "[1]"}
    )
    assert response.status_code == 400
    assert "variables" in response.text


@pytest.mark.parametrize(
    "body",
    [
        {"query": {"a": 1}},
        {"query": ["{ __typename }"]},
        {"query": "{ prices { available } }", "operationName": {"a": 1}},
        {"query": "{ prices { available } }", "operationName": ["x"]},
    ],
)
async def test_a_query_or_operation_name_that_is_not_a_string_is_400(
    api: Api, server_log: ServerLog, body: dict[str, object]
) -> None:
    """Found by the GraphQL-over-HTTP audit: the catalog response cache read them before any
    validation and answered 500."""
    response = await api.client.post("/graphql", json=body)
    assert response.status_code == 400, response.text
    assert server_log.errors() == []


# -- 3. a subscription over HTTP --------------------------------------------------------------
SUBSCRIPTION = "subscription { activationEvents { cursor } }"


async def subscribe_over_http(api: Api, method: str) -> httpx.Response:
    if method == "GET":
        return await api.client.get("/graphql", params={"query": SUBSCRIPTION})
    return await api.client.post("/graphql", json={"query": SUBSCRIPTION})


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_subscription_over_http_is_400_pointing_to_the_websocket(
    api: Api, server_log: ServerLog, method: str
) -> None:
    before = await snapshot()
    response = await subscribe_over_http(api, method)
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert "websocket" in error["message"]
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert await snapshot() == before
    assert server_log.errors() == []
