"""The ledger accounts of payments: a clearing account per processor, a debt account per user.

A processor's clearing account is the other side of every top-up it brings in (debited) and of
every refund, dispute and payout it takes out (credited): its balance is minus what that
processor holds for the shop. The clearing account without a processor is the other side of
payouts the operator makes by hand (R15). services/audit.py re-derives both from the top-ups.
"""

from __future__ import annotations

from models import AccountKind, LedgerAccount, UserState
from models.accounts import User
from services import locks
from services.db import Connection, is_postgres

CREATE_DEBT_PG = (
    "INSERT INTO ledger_account (kind, user_id, balance_minor) VALUES ('debt', $1, 0) "
    "ON CONFLICT DO NOTHING"
)
CREATE_DEBT_SQLITE = CREATE_DEBT_PG.replace("$1", "?")


async def clearing_account(conn: Connection, processor: str | None) -> LedgerAccount:
    query = LedgerAccount.filter(kind=AccountKind.CLEARING, user_id=None)
    if processor is None:
        return await query.filter(processor__isnull=True).using_db(conn).get()
    return await query.filter(processor=processor).using_db(conn).get()


async def debt_account(conn: Connection, user_id: int, *, create: bool) -> LedgerAccount | None:
    """The user's debt account; made on first need (unique per user, so two makers agree)."""
    if create:
        await conn.execute_query(CREATE_DEBT_PG if is_postgres() else CREATE_DEBT_SQLITE, [user_id])
    return await LedgerAccount.get_or_none(kind=AccountKind.DEBT, user_id=user_id, using_db=conn)


async def lock_accounts(conn: Connection, *accounts: LedgerAccount) -> dict[int, int]:
    """Locks the accounts in ascending id (the ledger's order) and returns their balances now."""
    ids = sorted({account.id for account in accounts})
    rows = await locks.rows(LedgerAccount.filter(id__in=ids).order_by("id")).using_db(conn)
    return {row.id: row.balance_minor for row in rows}


async def set_restricted(conn: Connection, user_id: int, restricted: bool) -> bool:
    """Restricts a user who owes money (or lifts it once repaid); True if the state changed."""
    before, after = (
        (UserState.ACTIVE, UserState.RESTRICTED)
        if restricted
        else (UserState.RESTRICTED, UserState.ACTIVE)
    )
    changed = await User.filter(id=user_id, state=before).using_db(conn).update(state=after)
    return changed == 1
