"""Payment routes: processors' webhooks, and the demo processor's checkout page.

    POST /payments/{provider}/webhook        a processor's signed notification (Stripe, NOWPayments,
                                             demo): verified and settled by services/payments
    GET  /payments/demo/checkout/{reference} the demo checkout page, with a Pay button
    POST /payments/demo/checkout/{reference} Pay: the same signed notification, the same path
    GET  /payments/done                      where processors send the user back

Answers to webhooks: 200 with the outcome (also for a duplicate: the processor stops retrying),
400 unreadable or amounts that differ from the top-up, 401 signature missing, wrong or stale,
404 unknown processor or payment, 409 a payment for a top-up that expired or failed (listed by
the reconciliation), 503 busy (the processor retries later). A refusal changes nothing.
"""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from services import money
from services.errors import Busy
from services.payments import demo_checkout, notifications, settlement
from services.payments.processor import BadNotification, BadSignature
from web.state import runtime_of

REFUSALS: list[tuple[type[Exception], int]] = [
    (BadSignature, 401),
    (BadNotification, 400),
    (settlement.AmountMismatch, 400),
    (notifications.UnknownProvider, 404),
    (settlement.UnknownPayment, 404),
    (demo_checkout.NoDemoCheckout, 404),
    (settlement.TopUpClosed, 409),
    (Busy, 503),
]


async def webhook(request: Request) -> Response:
    rt = runtime_of(request)
    body = await _read_limited(request, rt.settings.payments_webhook_max_body_bytes)
    if body is None:
        return JSONResponse({"error": "body too large"}, status_code=400)
    provider = request.path_params["provider"][:20]
    try:
        outcome = await notifications.receive(rt, provider, request.headers, body)
    except tuple(kind for kind, _ in REFUSALS) as exc:
        return _refused(exc)
    return JSONResponse({"status": outcome.status})


async def demo_checkout_page(request: Request) -> Response:
    rt = runtime_of(request)
    try:
        top_up = await demo_checkout.checkout(rt, request.path_params["reference"])
    except demo_checkout.NoDemoCheckout as exc:
        return _refused(exc)
    amount = f"{money.format_minor(top_up.amount_minor)} {top_up.currency}"
    return HTMLResponse(
        PAGE.format(
            title="Demo checkout",
            body=f"<p>Top-up {top_up.id}: <strong>{html.escape(amount)}</strong></p>"
            f"<p>Status: {top_up.status.value}</p>"
            '<form method="post"><button type="submit">Pay</button></form>'
            "<p><small>The demo processor: no real money moves.</small></p>",
        )
    )


async def demo_pay(request: Request) -> Response:
    rt = runtime_of(request)
    try:
        top_up, _ = await demo_checkout.pay(rt, request.path_params["reference"])
    except tuple(kind for kind, _ in REFUSALS) as exc:
        return _refused(exc)
    return RedirectResponse(f"/payments/done?top_up={top_up.id}", status_code=303)


async def done(request: Request) -> Response:
    if request.query_params.get("cancelled") == "1":
        message = "Payment cancelled: nothing was charged."
    else:
        message = "Thank you: the balance is credited once the payment processor confirms it."
    back = '<p><a href="/">Back to the shop</a></p>'
    return HTMLResponse(PAGE.format(title="Payment", body=f"<p>{message}</p>{back}"))


def _refused(exc: Exception) -> Response:
    status = next(code for kind, code in REFUSALS if isinstance(exc, kind))
    return JSONResponse({"error": str(exc)[:200] or type(exc).__name__}, status_code=status)


async def _read_limited(request: Request, limit: int) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared and (not declared.isdigit() or int(declared) > limit):
        return None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return None
    return bytes(body)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 28rem; margin: 3rem auto">
<h1>{title}</h1>{body}</body></html>
"""
