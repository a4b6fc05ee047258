"""Refund requests (R15): the remaining balance is paid back only on request, decided by an admin,
and the processor's fees are not refunded.

Filing one holds the amount (a pending HOLD, user -> escrow) so it cannot be spent meanwhile. A
decline voids the hold (escrow -> user). An approval posts it (CAPTURE escrow -> clearing) and
keeps the fee (FEE clearing -> revenue); the payout goes back through the processor of the
user's newest top-up that can refund it (the processor's refund is asked for after the commit
and its webhook then finds nothing left to move), or else is made by hand by the operator,
through the clearing account without a processor.
"""

from __future__ import annotations

from decimal import Decimal

import structlog
from tortoise.expressions import F

from models import (
    AccountKind,
    PayoutState,
    RefundRequest,
    RefundRequestState,
    TopUp,
    TopUpStatus,
    Transfer,
    TransferKind,
)
from services import activity, ledger, locks, money, text
from services.accounts import Viewer, require_admin
from services.db import Connection, atomic
from services.errors import InvalidInput, InvalidState, NotFound
from services.ids import parse_id
from services.payments import clearing, notifications, registry
from services.payments.processor import ProcessorUnavailable
from services.runtime import Runtime
from settings import Settings

log = structlog.get_logger("payments")


async def request(
    rt: Runtime, viewer: Viewer, amount: Decimal | str, reason: str, *, ip: str | None
) -> RefundRequest:
    settings = rt.settings
    reason = _text(settings, reason, "reason")
    minor = money.to_minor(amount, field="amount", limit_minor=settings.max_adjustment_minor)
    if minor <= 0:
        raise InvalidInput("the amount must be positive", field="amount")
    async with atomic() as conn:
        await locks.user_events(conn, viewer.user_id)  # the user's requests, one at a time
        pending = (
            await RefundRequest.filter(user_id=viewer.user_id, state=RefundRequestState.PENDING)
            .using_db(conn)
            .count()
        )
        if pending >= settings.refund_requests_pending_max:
            raise InvalidState("too many refund requests are waiting for a decision")
        hold = await ledger.post(
            conn,
            kind=TransferKind.HOLD,
            debit=await ledger.user_account(viewer.user_id, conn),
            credit=await ledger.escrow_account(viewer.user_id, conn),
            amount_minor=minor,
            description="held for a refund request",
        )
        refund = await RefundRequest.create(
            user_id=viewer.user_id, amount_minor=minor, reason=reason, hold=hold, using_db=conn
        )
        await activity.record(
            conn,
            "refund_request",
            user_id=viewer.user_id,
            ip=ip,
            detail=f"refund request {refund.id}: {money.format_minor(minor)}",
        )
    await notifications.wake(rt, viewer.user_id)
    return refund


async def decide(
    rt: Runtime,
    admin: Viewer,
    request_id: int | str,
    *,
    approve: bool,
    note: str,
    ip: str | None,
) -> RefundRequest:
    require_admin(admin)
    note = _text(rt.settings, note, "note")
    found = await RefundRequest.get_or_none(
        id=parse_id(request_id, what="refund request", field="id")
    )
    if found is None:
        raise NotFound("no such refund request", field="id")
    async with atomic() as conn:
        await locks.user_events(conn, found.user_id)
        changed = (
            await RefundRequest.filter(id=found.id, state=RefundRequestState.PENDING)
            .using_db(conn)
            .update(
                state=RefundRequestState.APPROVED if approve else RefundRequestState.DECLINED,
                note=note,
                decided_by_id=admin.user_id,
                decided_at=rt.clock.now(),
            )
        )
        if changed != 1:
            raise InvalidState("this refund request has already been decided")
        if approve:
            await _approve(rt, conn, found)
        else:
            await _decline(conn, found)
        await activity.record(
            conn,
            "admin_refund_approved" if approve else "admin_refund_declined",
            user_id=found.user_id,
            actor_id=admin.user_id,
            ip=ip,
            detail=f"refund request {found.id} of user {found.user_id}: {note}",
        )
    await notifications.wake(rt, found.user_id)
    refund = await RefundRequest.get(id=found.id)
    if refund.payout_state == PayoutState.REQUESTED:
        refund = await pay_out(rt, refund)
    return refund


async def _decline(conn: Connection, refund: RefundRequest) -> None:
    hold = await Transfer.get(id=refund.hold_id, using_db=conn)
    await ledger.post(
        conn,
        kind=TransferKind.VOID,
        debit=await ledger.escrow_account(refund.user_id, conn),
        credit=await ledger.user_account(refund.user_id, conn),
        amount_minor=hold.amount_minor,
        description=f"refund request {refund.id} declined",
        pending=hold,
    )


async def _approve(rt: Runtime, conn: Connection, refund: RefundRequest) -> None:
    fee = fee_minor(rt.settings, refund.amount_minor)
    payout = refund.amount_minor - fee
    source = await _payout_top_up(rt.settings, conn, refund.user_id, payout)
    escrow = await ledger.escrow_account(refund.user_id, conn)
    hold = await Transfer.get(id=refund.hold_id, using_db=conn)
    if payout == 0:  # the fee takes it all
        target = await ledger.system_account(AccountKind.REVENUE, conn)
    else:
        target = await clearing.clearing_account(conn, source.provider if source else None)
    await ledger.post(
        conn,
        kind=TransferKind.CAPTURE,
        debit=escrow,
        credit=target,
        amount_minor=refund.amount_minor,
        description=f"refund request {refund.id} approved",
        pending=hold,
        top_up_id=source.id if source else None,
    )
    if fee and payout:
        await ledger.post(
            conn,
            kind=TransferKind.FEE,
            debit=target,
            credit=await ledger.system_account(AccountKind.REVENUE, conn),
            amount_minor=fee,
            description=f"processor fees kept from refund request {refund.id} (R15)",
            top_up_id=source.id if source else None,
        )
    state = PayoutState.NONE if payout == 0 else PayoutState.MANUAL
    if source is not None:
        state = PayoutState.REQUESTED
        changed = (
            await TopUp.filter(id=source.id, refunded_minor=source.refunded_minor)
            .using_db(conn)
            .update(refunded_minor=F("refunded_minor") + payout)
        )
        assert changed == 1, "the top-up row is locked by this transaction"
    await (
        RefundRequest.filter(id=refund.id)
        .using_db(conn)
        .update(fee_minor=fee, top_up_id=source.id if source else None, payout_state=state)
    )


async def _payout_top_up(
    settings: Settings, conn: Connection, user_id: int, payout: int
) -> TopUp | None:
    """The user's newest succeeded top-up, at a processor here that refunds, with enough left
    to refund; locked. None: the operator pays out by hand."""
    if payout == 0:
        return None
    refunding = [p.code for p in registry.configured(settings).values() if p.refunds]
    candidates = (
        TopUp.filter(user_id=user_id, status=TopUpStatus.SUCCEEDED, provider__in=refunding)
        .filter(payment_reference__isnull=False)
        .order_by("-id")
        .limit(settings.refund_top_ups_considered)
    )
    for top_up in await locks.rows(candidates).using_db(conn):
        if top_up.credited_minor - top_up.refunded_minor - top_up.disputed_minor >= payout:
            return top_up
    return None


async def pay_out(rt: Runtime, refund: RefundRequest) -> RefundRequest:
    """Asks the processor to refund an approved request (after the commit: a network call).
    Safe to repeat: the processor's idempotency key is the request's id and its payment's."""
    top_up = await TopUp.get(id=refund.top_up_id)
    processor = registry.configured(rt.settings).get(top_up.provider)
    payout = refund.amount_minor - refund.fee_minor
    try:
        if processor is None or top_up.payment_reference is None:
            raise ProcessorUnavailable(f"{top_up.provider} is not configured here")
        reference = await processor.refund(
            # Unique at the processor, not only in this database: a key of the request id
            # alone would replay another database's refund on a shared account (a re-created
            # or a second shop's database).
            top_up.payment_reference,
            payout,
            f"refund-request-{refund.id}-{top_up.payment_reference}",
        )
    except ProcessorUnavailable as exc:
        log.warning("refund payout failed", refund_request=refund.id, error=str(exc))
        await RefundRequest.filter(id=refund.id).update(payout_state=PayoutState.FAILED)
    else:
        await RefundRequest.filter(id=refund.id).update(
            payout_state=PayoutState.ISSUED, payout_reference=reference[:100]
        )
    return await RefundRequest.get(id=refund.id)


def fee_minor(settings: Settings, amount_minor: int) -> int:
    """R15: the processor fees kept, never more than the amount itself."""
    proportional = amount_minor * settings.refund_fee_basis_points // 10_000
    return min(amount_minor, settings.refund_fee_fixed_minor + proportional)


async def page(
    admin: Viewer, state: RefundRequestState | None, *, first: int, after: int | None
) -> tuple[list[RefundRequest], bool]:
    """Admin only: oldest first; `after` is the id of the last one seen."""
    require_admin(admin)
    query = RefundRequest.all()
    if state is not None:
        query = query.filter(state=state)
    if after is not None:
        query = query.filter(id__gt=after)
    rows = await query.order_by("id").limit(first + 1)
    return rows[:first], len(rows) > first


def _text(settings: Settings, raw: str, field: str) -> str:
    return text.readable(raw, field=field, max_length=settings.max_string_length)
