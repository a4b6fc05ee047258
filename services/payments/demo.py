"""The demo processor of the embedded default: no real money, the same code path as a real one.

Its checkout page is served by the app itself (`/payments/demo/checkout/{reference}`). Pressing
Pay there makes the notification a real processor would send, signed as Stripe signs
(`Demo-Signature: t=<unix seconds>,v1=<HMAC-SHA256(secret, "t.body")>`, checked by the `stripe`
library's verifier), and hands it to the same `notifications.receive` as the webhooks. It can
also refund (R15 payouts), which only records that it did.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

import stripe as stripe_lib

from services import json_input
from services.payments.processor import (
    BadNotification,
    BadSignature,
    Checkout,
    CheckoutRequest,
    PaymentUpdate,
    ProcessorUnavailable,
    Update,
)

SIGNATURE_HEADER = "demo-signature"


class DemoProcessor:
    code = "demo"
    name = "Demo (no real money)"
    refunds = True

    def __init__(self, secret: str, *, public_url: str, tolerance_seconds: int) -> None:
        self._secret = secret
        self._public_url = public_url
        self._tolerance = tolerance_seconds

    async def create_checkout(self, request: CheckoutRequest) -> Checkout:
        reference = f"demo_{secrets.token_urlsafe(18)}"
        return Checkout(reference, f"{self._public_url}/payments/demo/checkout/{reference}")

    async def fetch(self, reference: str, payment_reference: str | None) -> PaymentUpdate:
        raise ProcessorUnavailable("the demo processor keeps no records of its own")

    async def refund(self, payment_reference: str, amount_minor: int, key: str) -> str:
        return f"demo_re_{hashlib.sha256(key.encode()).hexdigest()[:24]}"

    def notification(self, reference: str, amount_minor: int, currency: str) -> tuple[bytes, str]:
        """What the checkout page's Pay button sends: the body and its signature header."""
        body = json.dumps(
            {
                "id": f"evt_demo_{secrets.token_hex(12)}",
                "type": "payment.succeeded",
                "reference": reference,
                "amount_minor": amount_minor,
                "currency": currency,
            }
        ).encode()
        return body, sign(self._secret, body, int(time.time()))

    def parse(self, headers: Mapping[str, str], body: bytes) -> Update:
        try:
            stripe_lib.WebhookSignature.verify_header(
                body, headers.get(SIGNATURE_HEADER), self._secret, self._tolerance
            )
        except stripe_lib.SignatureVerificationError as exc:
            raise BadSignature(str(exc)) from exc
        except ValueError as exc:  # not UTF-8
            raise BadNotification("the body is not text") from exc
        try:
            event: Any = json_input.loads(body)
            reference, amount = event["reference"], event["amount_minor"]
            event_id, currency = event["id"], event["currency"]
        except (ValueError, KeyError, TypeError) as exc:
            raise BadNotification("not a demo payment notification") from exc
        if event.get("type") != "payment.succeeded" or not all(
            isinstance(v, str) and 0 < len(v) <= 100 for v in (reference, event_id, currency)
        ):
            raise BadNotification("not a demo payment notification")
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount < 2**53:
            raise BadNotification("amount_minor is not an amount in minor units")
        return PaymentUpdate(
            event_key=event_id,
            reference=reference,
            status="paid",
            amount_minor=amount,
            currency=currency,
            paid_minor=amount,
            payment_reference=reference,
        )


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """Stripe's scheme (and our suppliers'): HMAC-SHA256 over `<t>.<body>`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"
