"""Sends one delivery of the log to the user's webhook: the outbox handler of KIND
(services/user_webhooks.py). Returning acknowledges the message; raising `outbox.Retry` has
the outbox try again after its backoff, until WEBHOOK_RETRY_HOURS have passed since the SMS.

The body is sms-activate's, built when sent; headers say which delivery it is (Idempotency-Key,
the same on every attempt) and prove it is ours (X-Signature, suppliers/signature.py's scheme
with the user's secret, looked up when sent: a rotated secret signs from then on).

On PostgreSQL the webhook worker claims its messages with `claim_jobs`: one statement that
claims a batch and reads, for each message, all its POST needs (the delivery, the SMS, the
activation's service and country, the webhook), and delivered POSTs are recorded in the log
and acknowledged in the outbox a batch at a time (docs/adr/0013, services/webhook_acks.py).
Elsewhere (SQLite) the outbox's generic handler reads and records through the ORM.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import structlog
from tortoise import connections

from models import Activation, DeliveryStatus, Sms, SmsWebhook, WebhookDelivery
from services import outbox, sealing, webhook_acks, webhook_http
from settings import Settings
from suppliers.signature import sign

if TYPE_CHECKING:
    from services.runtime import Runtime

log = structlog.get_logger("user_webhooks")
USER_AGENT = "SMS-Rooms-Webhook/1"
MAX_ERROR_LENGTH = 300
# One of a user's in-flight slots, held while sending (services/webhook_worker.py).
Slot = Callable[[int], AbstractAsyncContextManager[None]]


# $1 lease end, $2 claim token, $3 now, $4 the kind, $5 batch size. The claim of
# services/outbox.py (_CLAIM_POSTGRES) for one kind, with what each message's POST needs; a
# delivery or webhook gone since is a NULL the job gives up or acknowledges.
CLAIM_JOBS = """
WITH claimed AS (
  UPDATE outbox_message AS m
  SET claimed_until = $1, claim_token = $2, attempts = m.attempts + 1
  WHERE m.id IN (
    SELECT id FROM outbox_message
    WHERE sent_at IS NULL AND due_at <= $3 AND kind = $4
      AND (claimed_until IS NULL OR claimed_until < $3)
    ORDER BY due_at, id
    LIMIT $5
    FOR UPDATE SKIP LOCKED
  )
  RETURNING m.id, m.attempts, m.payload, m.due_at
)
SELECT c.id AS message_id, c.attempts AS message_attempts, d.id AS delivery_id, d.status,
  d.user_id, d.attempts, d.created_at, d.idempotency_key, d.activation_id, sv.code AS service,
  s.text, s.code, co.compat_id AS country, s.received_at, w.url, w.secret_sealed
FROM claimed c
LEFT JOIN webhook_delivery d ON d.id = (c.payload::json ->> 'delivery')::bigint
LEFT JOIN sms s ON s.id = d.sms_id
LEFT JOIN activation a ON a.id = d.activation_id
LEFT JOIN service sv ON sv.id = a.service_id
LEFT JOIN country co ON co.id = a.country_id
LEFT JOIN sms_webhook w ON w.user_id = d.user_id
ORDER BY c.due_at, c.id
"""  # noqa: S608 (constants only; every value is a parameter)


@dataclass(frozen=True)
class Job:
    """One POST to make: what the delivery log and the webhook said when it was claimed."""

    delivery_id: int
    user_id: int
    attempts: int  # POSTs made so far
    created_at: datetime
    idempotency_key: str
    body: dict[str, Any]
    url: str | None  # None: the user has turned the webhook off
    secret_sealed: str | None


@dataclass(frozen=True)
class ClaimedJob:
    message: outbox.ClaimedMessage
    job: Job | None  # None: nothing left to send (no such delivery, or no longer pending)


def body_of(sms: Sms, activation: Activation) -> dict[str, Any]:
    """sms-activate's webhook body; `receivedAt` in UTC as the compatible API writes dates."""
    return _body(
        activation.id,
        activation.service.code,
        sms.text,
        sms.code,
        activation.country.compat_id,
        sms.received_at,
    )


def _body(
    activation_id: int,
    service: str,
    text: str,
    code: str | None,
    country: int,
    received_at: datetime,
) -> dict[str, Any]:
    return {
        "activationId": activation_id,
        "service": service,
        "text": text,
        "code": code,
        "country": country,
        "receivedAt": f"{received_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
    }


def handler(rt: Runtime, http: webhook_http.Clients, slot: Slot) -> outbox.Handler:
    """The outbox's handler of KIND (the ORM path: SQLite)."""

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
        job = Job(
            delivery.id,
            delivery.user_id,
            delivery.attempts,
            delivery.created_at,
            delivery.idempotency_key,
            body_of(delivery.sms, delivery.activation),
            None if webhook is None else webhook.url,
            None if webhook is None else webhook.secret_sealed,
        )
        answer = await send_job(rt, http, slot, job)
        if answer is not None:
            await WebhookDelivery.filter(id=job.delivery_id).update(
                status=DeliveryStatus.DELIVERED,
                attempts=job.attempts + 1,
                last_attempt_at=answer.started,
                delivered_at=rt.clock.now(),
                last_status_code=answer.status_code,
                response_excerpt=answer.excerpt,
                last_error=None,
            )

    return send


async def claim_jobs(rt: Runtime, kind: str) -> tuple[str, list[ClaimedJob]]:
    """PostgreSQL: claims up to OUTBOX_BATCH_SIZE due deliveries with what their POSTs need."""
    now = rt.clock.now()
    claim = outbox.new_claim(rt)
    rows = await connections.get("default").execute_query_dict(
        CLAIM_JOBS, [claim.lease_end, claim.token, now, kind, rt.settings.outbox_batch_size]
    )
    return claim.token, [_claimed_job(kind, row) for row in rows]


def _claimed_job(kind: str, row: dict[str, Any]) -> ClaimedJob:
    message = outbox.ClaimedMessage(row["message_id"], kind, row["message_attempts"])
    if row["delivery_id"] is None or row["status"] != DeliveryStatus.PENDING.value:
        return ClaimedJob(message, None)
    body = _body(
        row["activation_id"],
        row["service"],
        row["text"],
        row["code"],
        row["country"],
        row["received_at"],
    )
    job = Job(
        row["delivery_id"],
        row["user_id"],
        row["attempts"],
        row["created_at"],
        row["idempotency_key"],
        body,
        row["url"],
        row["secret_sealed"],
    )
    return ClaimedJob(message, job)


async def send_claimed_job(
    rt: Runtime,
    http: webhook_http.Clients,
    slot: Slot,
    acks: webhook_acks.Acknowledgements,
    token: str,
    claimed: ClaimedJob,
) -> None:
    """PostgreSQL: one claimed delivery sent and its outcome recorded; as the outbox's `_send`
    (a failure is a retry after its backoff), but a delivered POST is logged and acknowledged
    with the others of its moment in one statement (services/webhook_acks.py)."""
    message = claimed.message
    try:
        async with outbox.handler_time_limit(rt):
            answer = None if claimed.job is None else await send_job(rt, http, slot, claimed.job)
    except Exception as failure:  # any failure is a retry, never a lost message
        await outbox.record_failure(rt, token, message, outbox.error_text(failure))
        return
    if answer is None or claimed.job is None:  # nothing to send, or given up: acknowledged
        await outbox.acknowledge(rt, message.id)
        return
    await acks.record(
        webhook_acks.Delivered(
            claimed.job.delivery_id,
            answer.started,
            rt.clock.now(),
            answer.status_code,
            answer.excerpt,
            message.id,
            token,
        )
    )


@dataclass(frozen=True)
class Delivered:
    started: datetime
    status_code: int
    excerpt: str


async def send_job(
    rt: Runtime, http: webhook_http.Clients, slot: Slot, job: Job
) -> Delivered | None:
    """POSTs the job in one of its user's slots: the 2xx answer (for the caller to record), or
    None when the delivery was given up (the webhook turned off, or the retries' horizon
    passed: recorded here); raises outbox.Retry, the attempt recorded, to try again."""
    if job.url is None or job.secret_sealed is None:
        await _give_up(rt, job.delivery_id, "the webhook was turned off")
        return None
    async with slot(job.user_id):
        return await _attempt(rt, http, job, job.url, job.secret_sealed)


async def _attempt(
    rt: Runtime, http: webhook_http.Clients, job: Job, url: str, secret_sealed: str
) -> Delivered | None:
    body = json.dumps(job.body, ensure_ascii=False).encode()
    secret = _opened(rt.settings.secrets_key, secret_sealed)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "idempotency-key": job.idempotency_key,
        "x-signature": sign(secret, body, int(rt.clock.now().timestamp())),
    }
    started = rt.clock.now()
    try:
        answer = await webhook_http.post(rt.settings, http, url, body, headers)
    except Exception as failure:  # refused address, connection, time-out: all a retry
        error = outbox.error_text(failure)
        await _failed(rt, job, started, error, None, None)
        return None
    if answer.ok:
        return Delivered(started, answer.status_code, answer.excerpt)
    error = f"HTTP {answer.status_code}"
    await _failed(rt, job, started, error, answer.status_code, answer.excerpt)
    return None


@lru_cache(maxsize=4096)
def _opened(keys: tuple[str, ...], sealed: str) -> str:
    """A user's secret, unsealed once per process and set of keys (Fernet's decryption is the
    costliest step of a POST after the HTTP client; a rotation seals a new secret)."""
    return sealing.open_seal(Settings(secrets_key=keys), sealed)


async def _failed(
    rt: Runtime,
    job: Job,
    started: datetime,
    error: str,
    status_code: int | None,
    excerpt: str | None,
) -> None:
    """Records the attempt; raises Retry while the horizon lasts, else gives the delivery up."""
    await WebhookDelivery.filter(id=job.delivery_id).update(
        attempts=job.attempts + 1,
        last_attempt_at=started,
        last_error=webhook_http.text_of(error)[:MAX_ERROR_LENGTH],
        last_status_code=status_code,
        response_excerpt=excerpt,
    )
    horizon = job.created_at + timedelta(hours=rt.settings.webhook_retry_hours)
    if rt.clock.now() >= horizon:
        await _give_up(
            rt, job.delivery_id, f"{error}; retried for {rt.settings.webhook_retry_hours} h"
        )
        return
    raise outbox.Retry(error)


async def _give_up(rt: Runtime, delivery_id: int, reason: str) -> None:
    log.warning("webhook delivery given up", delivery=delivery_id, reason=reason)
    await WebhookDelivery.filter(id=delivery_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED, last_error=reason[:MAX_ERROR_LENGTH]
    )
