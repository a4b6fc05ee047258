"""Top-ups (R10): start one at a processor, list them, list the processors.

`create` never moves money: it records a PENDING top-up and asks the processor for its hosted
checkout page. Only the processor's signed notification credits the balance (settlement.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import structlog

from models import TopUp, TopUpStatus
from services import activity, money, text
from services.accounts import Viewer
from services.db import IntegrityError, atomic
from services.errors import (
    AmountOutOfRange,
    IdempotencyConflict,
    PaymentProviderUnavailable,
)
from services.payments import registry
from services.payments.processor import CheckoutRequest, Processor, ProcessorUnavailable
from services.runtime import Runtime
from settings import Settings

MAX_KEY_LENGTH = 100
log = structlog.get_logger("payments")


@dataclass(frozen=True)
class Provider:
    code: str
    name: str
    min_minor: int
    max_minor: int


def providers(settings: Settings) -> list[Provider]:
    return [
        Provider(p.code, p.name, settings.top_up_min_minor, settings.top_up_max_minor)
        for p in registry.configured(settings).values()
    ]


async def create(
    rt: Runtime,
    viewer: Viewer,
    amount: Decimal | str,
    provider: str,
    idempotency_key: str | None,
    *,
    ip: str | None,
) -> TopUp:
    settings = rt.settings
    processor = registry.configured(settings).get(provider)
    if processor is None:
        raise PaymentProviderUnavailable(
            f"no payment provider {provider[:40]!r} here", field="provider"
        )
    amount_minor = _amount(settings, amount)
    key = _key(idempotency_key)
    if key is not None:
        existing = await TopUp.get_or_none(user_id=viewer.user_id, idempotency_key=key)
        if existing is not None:
            return _same_request(existing, provider, amount_minor)
    try:
        async with atomic() as conn:
            top_up = await TopUp.create(
                user_id=viewer.user_id,
                provider=provider,
                amount_minor=amount_minor,
                currency=settings.currency,
                idempotency_key=key,
                expires_at=rt.clock.now() + timedelta(seconds=settings.top_up_expiry_seconds),
                using_db=conn,
            )
            await activity.record(
                conn,
                "top_up_started",
                user_id=viewer.user_id,
                ip=ip,
                detail=f"top-up {top_up.id}: {money.format_minor(amount_minor)} via {provider}",
            )
    except IntegrityError:  # the same key, at the same moment
        existing = await TopUp.get(user_id=viewer.user_id, idempotency_key=key)
        return _same_request(existing, provider, amount_minor)
    return await _open_checkout(rt, processor, top_up)


async def _open_checkout(rt: Runtime, processor: Processor, top_up: TopUp) -> TopUp:
    """Asks the processor for its page, outside any transaction (a network call)."""
    base = rt.settings.public_url
    request = CheckoutRequest(
        top_up_id=top_up.id,
        amount_minor=top_up.amount_minor,
        currency=top_up.currency,
        description=f"SMS Rooms balance top-up {top_up.id}",
        success_url=f"{base}/payments/done?top_up={top_up.id}",
        cancel_url=f"{base}/payments/done?top_up={top_up.id}&cancelled=1",
        notify_url=f"{base}/payments/{processor.code}/webhook",
        expires_at=top_up.expires_at,
    )
    try:
        checkout = await processor.create_checkout(request)
    except ProcessorUnavailable as exc:
        log.warning("checkout not created", provider=processor.code, error=str(exc))
        await TopUp.filter(id=top_up.id, status=TopUpStatus.PENDING).update(
            status=TopUpStatus.FAILED, completed_at=rt.clock.now()
        )
        raise PaymentProviderUnavailable(
            f"{processor.name} is not available right now", field="provider"
        ) from exc
    await TopUp.filter(id=top_up.id).update(reference=checkout.reference, checkout_url=checkout.url)
    return await TopUp.get(id=top_up.id)


def _amount(settings: Settings, amount: Decimal | str) -> int:
    minor = money.to_minor(amount, field="amount", limit_minor=settings.max_adjustment_minor)
    if not settings.top_up_min_minor <= minor <= settings.top_up_max_minor:
        low, high = (
            money.format_minor(settings.top_up_min_minor),
            money.format_minor(settings.top_up_max_minor),
        )
        raise AmountOutOfRange(f"a top-up is between {low} and {high}", field="amount")
    return minor


def _key(raw: str | None) -> str | None:
    if raw is None:
        return None
    return text.opaque(raw, field="idempotencyKey", max_length=MAX_KEY_LENGTH)


def _same_request(existing: TopUp, provider: str, amount_minor: int) -> TopUp:
    if existing.provider != provider or existing.amount_minor != amount_minor:
        raise IdempotencyConflict(
            "this idempotency key was used for another top-up", field="idempotencyKey"
        )
    return existing


async def page(viewer: Viewer, *, first: int, after: int | None) -> tuple[list[TopUp], bool]:
    """The viewer's top-ups, newest first; `after` is the id of the last one seen."""
    query = TopUp.filter(user_id=viewer.user_id)
    if after is not None:
        query = query.filter(id__lt=after)
    rows = await query.order_by("-id").limit(first + 1)
    return rows[:first], len(rows) > first


async def expire_due(rt: Runtime) -> int:
    """Closes pending top-ups whose checkout page expired (a background job; one conditional
    UPDATE, safe with N processes). The grace of WEBHOOK_TOLERANCE_SECONDS lets a payment made
    in the page's last moment arrive first; one that arrives later still is refused and listed
    by the reconciliation, where an admin can settle it."""
    now = rt.clock.now()
    cutoff = now - timedelta(seconds=rt.settings.webhook_tolerance_seconds)
    return await TopUp.filter(status=TopUpStatus.PENDING, expires_at__lt=cutoff).update(
        status=TopUpStatus.EXPIRED, completed_at=now, checkout_url=None
    )
