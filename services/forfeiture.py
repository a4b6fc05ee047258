"""What happens to the money of an account that is blocked (R14) or deactivated (R8, R17).

Waiting activations are first ended with the refund a cancel gives (the user is not charged for
numbers that will never be used), then the whole spendable balance moves to the forfeit account
by one FORFEIT transfer. Unblocking may give it back by the reversing transfer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise.expressions import Q

from models import AccountKind, Activation, ActivationStatus, Transfer, TransferKind
from services import activations, ledger
from services.db import Connection
from services.errors import InvalidState

if TYPE_CHECKING:
    from services.runtime import Runtime


async def end_waiting_activations(rt: Runtime, user_id: int) -> None:
    waiting = await Activation.filter(user_id=user_id, status=ActivationStatus.WAITING_SMS)
    for activation in waiting:
        try:
            await activations.revoke(rt, activation.id, ip=None)
        except InvalidState:  # its code arrived meanwhile: captured, nothing to refund
            continue


async def forfeit_balance(conn: Connection, user_id: int, description: str) -> int:
    """Moves the user's whole balance to the forfeit account; returns the amount (0: nothing
    to move). Run inside the transaction that changes the account's state, after the user's
    event lock."""
    own = await ledger.user_account(user_id, conn)
    balance = await ledger.balance_minor_in(conn, own.id)
    if balance <= 0:
        return 0
    await ledger.post(
        conn,
        kind=TransferKind.FORFEIT,
        debit=own,
        credit=await ledger.system_account(AccountKind.FORFEIT, conn),
        amount_minor=balance,
        description=description,
    )
    return balance


async def restore_balance(conn: Connection, user_id: int, description: str) -> int:
    """Reverses the last forfeiture of the user's balance, if it has not been reversed yet;
    returns the amount given back."""
    own = await ledger.user_account(user_id, conn)
    forfeits = Transfer.filter(kind=TransferKind.FORFEIT).filter(
        Q(debit_account_id=own.id) | Q(credit_account_id=own.id)
    )
    last = await forfeits.using_db(conn).order_by("-id").first()
    if last is None or last.credit_account_id == own.id:
        return 0  # nothing forfeited, or already given back
    await ledger.post(
        conn,
        kind=TransferKind.FORFEIT,
        debit=await ledger.system_account(AccountKind.FORFEIT, conn),
        credit=own,
        amount_minor=last.amount_minor,
        description=description,
    )
    return int(last.amount_minor)
