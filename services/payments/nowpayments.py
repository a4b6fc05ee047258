"""NOWPayments: crypto invoices and their IPN callbacks (docs/adr/0008 cites their documentation).

- `POST {api}/invoice` with `x-api-key` makes a hosted invoice page (`invoice_url`); its
  `order_id` is our top-up id, `ipn_callback_url` our callback.
- Each status change is POSTed to the callback as JSON, signed in the `x-nowpayments-sig` header:
  HMAC-SHA512 with the IPN secret over the body with its keys sorted, serialised as JavaScript's
  `JSON.stringify` does (no spaces; numbers in JavaScript's shortest form).
- Statuses: waiting, confirming, confirmed, sending (pending); partially_paid (the customer sent
  less than the price; final unless they pay more); finished (paid; `actually_paid` may exceed
  `pay_amount`: an over-payment); failed; expired; refunded.
- What we credit is the fiat value of what arrived: price_amount * actually_paid / pay_amount,
  rounded down to the cent. So a partial payment credits its part, an over-payment its whole,
  and a later IPN with more paid credits only the difference (settlement.py keeps the total).
NOWPayments does not refund through its API: R15 payouts for crypto top-ups are made by hand.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

import httpx

from services import json_input, money
from services.payments.processor import (
    BadNotification,
    BadSignature,
    ChargebackUpdate,
    Checkout,
    CheckoutRequest,
    PaymentStatus,
    PaymentUpdate,
    ProcessorUnavailable,
    Update,
)

STATUSES: dict[str, PaymentStatus] = {
    "waiting": "pending",
    "confirming": "pending",
    "confirmed": "pending",
    "sending": "pending",
    "partially_paid": "paid",
    "finished": "paid",
    "failed": "failed",
    "expired": "expired",
}
SIGNATURE_HEADER = "x-nowpayments-sig"


class NowPaymentsProcessor:
    code = "nowpayments"
    name = "Crypto (NOWPayments)"
    refunds = False

    def __init__(
        self, api_key: str, ipn_secret: str, *, api_base: str, timeout_seconds: float
    ) -> None:
        self._api_key = api_key
        self._ipn_secret = ipn_secret
        self._api_base = api_base.rstrip("/")
        self._timeout = timeout_seconds

    async def create_checkout(self, request: CheckoutRequest) -> Checkout:
        answer = await self._call(
            "POST",
            "/invoice",
            {
                "price_amount": float(money.to_decimal(request.amount_minor)),
                "price_currency": request.currency.lower(),
                "order_id": str(request.top_up_id),
                "order_description": request.description,
                "ipn_callback_url": request.notify_url,
                "success_url": request.success_url,
                "cancel_url": request.cancel_url,
            },
        )
        reference, url = answer.get("id"), answer.get("invoice_url")
        if reference is None or not isinstance(url, str) or not url.startswith("https://"):
            raise ProcessorUnavailable("NOWPayments answered without an invoice id and URL")
        return Checkout(reference=str(reference), url=url)

    async def fetch(self, reference: str, payment_reference: str | None) -> PaymentUpdate:
        """By the payment id: an invoice has no payment until someone starts paying it."""
        if payment_reference is None or not payment_reference.isdigit():
            raise ProcessorUnavailable("no payment has been started on this invoice")
        return _payment_update(await self._call("GET", f"/payment/{payment_reference}", None))

    async def refund(self, payment_reference: str, amount_minor: int, key: str) -> str:
        raise ProcessorUnavailable("NOWPayments cannot refund through its API; pay it by hand")

    def parse(self, headers: Mapping[str, str], body: bytes) -> Update:
        try:
            payload = json_input.loads(body, parse_float=Decimal)
        except ValueError as exc:
            raise BadNotification("the body is not JSON") from exc
        if not isinstance(payload, dict):
            raise BadNotification("the body is not a JSON object")
        expected = signature(self._ipn_secret, payload)
        if not hmac.compare_digest(expected, headers.get(SIGNATURE_HEADER, "")[:200]):
            raise BadSignature(f"{SIGNATURE_HEADER} is missing or wrong")
        if payload.get("payment_status") == "refunded":
            update = _payment_update(payload, status="paid")
            return ChargebackUpdate(
                event_key=f"{update.payment_reference}:refunded",
                payment_reference=update.payment_reference or "",
                total_minor=update.paid_minor,
                currency=update.currency,
            )
        return _payment_update(payload)

    async def _call(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.request(
                    method, self._api_base + path, json=body, headers={"x-api-key": self._api_key}
                )
            answer = json_input.loads(response.content)  # a bounded parse, as for callbacks
        except (httpx.HTTPError, ValueError) as exc:
            raise ProcessorUnavailable(f"NOWPayments did not answer: {exc}") from exc
        if response.status_code >= 300 or not isinstance(answer, dict):
            raise ProcessorUnavailable(f"NOWPayments refused: HTTP {response.status_code}")
        return answer


def signature(secret: str, payload: dict[str, Any]) -> str:
    """HMAC-SHA512 (hex) of the payload as NOWPayments signs it: keys sorted, JSON.stringify."""
    text = js_stringify(payload)
    return hmac.new(secret.encode(), text.encode(), hashlib.sha512).hexdigest()


def js_stringify(value: Any) -> str:
    """JSON as JavaScript's JSON.stringify writes it, with every object's keys sorted."""
    if isinstance(value, dict):
        items = (
            f"{json.dumps(str(k), ensure_ascii=False)}:{js_stringify(value[k])}"
            for k in sorted(value)
        )
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(js_stringify(item) for item in value) + "]"
    if isinstance(value, Decimal | float) and not isinstance(value, bool):
        return _js_number(float(value))
    return json.dumps(value, ensure_ascii=False)


def _js_number(number: float) -> str:
    """JavaScript's Number#toString: the shortest digits that read back as the same double
    (as Python's repr), positional from 1e-6 up to 1e21 (`3`, `0.00001`), else exponential
    (`1e-7`, `1.5e+21`)."""
    if number == 0:
        return "0"
    shortest = Decimal(repr(number))
    if 1e-6 <= abs(number) < 1e21:
        text = format(shortest, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    mantissa, exponent = format(shortest.normalize(), "e").split("e")
    mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
    power = int(exponent)
    return f"{mantissa}e{'+' if power > 0 else '-'}{abs(power)}"


def _payment_update(payload: dict[str, Any], status: PaymentStatus | None = None) -> PaymentUpdate:
    raw_status = payload.get("payment_status")
    status = status or STATUSES.get(raw_status if isinstance(raw_status, str) else "")
    if status is None:
        raise BadNotification("unknown payment_status")
    payment_id = _text(payload, "payment_id")
    price_minor = _price_minor(payload)
    paid_minor = 0
    if status == "paid":
        pay_amount = _decimal(payload, "pay_amount")
        actually_paid = _decimal(payload, "actually_paid")
        if pay_amount <= 0:
            raise BadNotification("pay_amount must be positive")
        value = Decimal(price_minor) * actually_paid / pay_amount
        paid_minor = int(value.to_integral_value(rounding=ROUND_DOWN))
    return PaymentUpdate(
        event_key=f"{payment_id}:{raw_status}:{payload.get('actually_paid')}"[:200],
        reference=_text(payload, "invoice_id"),
        status=status,
        amount_minor=price_minor,
        currency=_text(payload, "price_currency").upper(),
        paid_minor=paid_minor,
        payment_reference=payment_id,
    )


def _price_minor(payload: dict[str, Any]) -> int:
    # A processor's number, not a user's text: "10.000" is ten (money.to_minor would refuse it).
    price = _decimal(payload, "price_amount")
    cents = price.quantize(Decimal("0.01"))  # exact: price is at most 10**15
    if price != cents or cents * money.MINOR_PER_MAJOR > 2**53:
        raise BadNotification("price_amount is not an amount in whole cents")
    return int(cents * money.MINOR_PER_MAJOR)


def _decimal(payload: dict[str, Any], key: str) -> Decimal:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise BadNotification(f"{key} is missing or not a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise BadNotification(f"{key} is not a number") from exc
    if not number.is_finite() or number < 0 or number > Decimal(10) ** 15:
        raise BadNotification(f"{key} is out of range")
    return number


def _text(payload: dict[str, Any], key: str) -> str:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip():
        raise BadNotification(f"{key} is missing")
    return str(value)[:100]
