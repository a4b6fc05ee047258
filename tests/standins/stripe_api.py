"""A stand-in of the Stripe API calls SMS Rooms makes, driven by the official `stripe` library.

Answers `POST /v1/checkout/sessions`, `GET /v1/checkout/sessions/{id}` and `POST /v1/refunds`
with objects shaped as Stripe's API reference shows them (checkout.session, refund, error), and
honours `Idempotency-Key` as Stripe does (the same key returns the first answer). Tests then ask
it for the events Stripe would send (`event`, `completed`, ...) and sign them exactly as Stripe
signs webhooks: `Stripe-Signature: t=<unix seconds>,v1=<HMAC-SHA256(secret, "<t>.<payload>")>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

API_KEY = "sk_test_standin"
WEBHOOK_SECRET = "whsec_standin_secret"


class StripeStandIn:
    def __init__(self) -> None:
        self.sessions: dict[str, dict[str, Any]] = {}
        self.refunds: list[dict[str, Any]] = []
        self.requests: list[tuple[str, dict[str, str]]] = []  # (path, form) of every call
        self.fail_refunds = False
        self._by_key: dict[str, dict[str, Any]] = {}
        self.app = Starlette(
            routes=[
                Route("/v1/checkout/sessions", self._create_session, methods=["POST"]),
                Route("/v1/checkout/sessions/{id}", self._get_session),
                Route("/v1/refunds", self._create_refund, methods=["POST"]),
            ]
        )

    # -- the API --------------------------------------------------------------------------
    async def _create_session(self, request: Request) -> JSONResponse:
        form = await self._form(request)
        if (answer := self._replayed(request)) is not None:
            return JSONResponse(answer)
        session_id = f"cs_test_{secrets.token_hex(12)}"
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": int(form["line_items[0][price_data][unit_amount]"]),
            "amount_total": int(form["line_items[0][price_data][unit_amount]"]),
            "cancel_url": form.get("cancel_url"),
            "client_reference_id": form.get("client_reference_id"),
            "created": int(time.time()),
            "currency": form["line_items[0][price_data][currency]"],
            "expires_at": int(form["expires_at"]),
            "livemode": False,
            "metadata": {"top_up_id": form.get("metadata[top_up_id]")},
            "mode": form["mode"],
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": form.get("success_url"),
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        }
        self.sessions[session_id] = session
        return self._remember(request, session)

    async def _get_session(self, request: Request) -> JSONResponse:
        self.requests.append((request.url.path, {}))
        session = self.sessions.get(request.path_params["id"])
        if session is None:
            return _error(404, "resource_missing", "No such checkout.session")
        return JSONResponse(session)

    async def _create_refund(self, request: Request) -> JSONResponse:
        form = await self._form(request)
        if (answer := self._replayed(request)) is not None:
            return JSONResponse(answer)
        if self.fail_refunds:
            return _error(402, "charge_already_refunded", "The refund could not be made.")
        refund = {
            "id": f"re_{secrets.token_hex(12)}",
            "object": "refund",
            "amount": int(form["amount"]),
            "currency": "usd",
            "payment_intent": form["payment_intent"],
            "status": "succeeded",
            "created": int(time.time()),
        }
        self.refunds.append(refund)
        return self._remember(request, refund)

    async def _form(self, request: Request) -> dict[str, str]:
        assert request.headers.get("authorization") == f"Bearer {API_KEY}"
        form = dict(parse_qsl((await request.body()).decode()))  # Stripe's form encoding
        self.requests.append((request.url.path, form))
        return form

    def _replayed(self, request: Request) -> dict[str, Any] | None:
        key = request.headers.get("idempotency-key")
        return self._by_key.get(f"{request.url.path}:{key}") if key else None

    def _remember(self, request: Request, answer: dict[str, Any]) -> JSONResponse:
        key = request.headers.get("idempotency-key")
        if key:
            self._by_key[f"{request.url.path}:{key}"] = answer
        return JSONResponse(answer)

    # -- what Stripe would send -----------------------------------------------------------
    def pay(self, session_id: str) -> dict[str, Any]:
        """The customer pays on the hosted page: the session is complete and paid."""
        session = self.sessions[session_id]
        session.update(
            status="complete",
            payment_status="paid",
            payment_intent=session["payment_intent"] or f"pi_{secrets.token_hex(12)}",
        )
        return session

    def event(self, kind: str, thing: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": "2025-03-31.basil",
            "created": int(time.time()),
            "data": {"object": dict(thing)},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": kind,
        }

    def charge(self, session_id: str, *, amount_refunded: int = 0) -> dict[str, Any]:
        session = self.sessions[session_id]
        return {
            "id": f"ch_{session['payment_intent'][3:]}",
            "object": "charge",
            "amount": session["amount_total"],
            "amount_refunded": amount_refunded,
            "currency": session["currency"],
            "paid": True,
            "payment_intent": session["payment_intent"],
            "refunded": amount_refunded == session["amount_total"],
        }

    def dispute(self, session_id: str, amount: int) -> dict[str, Any]:
        session = self.sessions[session_id]
        return {
            "id": f"dp_{secrets.token_hex(12)}",
            "object": "dispute",
            "amount": amount,
            "charge": f"ch_{session['payment_intent'][3:]}",
            "currency": session["currency"],
            "payment_intent": session["payment_intent"],
            "reason": "fraudulent",
            "status": "needs_response",
        }


def sign(payload: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The Stripe-Signature header for `payload`, as Stripe computes it."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, indent=2).encode()  # Stripe sends pretty-printed JSON


def _error(status: int, code: str, message: str) -> JSONResponse:
    body = {"error": {"type": "invalid_request_error", "code": code, "message": message}}
    return JSONResponse(body, status_code=status)
