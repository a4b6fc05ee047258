"""Test helpers for payments: the GraphQL operations of top-ups and refund requests, the demo
checkout page, and posting processors' notifications to the webhooks."""

from __future__ import annotations

import json
from typing import Any

import httpx

from models import TopUp
from tests.api import Api, User
from tests.standins import nowpayments_api, stripe_api

TOP_UP = "id provider status checkoutUrl amount { amount currency } credited { amount } createdAt"
REFUND = "id userId state note reason payout amount { amount } fee { amount } decidedAt"


async def create_top_up(
    api: Api, user: User, amount: str, provider: str = "demo", key: str | None = None
) -> dict[str, Any]:
    """The createTopUp payload (topUp and errors)."""
    data = await api.gql(
        "mutation($a: Decimal!, $p: String!, $k: String) { createTopUp(amount: $a, provider: $p,"
        f" idempotencyKey: $k) {{ topUp {{ {TOP_UP} }} errors {{ code message field }} }} }}",
        {"a": amount, "p": provider, "k": key},
        token=user.token,
        ip=user.ip,
    )
    return data["createTopUp"]  # type: ignore[no-any-return]


async def started(api: Api, user: User, amount: str, provider: str = "demo") -> dict[str, Any]:
    payload = await create_top_up(api, user, amount, provider)
    assert payload["errors"] == [], payload
    return payload["topUp"]  # type: ignore[no-any-return]


async def top_ups(api: Api, user: User) -> list[dict[str, Any]]:
    data = await api.gql(f"{{ topUps {{ edges {{ node {{ {TOP_UP} }} }} }} }}", token=user.token)
    return [edge["node"] for edge in data["topUps"]["edges"]]


def checkout_path(top_up: dict[str, Any]) -> str:
    url: str = top_up["checkoutUrl"]
    return url[url.index("/payments/") :]


async def pay_demo(api: Api, top_up: dict[str, Any]) -> httpx.Response:
    """Presses Pay on the demo checkout page."""
    return await api.client.post(checkout_path(top_up))


async def paid_user(api: Api, amount: str = "10.00") -> User:
    """A new user who topped up through the demo processor."""
    user = await api.register()
    answer = await pay_demo(api, await started(api, user, amount))
    assert answer.status_code == 303, answer.text
    return user


async def stored(top_up: dict[str, Any]) -> TopUp:
    return await TopUp.get(id=int(top_up["id"]))


async def post_stripe(
    api: Api, event: dict[str, Any], *, signature: str | None = None, body: bytes | None = None
) -> httpx.Response:
    payload = body if body is not None else stripe_api.encode(event)
    header = signature if signature is not None else stripe_api.sign(payload)
    return await api.client.post(
        "/payments/stripe/webhook",
        content=payload,
        headers={"content-type": "application/json", "stripe-signature": header},
    )


async def post_ipn(
    api: Api, payment: dict[str, Any], *, signature: str | None = None, body: bytes | None = None
) -> httpx.Response:
    payload = body if body is not None else json.dumps(payment).encode()
    header = signature if signature is not None else nowpayments_api.signature(payload)
    return await api.client.post(
        "/payments/nowpayments/webhook",
        content=payload,
        headers={"content-type": "application/json", "x-nowpayments-sig": header},
    )


async def request_refund(api: Api, user: User, amount: str, reason: str) -> dict[str, Any]:
    data = await api.gql(
        "mutation($a: Decimal!, $r: String!) { requestRefund(amount: $a, reason: $r) {"
        f" refundRequest {{ {REFUND} }} errors {{ code message field }} }} }}",
        {"a": amount, "r": reason},
        token=user.token,
        ip=user.ip,
    )
    return data["requestRefund"]  # type: ignore[no-any-return]


async def decide_refund(
    api: Api, request_id: str, approve: bool, note: str, *, token: str
) -> dict[str, Any]:
    data = await api.gql(
        "mutation($id: ID!, $ok: Boolean!, $n: String!) { decideRefund(id: $id, approve: $ok,"
        f" note: $n) {{ refundRequest {{ {REFUND} }} errors {{ code message field }} }} }}",
        {"id": request_id, "ok": approve, "n": note},
        token=token,
    )
    return data["decideRefund"]  # type: ignore[no-any-return]


async def history(api: Api, user: User) -> list[dict[str, Any]]:
    data = await api.gql(
        "{ transactions { edges { node { kind amount { amount } description } } } }",
        token=user.token,
    )
    return [edge["node"] for edge in data["transactions"]["edges"]]
