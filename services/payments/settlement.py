"""A verified processor update becomes at most one ledger movement, however often it arrives.

Three guards, each enough on its own: the notification's event key is unique per processor
(`payment_notification`); the top-up's running totals (`credited_minor`, `refunded_minor`,
`disputed_minor`) move only by a conditional UPDATE from the value this transaction read, so a
second delivery of the same total moves nothing; and on PostgreSQL the top-up row is locked
while the money moves. Amount and currency must match the top-up before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass

from models import PaymentNotification, TopUp, TopUpStatus, TransferKind
from services import activity, ledger, locks, metrics, money
from services.db import Connection, IntegrityError, atomic
from services.payments import clearing
from services.payments.processor import ChargebackUpdate, PaymentUpdate
from services.runtime import Runtime


class UnknownPayment(Exception):
    """No top-up of this processor has this reference: 404."""


class AmountMismatch(Exception):
    """The notification's amount or currency is not the top-up's: 400, nothing credited."""


class TopUpClosed(Exception):
    """A payment for a top-up that has expired or failed: 409 (the reconciliation lists it)."""


class _Seen(Exception):
    """This notification was applied before (checked under the top-up's lock)."""


class _AlreadySettled(Exception):
    """Raised inside the transaction to roll it back when another delivery got there first."""


@dataclass(frozen=True)
class Outcome:
    status: str  # credited | charged_back | closed | pending | unchanged | duplicate
    user_id: int | None = None


async def settle_payment(
    rt: Runtime, provider: str, update: PaymentUpdate, *, reopen: bool = False
) -> Outcome:
    """Applies a payment update. `reopen` (an admin's reconciliation) lets a payment settle a
    top-up that was closed as expired or failed; a notification alone never does."""
    found = await TopUp.get_or_none(provider=provider, reference=update.reference)
    if found is None:
        raise UnknownPayment("no top-up has this payment reference")
    _check_amount(found, update.amount_minor, update.currency, exact=True)
    try:
        async with atomic() as conn:
            await locks.user_events(conn, found.user_id)
            top_up = await locks.rows(TopUp.filter(id=found.id)).using_db(conn).get()
            await _not_seen(conn, provider, update.event_key)
            status = await _apply_payment(rt, conn, top_up, update, reopen=reopen)
            await _record(conn, provider, update.event_key, "payment", top_up, status)
    except (IntegrityError, _Seen):
        return Outcome("duplicate", found.user_id)
    except _AlreadySettled:
        return Outcome("unchanged", found.user_id)
    return Outcome(status, found.user_id)


async def _apply_payment(
    rt: Runtime, conn: Connection, top_up: TopUp, update: PaymentUpdate, *, reopen: bool
) -> str:
    closed = top_up.status in (TopUpStatus.EXPIRED, TopUpStatus.FAILED)
    if update.status == "pending":
        if update.payment_reference and top_up.payment_reference is None:
            await (
                TopUp.filter(id=top_up.id)
                .using_db(conn)
                .update(payment_reference=update.payment_reference)
            )
        return "pending"
    if update.status in ("failed", "expired"):
        if top_up.status != TopUpStatus.PENDING:
            return "unchanged"
        new = TopUpStatus.FAILED if update.status == "failed" else TopUpStatus.EXPIRED
        await (
            TopUp.filter(id=top_up.id, status=TopUpStatus.PENDING)
            .using_db(conn)
            .update(status=new, completed_at=rt.clock.now(), checkout_url=None)
        )
        return "closed"
    if closed and not reopen:
        raise TopUpClosed(f"the top-up is {top_up.status.value.lower()}")
    delta = update.paid_minor - top_up.credited_minor
    if delta <= 0 or top_up.status == TopUpStatus.REFUNDED:
        return "unchanged"
    await _credit(rt, conn, top_up, update, delta)
    return "credited"


async def _credit(
    rt: Runtime, conn: Connection, top_up: TopUp, update: PaymentUpdate, delta: int
) -> None:
    changed = (
        await TopUp.filter(id=top_up.id, credited_minor=top_up.credited_minor)
        .using_db(conn)
        .update(
            credited_minor=update.paid_minor,
            status=TopUpStatus.SUCCEEDED,
            completed_at=rt.clock.now(),
            checkout_url=None,
            payment_reference=top_up.payment_reference or update.payment_reference,
        )
    )
    if changed != 1:
        raise _AlreadySettled
    metrics.TOP_UPS.labels(top_up.provider).inc()
    metrics.TOP_UP_MINOR.labels(top_up.provider).inc(delta)
    source = await clearing.clearing_account(conn, top_up.provider)
    user = await ledger.user_account(top_up.user_id, conn)
    await ledger.post(
        conn,
        kind=TransferKind.TOP_UP,
        debit=source,
        credit=user,
        amount_minor=delta,
        description=f"top-up {top_up.id} ({top_up.provider})",
        top_up_id=top_up.id,
    )
    await _repay_debt(conn, top_up)
    await activity.record(
        conn,
        "top_up",
        user_id=top_up.user_id,
        ip=None,
        detail=f"top-up {top_up.id}: {money.format_minor(delta)} via {top_up.provider}",
    )


async def _repay_debt(conn: Connection, top_up: TopUp) -> None:
    """What the user owes (a refund or dispute their balance could not cover) is paid first."""
    debt = await clearing.debt_account(conn, top_up.user_id, create=False)
    if debt is None:
        return
    user = await ledger.user_account(top_up.user_id, conn)
    balances = await clearing.lock_accounts(conn, user, debt)
    repay = min(-balances[debt.id], balances[user.id])
    if repay <= 0:
        return
    await ledger.post(
        conn,
        kind=TransferKind.REPAYMENT,
        debit=user,
        credit=debt,
        amount_minor=repay,
        description=f"repays what a chargeback left owing (top-up {top_up.id})",
        top_up_id=top_up.id,
    )
    if repay == -balances[debt.id]:
        await clearing.set_restricted(conn, top_up.user_id, False)


async def settle_chargeback(rt: Runtime, provider: str, update: ChargebackUpdate) -> Outcome:
    """A refund made at the processor, or a dispute: the money leaves the user's balance, and
    what the balance does not hold becomes a debt (the account is restricted until repaid)."""
    found = await TopUp.get_or_none(provider=provider, payment_reference=update.payment_reference)
    if found is None:
        raise UnknownPayment("no top-up has this payment reference")
    _check_amount(found, update.total_minor, update.currency, exact=False)
    key = f"dispute:{update.dispute_id}" if update.dispute_id else update.event_key
    try:
        async with atomic() as conn:
            await locks.user_events(conn, found.user_id)
            top_up = await locks.rows(TopUp.filter(id=found.id)).using_db(conn).get()
            await _not_seen(conn, provider, key)
            status = await _apply_chargeback(rt, conn, top_up, update)
            await _record(conn, provider, key, "chargeback", top_up, status)
    except (IntegrityError, _Seen):
        return Outcome("duplicate", found.user_id)
    except _AlreadySettled:
        return Outcome("unchanged", found.user_id)
    return Outcome(status, found.user_id)


async def _apply_chargeback(
    rt: Runtime, conn: Connection, top_up: TopUp, update: ChargebackUpdate
) -> str:
    field = "disputed_minor" if update.dispute_id else "refunded_minor"
    before = getattr(top_up, field)
    total = before + update.total_minor if update.dispute_id else update.total_minor
    delta = total - before
    if delta <= 0:
        return "unchanged"
    if top_up.refunded_minor + top_up.disputed_minor + delta > top_up.credited_minor:
        raise AmountMismatch("more taken back than this top-up credited")
    taken_back = top_up.refunded_minor + top_up.disputed_minor + delta
    changed = (
        await TopUp.filter(id=top_up.id, **{field: before})
        .using_db(conn)
        .update(
            **{field: total},
            status=(TopUpStatus.REFUNDED if taken_back == top_up.credited_minor else top_up.status),
        )
    )
    if changed != 1:
        raise _AlreadySettled
    await take_back(conn, top_up, delta, "dispute" if update.dispute_id else "refund")
    return "charged_back"


async def take_back(conn: Connection, top_up: TopUp, amount_minor: int, why: str) -> None:
    """Moves `amount_minor` from the user to the processor's clearing account: from the balance
    as far as it goes, the rest from the user's debt account (and the account is restricted)."""
    target = await clearing.clearing_account(conn, top_up.provider)
    user = await ledger.user_account(top_up.user_id, conn)
    balances = await clearing.lock_accounts(conn, target, user)
    from_balance = min(amount_minor, balances[user.id])
    description = f"{why} at {top_up.provider} of top-up {top_up.id}"
    if from_balance > 0:
        await ledger.post(
            conn,
            kind=TransferKind.CHARGEBACK,
            debit=user,
            credit=target,
            amount_minor=from_balance,
            description=description,
            top_up_id=top_up.id,
        )
    owed = amount_minor - from_balance
    if owed > 0:
        debt = await clearing.debt_account(conn, top_up.user_id, create=True)
        assert debt is not None
        await ledger.post(
            conn,
            kind=TransferKind.CHARGEBACK,
            debit=debt,
            credit=target,
            amount_minor=owed,
            description=f"{description}: owed",
            top_up_id=top_up.id,
        )
        if await clearing.set_restricted(conn, top_up.user_id, True):
            await activity.record(
                conn,
                "account_restricted",
                user_id=top_up.user_id,
                ip=None,
                detail=f"owes {money.format_minor(owed)} after a {why} (top-up {top_up.id})",
            )
    await activity.record(
        conn,
        f"top_up_{why}",
        user_id=top_up.user_id,
        ip=None,
        detail=f"{description}: {money.format_minor(amount_minor)}",
    )


def _check_amount(top_up: TopUp, amount_minor: int, currency: str, *, exact: bool) -> None:
    if currency.upper() != top_up.currency:
        raise AmountMismatch(f"currency {currency[:3]!r} is not the top-up's {top_up.currency}")
    if exact and amount_minor != top_up.amount_minor:
        raise AmountMismatch("the amount is not the top-up's")
    if not exact and amount_minor > top_up.amount_minor * 2:  # bounded before any arithmetic
        raise AmountMismatch("the amount is larger than the payment")


async def _not_seen(conn: Connection, provider: str, key: str) -> None:
    if (
        await PaymentNotification.filter(provider=provider, event_key=key[:200])
        .using_db(conn)
        .exists()
    ):
        raise _Seen


async def _record(
    conn: Connection, provider: str, key: str, kind: str, top_up: TopUp, outcome: str
) -> None:
    await PaymentNotification.create(
        provider=provider,
        event_key=key[:200],
        kind=kind,
        top_up_id=top_up.id,
        outcome=outcome,
        using_db=conn,
    )
