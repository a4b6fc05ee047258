"""SMS ingest (R2, R3): store every message, deliver it to the one live activation it is for.

The message is stored, matched to the live activation on that number whose service the sender
or text belongs to, its code extracted, and on the first SMS the activation moves to RECEIVED
and its hold is captured, all or nothing: on PostgreSQL by one statement after a read of the
candidates (services/sms_writes.py, docs/adr/0013), on SQLite by the ORM in one transaction.
Events are published after the commit.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

from tortoise import connections

from models import (
    Activation,
    ActivationStatus,
    EventKind,
    PhoneNumber,
    Service,
    Sms,
    Supplier,
    Transfer,
    TransferKind,
)
from models.activations import LIVE_STATUSES
from services import events, ledger, locks, metrics, sms_writes, user_webhooks
from services.db import Connection, IntegrityError, atomic, is_postgres

if TYPE_CHECKING:
    from services.runtime import Runtime


class Outcome(StrEnum):
    DELIVERED = "delivered"  # to a live activation
    STORED = "stored"  # kept for audit; no live activation of a matching service (R2)
    DUPLICATE = "duplicate"  # this supplier already delivered this message id


@dataclass(frozen=True)
class IncomingSms:
    supplier: Supplier
    message_id: str
    to: str  # E.164
    sender: str | None
    text: str
    received_at: datetime
    # A supplier that reports a code rather than a text (an upstream's getStatus) names the
    # activation it is for (its own id of it, mapped back) and the code as it read it: the
    # message goes to that activation only, and its service's patterns are not applied.
    for_activation_id: int | None = None
    code: str | None = None


class Patterns(Protocol):
    """What R2 matches a message with: a service's (services/catalog) sender and code patterns."""

    @property
    def sender_pattern(self) -> str: ...

    @property
    def code_pattern(self) -> str: ...


@lru_cache(maxsize=1024)
def _pattern(source: str) -> re.Pattern[str]:
    return re.compile(source, re.IGNORECASE)


def belongs_to(service: Patterns, sender: str | None, text: str) -> bool:
    """R2: does this message come from this service (by its sender, or its text)?"""
    pattern = _pattern(service.sender_pattern)
    return bool((sender and pattern.search(sender)) or pattern.search(text))


def extract_code(service: Patterns, text: str) -> str | None:
    match = _pattern(service.code_pattern).search(text)
    if match is None:
        return None
    code = match.group(1) if match.groups() else match.group(0)
    return re.sub(r"[\s-]", "", code)[:20]  # "123-456" is typed as 123456


def _as_stored(rt: Runtime, received_at: datetime) -> datetime:
    """A supplier's date for an SMS, as stored and shown.

    A date further ahead of our clock than a supplier's clock may be off (the skew its
    signature's timestamp may have, WEBHOOK_TOLERANCE_SECONDS) is clamped to now rather than
    refused: no SMS reached the supplier after its webhook reached us, and a refusal would make
    a supplier whose clock runs fast retry in vain and lose every code. A date in the past is
    kept: `_deliver` then keeps the SMS from activations newer than it.
    """
    now = rt.clock.now()
    latest = now + timedelta(seconds=rt.settings.webhook_tolerance_seconds)
    return now if received_at > latest else received_at


async def ingest(rt: Runtime, message: IncomingSms) -> Outcome:
    message = dataclasses.replace(message, received_at=_as_stored(rt, message.received_at))
    try:
        if is_postgres():
            notices = await _ingest_in_statements(rt, message)
        else:
            notices = await _ingest_in_transaction(rt, message)
    except IntegrityError:
        if await Sms.exists(supplier=message.supplier, supplier_message_id=message.message_id):
            return Outcome.DUPLICATE
        raise
    await rt.publish(notices)
    return Outcome.DELIVERED if notices else Outcome.STORED


async def _ingest_in_statements(rt: Runtime, message: IncomingSms) -> list[events.Notice]:
    """PostgreSQL: a read of the candidates, then one statement that writes it all and commits
    by itself (services/sms_writes.py, docs/adr/0013)."""
    conn = connections.get("default")  # outside a transaction: each statement is its own
    sms = _unsaved(message)
    candidates = await sms_writes.candidates(conn, message.to, message.supplier.id, rt.clock.now())
    chosen = _choose(message, [(c.activation, c) for c in candidates])
    if chosen is None:
        await sms_writes.store(conn, sms)
        return []
    return await _deliver_to(rt, conn, sms, *chosen)


async def _ingest_in_transaction(rt: Runtime, message: IncomingSms) -> list[events.Notice]:
    """SQLite (one writer): the ORM's statements in one transaction."""
    async with atomic() as conn:
        sms = _unsaved(message)
        await sms.save(using_db=conn)
        notices = await _deliver(rt, conn, sms, message)
        # Pushed to the user's webhook too, if they have one: decided here, sent after.
        pushed = bool(notices) and await user_webhooks.enqueue(
            conn, rt, notices[0].user_id, notices[0].activation_id, sms.id
        )
    if pushed:
        rt.webhooks_queued()  # the webhook worker sends it now, not at its next poll
    return notices


def _unsaved(message: IncomingSms) -> Sms:
    return Sms(
        supplier=message.supplier,
        supplier_message_id=message.message_id,
        to_e164=message.to,
        sender=message.sender,
        text=message.text,
        received_at=message.received_at,
    )


async def _deliver(
    rt: Runtime, conn: Connection, sms: Sms, message: IncomingSms
) -> list[events.Notice]:
    # Only the supplier that owns the number may deliver to it: another supplier's message is
    # stored for audit, never shown nor charged for (a webhook is never trusted blindly).
    number = await PhoneNumber.get_or_none(
        e164=message.to, supplier_id=message.supplier.id, using_db=conn
    )
    if number is None:
        return []
    live = (
        await Activation.filter(
            number_id=number.id, status__in=LIVE_STATUSES, expires_at__gt=rt.clock.now()
        )
        .using_db(conn)
        .order_by("id")
    )
    # Read through this transaction's connection: on SQLite any other read would wait for the
    # transaction to end (one connection per process), so a cache rebuild here would deadlock.
    service_ids = {a.service_id for a in live}
    service_by_id = {s.id: s for s in await Service.filter(id__in=service_ids).using_db(conn)}
    chosen = _choose(message, [(a, service_by_id.get(a.service_id)) for a in live])
    if chosen is None:
        return []
    return await _deliver_to(rt, conn, sms, *chosen)


def _choose(
    message: IncomingSms, live: Sequence[tuple[Activation, Patterns | None]]
) -> tuple[Activation, str | None] | None:
    """Of the live activations on the number (oldest first, each with its service's patterns),
    the one this message is for, and the code read from it; None if it is for none (R2)."""
    if message.for_activation_id is not None:
        live = [(a, p) for a, p in live if a.id == message.for_activation_id]
    for activation, patterns in live:
        if activation.created_at > message.received_at:
            # R2: an SMS older than the activation was meant for whoever had the number before
            # (a late delivery, or a forged date): stored for audit, never shown nor charged for.
            continue
        if message.for_activation_id is not None:
            return activation, message.code
        if patterns is not None and belongs_to(patterns, message.sender, message.text):
            return activation, extract_code(patterns, message.text)
    return None


async def _deliver_to(
    rt: Runtime, conn: Connection, sms: Sms, activation: Activation, code: str | None
) -> list[events.Notice]:
    """Delivers the SMS to the activation it was matched to, if it is still live: its events
    (none if it was not). On PostgreSQL this also stores the SMS and commits."""
    if is_postgres():
        return await _deliver_in_one_statement(rt, conn, sms, activation, code)
    await locks.user_events(conn, activation.user_id)  # events of a user commit in id order
    # R4: past sms_deadline the activation is due to expire with a refund, even if the sweeper
    # has not got to it yet; a late first SMS must not capture it.
    first = (
        await Activation.filter(
            id=activation.id,
            status=ActivationStatus.WAITING_SMS,
            sms_deadline_at__gt=rt.clock.now(),
        )
        .using_db(conn)
        .update(
            status=ActivationStatus.RECEIVED,
            code=code,
            another_sms_requested_at=None,
            first_sms_at=rt.clock.now(),
        )
    )
    if not first:
        # Not waiting any more: deliver as a further SMS only if it is still RECEIVED (a cancel
        # or the sweeper may have won the race, and then the message is just stored).
        updates = {"another_sms_requested_at": None} | ({"code": code} if code else {})
        if (
            not await Activation.filter(id=activation.id, status=ActivationStatus.RECEIVED)
            .using_db(conn)
            .update(**updates)
        ):
            return []
    await Sms.filter(id=sms.id).using_db(conn).update(activation_id=activation.id, code=code)
    current = await Activation.get(id=activation.id, using_db=conn)
    notices = [await events.record(conn, current, EventKind.SMS_RECEIVED, sms_id=sms.id)]
    if first:
        metrics.CODES.inc()
        hold = await Transfer.get(
            activation_id=activation.id, kind=TransferKind.HOLD, using_db=conn
        )
        await ledger.capture(
            conn,
            hold,
            user_id=current.user_id,
            supplier_id=sms.supplier_id,  # the number's own supplier (checked by _deliver)
            cost_minor=current.cost_minor,
        )
        notices.append(await events.record(conn, current, EventKind.STATUS_CHANGED))
    return notices


async def _deliver_in_one_statement(
    rt: Runtime, conn: Connection, sms: Sms, activation: Activation, code: str | None
) -> list[events.Notice]:
    """PostgreSQL: the delivery, its capture, events and webhook, committed by one statement."""
    written = await sms_writes.deliver(
        conn,
        sms=sms,
        activation=activation,
        code=code,
        now=rt.clock.now(),
        idempotency_key=user_webhooks.new_idempotency_key(),
        outbox_kind=user_webhooks.KIND,
    )
    if written.first:
        metrics.CODES.inc()
    if written.queued:
        rt.webhooks_queued()  # committed: the webhook worker sends it now
    return written.notices


async def latest_delivered(activation_ids: list[int]) -> dict[int, Sms]:
    """The newest SMS delivered to each of these activations; those without one are left out.

    For APIs that show "the SMS" of an activation (the compatible API's getStatus, getFullSms,
    getStatusV2, getActiveActivations).
    """
    delivered = await messages_of(activation_ids)
    return {
        i: messages[-1] for i, messages in zip(activation_ids, delivered, strict=True) if messages
    }


async def messages_of(activation_ids: list[int]) -> list[list[Sms]]:
    """The SMS delivered to each of these activations, oldest first (R2: only its own
    service's), in the order of `activation_ids`: the batch function of the GraphQL loader."""
    by_activation: dict[int, list[Sms]] = {i: [] for i in activation_ids}
    for sms in await Sms.filter(activation_id__in=activation_ids).order_by("id"):
        assert sms.activation_id is not None  # filtered on it
        by_activation[sms.activation_id].append(sms)
    return [by_activation[i] for i in activation_ids]
