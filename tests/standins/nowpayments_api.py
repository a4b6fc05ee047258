"""A stand-in of the NOWPayments API calls SMS Rooms makes, and the IPN callbacks it sends.

`POST /v1/invoice` answers an invoice shaped as NOWPayments documents it (id, order_id,
price_amount, price_currency, invoice_url...); `GET /v1/payment/{id}` a payment's status. `ipn`
builds a callback body and its `x-nowpayments-sig`: HMAC-SHA512 with the IPN secret over the
body with its keys sorted, as JSON.stringify writes it (the documented scheme).
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

API_KEY = "NP-STANDIN-KEY"
IPN_SECRET = "np-ipn-standin-secret"


class NowPaymentsStandIn:
    def __init__(self) -> None:
        self.invoices: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.app = Starlette(
            routes=[
                Route("/v1/invoice", self._create_invoice, methods=["POST"]),
                Route("/v1/payment/{id}", self._get_payment),
            ]
        )

    async def _create_invoice(self, request: Request) -> JSONResponse:
        assert request.headers.get("x-api-key") == API_KEY
        body = await request.json()
        invoice_id = str(4_000_000_000 + secrets.randbelow(999_999_999))
        invoice = {
            "id": invoice_id,
            "token_id": secrets.token_hex(5),
            "order_id": body["order_id"],
            "order_description": body.get("order_description"),
            "price_amount": str(body["price_amount"]),
            "price_currency": body["price_currency"],
            "pay_currency": None,
            "ipn_callback_url": body.get("ipn_callback_url"),
            "invoice_url": f"https://nowpayments.io/payment/?iid={invoice_id}",
            "success_url": body.get("success_url"),
            "cancel_url": body.get("cancel_url"),
            "created_at": "2026-11-30T10:00:00.000Z",
            "updated_at": "2026-11-30T10:00:00.000Z",
        }
        self.invoices[invoice_id] = invoice
        return JSONResponse(invoice)

    async def _get_payment(self, request: Request) -> JSONResponse:
        payment = self.payments.get(request.path_params["id"])
        if payment is None:
            return JSONResponse({"status": False, "message": "Payment not found"}, 404)
        return JSONResponse(payment)

    def ipn(
        self,
        invoice_id: str,
        status: str,
        *,
        actually_paid: float,
        pay_amount: float = 0.00123,
        **changes: Any,
    ) -> dict[str, Any]:
        """The callback NOWPayments would send now (and the payment's state it reports)."""
        invoice = self.invoices[invoice_id]
        payment_id = str(5_000_000_000 + int(invoice_id) % 1_000_000)
        payment: dict[str, Any] = {
            "payment_id": int(payment_id),
            "invoice_id": int(invoice_id),
            "payment_status": status,
            "pay_address": "bc1qstandinaddress",
            "payin_extra_id": None,
            "price_amount": float(invoice["price_amount"]),
            "price_currency": invoice["price_currency"],
            "pay_amount": pay_amount,
            "actually_paid": actually_paid,
            "actually_paid_at_fiat": 0,
            "pay_currency": "btc",
            "order_id": invoice["order_id"],
            "order_description": invoice["order_description"],
            "purchase_id": "5837122679",
            "outcome_amount": actually_paid * 0.995,
            "outcome_currency": "btc",
            "fee": {"currency": "btc", "depositFee": 0, "withdrawalFee": 0, "serviceFee": 0},
        }
        payment.update(changes)
        self.payments[payment_id] = payment
        return payment


# NOWPayments' documented recipe, run by Node.js itself so that the test does not trust our
# Python rendering of JSON.stringify: sort the keys (recursively), stringify, HMAC-SHA512.
SIGN_JS = """
const crypto = require("crypto");
const sort = (v) => Array.isArray(v) ? v.map(sort) : (v && typeof v === "object")
  ? Object.keys(v).sort().reduce((o, k) => { o[k] = sort(v[k]); return o; }, {}) : v;
let input = "";
process.stdin.on("data", (c) => { input += c; }).on("end", () => {
  const [secret, body] = JSON.parse(input);
  const text = JSON.stringify(sort(JSON.parse(body)));
  process.stdout.write(crypto.createHmac("sha512", secret).update(text).digest("hex"));
});
"""


def signature(body: bytes, secret: str = IPN_SECRET) -> str:
    """x-nowpayments-sig of a callback body, computed by Node.js."""
    node = shutil.which("node")
    assert node, "Node.js is needed to sign NOWPayments callbacks as their docs do"
    result = subprocess.run(
        [node, "-e", SIGN_JS],
        input=json.dumps([secret, body.decode()]).encode(),
        capture_output=True,
        check=True,
        timeout=30,
    )
    return result.stdout.decode()
