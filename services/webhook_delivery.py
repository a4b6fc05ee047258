"""Sends one delivery of the log to the user's webhook: the outbox handler of KIND
(services/user_webhooks.py). Returning acknowledges the message; raising `outbox.Retry` has
the outbox try again after its backoff, until WEBHOOK_RETRY_HOURS have passed since the SMS.

The body is sms-activate's, built when sent; headers say which delivery it is (Idempotency-Key,
the same on every attempt) and prove it is ours (X-Signature, suppliers/signature.py's scheme
with the user's secret, looked up when sent: a rotated secret signs from then on).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from models import Activation, DeliveryStatus, Sms, SmsWebhook, WebhookDelivery
from services import outbox, sealing, webhook_http
from suppliers.signature import sign

if TYPE_CHECKING:
    from services.runtime import Runtime

log = structlog.get_logger("user_webhooks")
USER_AGENT = "SMS-Rooms-Webhook/1"
MAX_ERROR_LENGTH = 300
# One of a user's in-flight slots, held while sending (services/webhook_worker.py).
Slot = Callable[[int], AbstractAsyncContextManager[None]]


def body_of(sms: Sms, activation: Activation) -> dict[str, Any]:
    """sms-activate's webhook body; `receivedAt` in UTC as the compatible API writes dates."""
    return {
        "activationId": activation.id,
        "service": activation.service.code,
        "text": sms.text,
        "code": sms.code,
        "country": activation.country.compat_id,
        "receivedAt": f"{sms.received_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
    }


def handler(rt: Runtime, http: webhook_http.Clients, slot: Slot) -> outbox.Handler:

    async def send(payload: outbox.Payload) -> None:
        # One query for all the body needs (the SMS, its activation's service and country).
        delivery = (
            await WebhookDelivery.filter(id=payload["delivery"])
            .select_related("sms", "activation__service", "activation__country")
            .first()
        )
        if delivery is None or delivery.status != DeliveryStatus.PENDING:
            return  # nothing left to do (acknowledged by an earlier attempt)
        webhook = await SmsWebhook.get_or_none(user_id=delivery.user_id)
        if webhook is None:
            await _give_up(rt, delivery, "the webhook was turned off")
            return
        async with slot(delivery.user_id):
            await _attempt(rt, http, delivery, webhook)

    return send


async def _attempt(
    rt: Runtime, http: webhook_http.Clients, delivery: WebhookDelivery, webhook: SmsWebhook
) -> None:
    body = json.dumps(body_of(delivery.sms, delivery.activation), ensure_ascii=False).encode()
    secret = sealing.open_seal(rt.settings, webhook.secret_sealed)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "idempotency-key": delivery.idempotency_key,
        "x-signature": sign(secret, body, int(rt.clock.now().timestamp())),
    }
    started = rt.clock.now()
    try:
        answer = await webhook_http.post(rt.settings, http, webhook.url, body, headers)
    except Exception as failure:  # refused address, connection, time-out: all a retry
        error = f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__
        await _failed(rt, delivery, started, error, None, None)
        return
    if answer.ok:
        await WebhookDelivery.filter(id=delivery.id).update(
            status=DeliveryStatus.DELIVERED,
            attempts=delivery.attempts + 1,
            last_attempt_at=started,
            delivered_at=rt.clock.now(),
            last_status_code=answer.status_code,
            response_excerpt=answer.excerpt,
            last_error=None,
        )
        return
    error = f"HTTP {answer.status_code}"
    await _failed(rt, delivery, started, error, answer.status_code, answer.excerpt)


async def _failed(
    rt: Runtime,
    delivery: WebhookDelivery,
    started: datetime,
    error: str,
    status_code: int | None,
    excerpt: str | None,
) -> None:
    """Records the attempt; raises Retry while the horizon lasts, else gives the delivery up."""
    await WebhookDelivery.filter(id=delivery.id).update(
        attempts=delivery.attempts + 1,
        last_attempt_at=started,
        last_error=error[:MAX_ERROR_LENGTH],
        last_status_code=status_code,
        response_excerpt=excerpt,
    )
    horizon = delivery.created_at + timedelta(hours=rt.settings.webhook_retry_hours)
    if rt.clock.now() >= horizon:
        await _give_up(rt, delivery, f"{error}; retried for {rt.settings.webhook_retry_hours} h")
        return
    raise outbox.Retry(error)


async def _give_up(rt: Runtime, delivery: WebhookDelivery, reason: str) -> None:
    log.warning("webhook delivery given up", delivery=delivery.id, reason=reason)
    await WebhookDelivery.filter(id=delivery.id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED, last_error=reason[:MAX_ERROR_LENGTH]
    )
