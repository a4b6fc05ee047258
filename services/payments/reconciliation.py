"""Where a processor and the ledger disagree, and settling one such top-up exactly once.

A webhook may never arrive (an outage, a firewall, a wrong secret). The report asks each
processor about the top-ups that could be affected (pending for a while, or closed as expired or
failed), lists those whose processor state differs from what the ledger credited, and the
approved refund requests whose payout the processor has not confirmed. `settle` re-fetches one
top-up and applies it through the same settlement as a notification: the running totals make a
second settle, or a late webhook, move nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta

from tortoise.expressions import Q

from models import (
    AccountKind,
    LedgerAccount,
    PayoutState,
    RefundRequest,
    RefundRequestState,
    TopUp,
    TopUpStatus,
)
from services import activity, money
from services.accounts import Viewer, require_admin
from services.db import atomic
from services.errors import InvalidState, NotFound, PaymentProviderUnavailable
from services.ids import parse_id
from services.payments import notifications, registry, settlement
from services.payments.processor import PaymentUpdate, ProcessorUnavailable
from services.runtime import Runtime


@dataclass(frozen=True)
class Discrepancy:
    top_up: TopUp
    processor_status: str  # pending | paid | failed | expired | unknown
    processor_paid_minor: int | None
    problem: str


async def report(rt: Runtime, admin: Viewer) -> list[Discrepancy]:
    require_admin(admin)
    settings = rt.settings
    old_enough = rt.clock.now() - timedelta(seconds=settings.reconcile_min_age_seconds)
    suspects = (
        await TopUp.filter(
            status__in=[TopUpStatus.PENDING, TopUpStatus.EXPIRED, TopUpStatus.FAILED],
            created_at__lt=old_enough,
            provider__in=list(registry.configured(settings)),
        )
        .order_by("-id")
        .limit(settings.reconcile_batch_size)
    )
    found = [d for d in [await _compare(rt, top_up) for top_up in suspects] if d is not None]
    return found + await _unconfirmed_payouts() + await _debts(settings.reconcile_batch_size)


async def _compare(rt: Runtime, top_up: TopUp) -> Discrepancy | None:
    try:
        update = await _fetch(rt, top_up)
    except ProcessorUnavailable as exc:
        if top_up.status != TopUpStatus.PENDING:
            return None  # closed, and the processor has no payment for it: nothing to settle
        return Discrepancy(top_up, "unknown", None, f"the processor did not answer: {exc}")
    if update.status == "paid" and update.paid_minor != top_up.credited_minor:
        return Discrepancy(
            top_up, "paid", update.paid_minor, "paid at the processor, not credited here"
        )
    if update.status in ("failed", "expired") and top_up.status == TopUpStatus.PENDING:
        return Discrepancy(top_up, update.status, 0, "closed at the processor, pending here")
    return None


async def _unconfirmed_payouts() -> list[Discrepancy]:
    problems = []
    for refund in await RefundRequest.filter(
        state=RefundRequestState.APPROVED,
        payout_state__in=[PayoutState.REQUESTED, PayoutState.FAILED],
    ).prefetch_related("top_up"):
        assert refund.top_up is not None, "a payout through a processor names its top-up"
        problems.append(
            Discrepancy(
                refund.top_up,
                "unknown",
                None,
                f"refund request {refund.id}: the processor has not confirmed its payout",
            )
        )
    return problems


async def _debts(limit: int) -> list[Discrepancy]:
    """Users who owe money after a chargeback (restricted until a top-up repays it)."""
    problems = []
    for debt in await LedgerAccount.filter(kind=AccountKind.DEBT, balance_minor__lt=0).limit(limit):
        top_up = (
            await TopUp.filter(user_id=debt.user_id)
            .filter(Q(refunded_minor__gt=0) | Q(disputed_minor__gt=0))
            .order_by("-id")
            .first()
        )
        if top_up is not None:
            owed = money.format_minor(-debt.balance_minor)
            problems.append(
                Discrepancy(top_up, "paid", None, f"user {debt.user_id} owes {owed} (restricted)")
            )
    return problems


async def _fetch(rt: Runtime, top_up: TopUp) -> PaymentUpdate:
    processor = registry.configured(rt.settings).get(top_up.provider)
    if processor is None or top_up.reference is None:
        raise ProcessorUnavailable(f"{top_up.provider} is not configured here")
    return await processor.fetch(top_up.reference, top_up.payment_reference)


async def settle(rt: Runtime, admin: Viewer, top_up_id: int | str, *, ip: str | None) -> TopUp:
    """Re-fetches a top-up from its processor and applies what it says, exactly once."""
    require_admin(admin)
    top_up = await TopUp.get_or_none(id=parse_id(top_up_id, what="top-up", field="id"))
    if top_up is None:
        raise NotFound("no such top-up", field="id")
    try:
        update = await _fetch(rt, top_up)
    except ProcessorUnavailable as exc:
        raise PaymentProviderUnavailable(str(exc), field="id") from exc
    if update.reference != top_up.reference:
        raise InvalidState("the processor answered for another checkout")
    # Its own event key per state seen: a later settle of a changed state is a new event.
    key = f"reconcile:{top_up.id}:{update.status}:{update.paid_minor}"
    update = dataclasses.replace(update, event_key=key)
    try:
        outcome = await settlement.settle_payment(rt, top_up.provider, update, reopen=True)
    except settlement.AmountMismatch as exc:
        raise InvalidState(f"the processor's amount does not match: {exc}") from exc
    async with atomic() as conn:
        await activity.record(
            conn,
            "admin_settle_top_up",
            user_id=top_up.user_id,
            actor_id=admin.user_id,
            ip=ip,
            detail=f"top-up {top_up.id} of user {top_up.user_id}: {outcome.status}",
        )
    if outcome.status == "credited":
        await notifications.wake(rt, top_up.user_id)
    return await TopUp.get(id=top_up.id)
