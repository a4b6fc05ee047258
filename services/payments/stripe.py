"""Stripe, through the official `stripe` library: Checkout Sessions for the hosted page (R10),
Refunds for R15 payouts, and webhooks verified by `stripe.Webhook.construct_event`.

Events acted on (the rest are acknowledged and ignored):
    checkout.session.completed, checkout.session.async_payment_succeeded   paid (if paid)
    checkout.session.async_payment_failed / checkout.session.expired        failed / expired
    charge.refunded          money refunded at Stripe (amount_refunded is the running total)
    charge.dispute.created   a dispute takes the disputed amount back
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import stripe as stripe_lib

from services import json_input
from services.payments.processor import (
    BadNotification,
    BadSignature,
    ChargebackUpdate,
    Checkout,
    CheckoutRequest,
    Ignored,
    PaymentStatus,
    PaymentUpdate,
    ProcessorUnavailable,
    Update,
)

SESSION_EVENTS: dict[str, PaymentStatus | None] = {
    "checkout.session.completed": None,  # paid, or pending for delayed payment methods
    "checkout.session.async_payment_succeeded": None,
    "checkout.session.async_payment_failed": "failed",
    "checkout.session.expired": "expired",
}


class StripeProcessor:
    code = "stripe"
    name = "Card (Stripe)"
    refunds = True

    def __init__(
        self,
        api_key: str,
        webhook_secret: str,
        *,
        api_base: str | None,
        tolerance_seconds: int,
        timeout_seconds: float,
    ) -> None:
        self._webhook_secret = webhook_secret
        self._tolerance = tolerance_seconds
        self._client = stripe_lib.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else {},
            http_client=stripe_lib.HTTPXClient(timeout=timeout_seconds),
            max_network_retries=2,
        )

    async def create_checkout(self, request: CheckoutRequest) -> Checkout:
        reference = str(request.top_up_id)
        params: Any = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": request.currency.lower(),
                        "unit_amount": request.amount_minor,
                        "product_data": {"name": request.description},
                    },
                }
            ],
            "client_reference_id": reference,
            "metadata": {"top_up_id": reference},
            "payment_intent_data": {"metadata": {"top_up_id": reference}},
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "expires_at": int(request.expires_at.timestamp()),
        }
        try:
            session = await self._client.v1.checkout.sessions.create_async(
                # Unique at Stripe, not only in this database (ids restart in another one).
                params,
                {"idempotency_key": f"top-up-{reference}-{request.expires_at.isoformat()}"},
            )
        except stripe_lib.StripeError as exc:
            raise ProcessorUnavailable(f"Stripe refused the checkout: {exc}") from exc
        if not session.url:
            raise ProcessorUnavailable("Stripe returned a checkout without a URL")
        return Checkout(reference=session.id, url=session.url)

    async def fetch(self, reference: str, payment_reference: str | None) -> PaymentUpdate:
        try:
            session = await self._client.v1.checkout.sessions.retrieve_async(reference)
        except stripe_lib.StripeError as exc:
            raise ProcessorUnavailable(f"Stripe did not answer: {exc}") from exc
        found = session.to_dict()
        status: PaymentStatus | None = "expired" if found.get("status") == "expired" else None
        return _session_update(f"fetch:{reference}", found, status)

    async def refund(self, payment_reference: str, amount_minor: int, key: str) -> str:
        params: Any = {"payment_intent": payment_reference, "amount": amount_minor}
        try:
            refund = await self._client.v1.refunds.create_async(params, {"idempotency_key": key})
        except stripe_lib.StripeError as exc:
            raise ProcessorUnavailable(f"Stripe refused the refund: {exc}") from exc
        return str(refund.id)

    def parse(self, headers: Mapping[str, str], body: bytes) -> Update:
        try:
            stripe_lib.WebhookSignature.verify_header(
                body, headers.get("stripe-signature"), self._webhook_secret, self._tolerance
            )
            event = json_input.loads(body)  # not `construct_event`: its json.loads is unbounded
        except stripe_lib.SignatureVerificationError as exc:
            raise BadSignature(str(exc)) from exc
        except ValueError as exc:  # not UTF-8, not JSON, nested too deep
            raise BadNotification("not a Stripe event") from exc
        if not isinstance(event, dict):
            raise BadNotification("not a Stripe event")
        kind = _text(event, "type")
        data = event.get("data")
        thing = data.get("object") if isinstance(data, dict) else None
        if not isinstance(thing, dict):
            raise BadNotification("the event has no data.object")
        if kind in SESSION_EVENTS:
            return _session_update(_text(event, "id"), thing, SESSION_EVENTS[kind])
        if kind == "charge.refunded":
            return ChargebackUpdate(
                event_key=_text(event, "id"),
                payment_reference=_text(thing, "payment_intent"),
                total_minor=_minor(thing, "amount_refunded"),
                currency=_text(thing, "currency").upper(),
            )
        if kind == "charge.dispute.created":
            return ChargebackUpdate(
                event_key=_text(event, "id"),
                payment_reference=_text(thing, "payment_intent"),
                total_minor=_minor(thing, "amount"),
                currency=_text(thing, "currency").upper(),
                dispute_id=_text(thing, "id"),
            )
        return Ignored(event_key=_text(event, "id"), kind=kind[:40])


def _session_update(
    event_key: str, session: dict[str, Any], status: PaymentStatus | None
) -> PaymentUpdate:
    if status is None:
        status = "paid" if session.get("payment_status") == "paid" else "pending"
    amount = _minor(session, "amount_total")
    intent = session.get("payment_intent")
    return PaymentUpdate(
        event_key=event_key,
        reference=_text(session, "id"),
        status=status,
        amount_minor=amount,
        currency=_text(session, "currency").upper(),
        paid_minor=amount if status == "paid" else 0,
        payment_reference=intent if isinstance(intent, str) and intent else None,
    )


def _text(thing: dict[str, Any], key: str) -> str:
    value = thing.get(key)
    if not isinstance(value, str) or not 0 < len(value) <= 100:
        raise BadNotification(f"{key} is missing or not a short string")
    return value


def _minor(thing: dict[str, Any], key: str) -> int:
    value = thing.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
        raise BadNotification(f"{key} is missing or not an amount in minor units")
    return value
