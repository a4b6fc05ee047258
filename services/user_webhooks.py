"""Users' SMS webhooks (issue 13): a user sets a URL, and every SMS delivered to one of their
activations is POSTed to it with sms-activate's body, signed with the user's secret.

The delivery is decided in the ingest transaction (`enqueue`, called by services/sms.py): a row
of the delivery log and an outbox message, written with the SMS itself, so that a committed
SMS is always delivered and a rolled-back one never is. The POST happens after the commit, in
the webhook worker (services/webhook_worker.py, services/webhook_delivery.py): ingest never
waits for a receiver.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from models import DeliveryStatus, OutboxMessage, SmsWebhook, WebhookDelivery
from services import activity, outbox, pages, sealing, webhook_addresses
from services.accounts import Viewer
from services.db import Connection, atomic

if TYPE_CHECKING:
    from services.runtime import Runtime

KIND = "user_webhook.sms"
SECRET_PREFIX = "whsec_"  # noqa: S105 (marks the kind of a secret, is none)


@dataclass(frozen=True)
class WebhookSet:
    url: str | None
    secret: str | None  # shown once, to the caller of set_webhook


@dataclass(frozen=True)
class Delivery:
    row: WebhookDelivery
    next_attempt_at: datetime | None  # while PENDING and waiting for a retry


async def set_webhook(
    rt: Runtime, viewer: Viewer, url: str | None, *, ip: str | None
) -> WebhookSet:
    """Sets (with a new secret: calling again rotates it) or, with None, removes the viewer's
    webhook. Deliveries still pending when it is removed are given up at their next attempt."""
    if url is None:
        async with atomic() as conn:
            await SmsWebhook.filter(user_id=viewer.user_id).using_db(conn).delete()
            await activity.record(conn, "set_sms_webhook", user_id=viewer.user_id, ip=ip)
        return WebhookSet(url=None, secret=None)
    checked = webhook_addresses.checked_url(rt.settings, url)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    sealed = sealing.seal(rt.settings, secret)
    async with atomic() as conn:
        await SmsWebhook.filter(user_id=viewer.user_id).using_db(conn).delete()
        await SmsWebhook.create(
            user_id=viewer.user_id, url=checked, secret_sealed=sealed, using_db=conn
        )
        await activity.record(
            conn, "set_sms_webhook", user_id=viewer.user_id, ip=ip, detail=checked[:200]
        )
    return WebhookSet(url=checked, secret=secret)


async def webhook_url(user_id: int) -> str | None:
    webhook = await SmsWebhook.get_or_none(user_id=user_id)
    return None if webhook is None else webhook.url


def new_idempotency_key() -> str:
    """A delivery's Idempotency-Key: the same on every attempt of it, unique per SMS."""
    return uuid.uuid4().hex


async def enqueue(
    conn: Connection, rt: Runtime, user_id: int, activation_id: int, sms_id: int
) -> bool:
    """In the ingest transaction, for an SMS delivered to an activation: a delivery of it if
    the activation's user has a webhook. Returns whether one was written (the caller wakes the
    worker after the commit)."""
    if not await SmsWebhook.filter(user_id=user_id).using_db(conn).exists():
        return False
    delivery = await WebhookDelivery.create(
        user_id=user_id,
        sms_id=sms_id,
        activation_id=activation_id,
        idempotency_key=new_idempotency_key(),
        using_db=conn,
    )
    await outbox.enqueue(conn, rt, KIND, str(delivery.id), {"delivery": delivery.id})
    return True


async def deliveries(rt: Runtime, user_id: int, first: int | None) -> list[Delivery]:
    """The user's latest deliveries, newest first, with when each pending one is next tried."""
    rows = (
        await WebhookDelivery.filter(user_id=user_id)
        .order_by("-id")
        .limit(pages.page_size(rt.settings, first))
    )
    pending = [str(r.id) for r in rows if r.status == DeliveryStatus.PENDING]
    due = {
        m.key: m.due_at
        for m in await OutboxMessage.filter(kind=KIND, key__in=pending, sent_at__isnull=True)
    }
    return [Delivery(row=r, next_attempt_at=due.get(str(r.id))) for r in rows]
