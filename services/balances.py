"""A user's balance as the APIs show it: the history of transfers and admin adjustments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from tortoise.expressions import Q

from models import AccountKind, Transfer, TransferKind, User
from services import activity, ledger, locks, money, text
from services.accounts import Viewer, require_admin
from services.db import atomic, newest_id
from services.errors import InvalidInput, NotFound
from services.ids import parse_id

if TYPE_CHECKING:
    from services.runtime import Runtime

# What the user's history calls each kind of transfer that touches their spendable balance.
HISTORY_KIND = {
    TransferKind.TOP_UP: "TOP_UP",
    TransferKind.HOLD: "PURCHASE",
    TransferKind.VOID: "REFUND",
    TransferKind.REVERSAL: "REFUND",  # an activation revoked after its code (R14)
    TransferKind.ADJUSTMENT: "ADJUSTMENT",
    TransferKind.FORFEIT: "FORFEIT",
    TransferKind.WITHDRAWAL: "WITHDRAWAL",
    TransferKind.CHARGEBACK: "CHARGEBACK",
    TransferKind.REPAYMENT: "CHARGEBACK",
}
# Holds and voids without an activation belong to refund requests (R15).
NOT_A_PURCHASE = {TransferKind.HOLD: "WITHDRAWAL", TransferKind.VOID: "REFUND"}


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    kind: str
    amount_minor: int  # signed: negative when money leaves the balance
    balance_after_minor: int
    created_at: datetime
    activation_id: int | None
    description: str


async def history(
    viewer: Viewer, *, first: int, after: int | None
) -> tuple[list[HistoryEntry], bool]:
    """Newest first; `after` is the id of the last transfer of the previous page."""
    account = await ledger.user_account(viewer.user_id)
    query = Transfer.filter(Q(debit_account_id=account.id) | Q(credit_account_id=account.id))
    if after is not None:
        query = query.filter(id__lt=after)
    rows = await query.order_by("-id").limit(first + 1)
    entries = [_entry(t, account.id) for t in rows[:first]]
    return entries, len(rows) > first


async def changes_after(user_id: int, after: int, limit: int) -> list[HistoryEntry]:
    """The live feed of a balance (`balanceChanges`): its transfers after `after`, oldest first.
    Writers take the user's event lock (services/locks.py), so ids commit in order."""
    account = await ledger.user_account(user_id)
    query = Transfer.filter(Q(debit_account_id=account.id) | Q(credit_account_id=account.id))
    rows = await query.filter(id__gt=after).order_by("id").limit(limit)
    return [_entry(t, account.id) for t in rows]


async def latest_change_id(user_id: int) -> int:
    account = await ledger.user_account(user_id)
    query = Transfer.filter(Q(debit_account_id=account.id) | Q(credit_account_id=account.id))
    return await newest_id(query)


def _entry(transfer: Transfer, account_id: int) -> HistoryEntry:
    outgoing = transfer.debit_account_id == account_id
    return HistoryEntry(
        id=transfer.id,
        kind=(
            NOT_A_PURCHASE.get(transfer.kind, HISTORY_KIND[transfer.kind])
            if transfer.activation_id is None
            else HISTORY_KIND[transfer.kind]
        ),
        amount_minor=-transfer.amount_minor if outgoing else transfer.amount_minor,
        balance_after_minor=(
            transfer.debit_balance_after if outgoing else transfer.credit_balance_after
        ),
        created_at=transfer.created_at,
        activation_id=transfer.activation_id,
        description=transfer.description,
    )


async def adjust(
    rt: Runtime,
    admin: Viewer,
    user_id: int | str,
    amount: Decimal | str,
    reason: str,
    *,
    ip: str | None,
) -> User:
    """An admin credits (positive) or debits (negative) a balance, as a ledger entry."""
    require_admin(admin)
    reason = text.readable(reason, field="reason", max_length=rt.settings.max_string_length)
    minor = money.to_minor(amount, field="amount", limit_minor=rt.settings.max_adjustment_minor)
    if minor == 0:
        raise InvalidInput("the amount must not be zero", field="amount")
    user = await User.get_or_none(id=parse_id(user_id, what="user", field="userId"))
    if user is None:
        raise NotFound("no such user", field="userId")
    async with atomic() as conn:
        await locks.user_events(conn, user.id)  # the balance feed reads transfers in id order
        own = await ledger.user_account(user.id, conn)
        other = await ledger.system_account(AccountKind.ADJUSTMENTS, conn)
        debit, credit = (other, own) if minor > 0 else (own, other)
        await ledger.post(
            conn,
            kind=TransferKind.ADJUSTMENT,
            debit=debit,
            credit=credit,
            amount_minor=abs(minor),
            description=reason,
        )
        await activity.record(
            conn,
            "admin_adjust_balance",
            user_id=user.id,
            actor_id=admin.user_id,
            ip=ip,
            detail=f"user {user.id}: {money.format_minor(minor)}: {reason}",
        )
    return user
