"""The double-entry ledger: every change of a balance is one transfer between two accounts.

Words from two-phase transfers (docs/adr/0001): a purchase is a *pending* HOLD (user -> escrow),
the first SMS *posts* it (CAPTURE: escrow -> revenue), a refund *voids* it (VOID: escrow ->
user). Money moves from the debit account to the credit account. A balance changes only through
one conditional UPDATE in the transaction that inserts the transfer row, so the cached balance
always equals the sum of the account's transfers, and the database refuses a user's account going
below zero (migration 0002) even if this code were wrong.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
from tortoise.expressions import F

from models import AccountKind, LedgerAccount, Transfer, TransferKind, User
from models.ledger import NON_NEGATIVE_KINDS, shard_of
from services.db import Connection, IntegrityError, fetch_value
from services.errors import InsufficientBalance, InvalidState

RESOLVING_KINDS = (TransferKind.CAPTURE, TransferKind.VOID)


async def open_user_accounts(user: User, conn: Connection) -> None:
    for kind in (AccountKind.USER, AccountKind.ESCROW):
        await LedgerAccount.create(kind=kind, user=user, balance_minor=0, using_db=conn)


async def user_account(user_id: int, conn: Connection | None = None) -> LedgerAccount:
    return await LedgerAccount.get(kind=AccountKind.USER, user_id=user_id, using_db=conn)


async def escrow_account(user_id: int, conn: Connection | None = None) -> LedgerAccount:
    return await LedgerAccount.get(kind=AccountKind.ESCROW, user_id=user_id, using_db=conn)


async def system_account(kind: AccountKind, conn: Connection | None = None) -> LedgerAccount:
    """The account of a kind (of revenue, its shard 0: refunds' fees and the like)."""
    return await LedgerAccount.get(kind=kind, user_id=None, shard=0, using_db=conn)


async def revenue_account(activation_id: int, conn: Connection | None = None) -> LedgerAccount:
    """The revenue shard of an activation's capture, cost and reversal (HOT_ACCOUNT_SHARDS)."""
    return await LedgerAccount.get(
        kind=AccountKind.REVENUE, user_id=None, shard=shard_of(activation_id), using_db=conn
    )


async def payable_account(
    supplier_id: int, activation_id: int, conn: Connection | None = None
) -> LedgerAccount:
    """The shard of a supplier's payable account that an activation's cost credits."""
    return await LedgerAccount.get(
        kind=AccountKind.PAYABLE,
        supplier_id=supplier_id,
        user_id=None,
        shard=shard_of(activation_id),
        using_db=conn,
    )


REVENUE_MINOR = "SELECT SUM(balance_minor) FROM ledger_account WHERE kind = 'revenue'"


async def revenue_minor() -> int:
    """The shop's revenue: the sum of its shards."""
    return int(await fetch_value(REVENUE_MINOR) or 0)


async def balance_minor(user_id: int) -> int:
    """A user's spendable balance (read on every `me { balance }`: raw SQL, one indexed row)."""
    value = await fetch_value(
        "SELECT balance_minor FROM ledger_account WHERE kind = 'user' AND user_id = $1", user_id
    )
    return int(value or 0)


async def balance_minor_in(conn: Connection, account_id: int) -> int:
    """An account's balance read inside a transaction (after the locks that keep it still)."""
    rows: list[Any] = (
        await LedgerAccount.filter(id=account_id)
        .using_db(conn)
        .values_list("balance_minor", flat=True)
    )
    return int(rows[0])


async def post(
    conn: Connection | asyncpg.Connection,
    *,
    kind: TransferKind,
    debit: LedgerAccount,
    credit: LedgerAccount,
    amount_minor: int,
    description: str,
    pending: Transfer | None = None,
    activation_id: int | None = None,
    top_up_id: int | None = None,
) -> Transfer:
    """Moves `amount_minor` from `debit` to `credit`. Must run inside a transaction: atomic()'s,
    or on PostgreSQL a bare one of services/db.postgres_transaction (then in one statement)."""
    assert amount_minor > 0, "a transfer moves a positive amount"
    assert debit.id != credit.id, "a transfer moves money between two accounts"
    assert (kind in RESOLVING_KINDS) == (pending is not None), "only capture/void resolve a hold"
    if isinstance(conn, asyncpg.Connection):
        row = await conn.fetchrow(
            POST,
            debit.id,
            credit.id,
            amount_minor,
            debit.kind in NON_NEGATIVE_KINDS,
            kind.value,
            None if pending is None else pending.id,
            activation_id,
            top_up_id,
            description[:200],
            datetime.now(UTC),
        )
        if row is None:
            raise InsufficientBalance("the balance is too low")
        return Transfer._init_from_db(**row)
    # Fixed lock order (ascending id) so that two transfers never deadlock on the same pair.
    balances: dict[int, int] = {}
    for account, delta in sorted(
        ((debit, -amount_minor), (credit, amount_minor)), key=lambda pair: pair[0].id
    ):
        balances[account.id] = await _apply(conn, account, delta)
    try:
        return await Transfer.create(
            kind=kind,
            debit_account_id=debit.id,
            credit_account_id=credit.id,
            amount_minor=amount_minor,
            debit_balance_after=balances[debit.id],
            credit_balance_after=balances[credit.id],
            pending=pending,
            activation_id=activation_id,
            top_up_id=top_up_id,
            description=description[:200],
            using_db=conn,
        )
    except IntegrityError as exc:
        if pending is not None:
            raise InvalidState("this hold has already been resolved") from exc
        raise


# `post` as one statement (docs/adr/0012): both balances in one UPDATE (rows locked in index
# order, ascending id, as `post` orders them), the debit only if it keeps a user's money at
# zero or above; no transfer row, and so no row at all, when it would not.
# $1 debit, $2 credit, $3 amount, $4 the debit may not go below zero, $5 kind, $6 pending,
# $7 activation, $8 top-up, $9 description, $10 now.
POST = """
WITH moved AS (
  UPDATE ledger_account a
  SET balance_minor = a.balance_minor + CASE WHEN a.id = $1 THEN -$3::bigint ELSE $3::bigint END
  WHERE a.id IN ($1, $2) AND (a.id <> $1 OR NOT $4::boolean OR a.balance_minor >= $3::bigint)
  RETURNING a.id, a.balance_minor
)
INSERT INTO transfer (kind, debit_account_id, credit_account_id, amount_minor,
  debit_balance_after, credit_balance_after, pending_id, activation_id, top_up_id, description,
  created_at)
SELECT $5::text, d.id, c.id, $3::bigint, d.balance_minor, c.balance_minor, $6::bigint,
  $7::integer, $8::integer, $9::text, $10
FROM moved d JOIN moved c ON c.id = $2 WHERE d.id = $1
RETURNING *
"""


async def _apply(conn: Connection, account: LedgerAccount, delta: int) -> int:
    """Adds `delta` to one account's balance atomically; returns the balance after it."""
    query = LedgerAccount.filter(id=account.id)
    if delta < 0 and account.kind in NON_NEGATIVE_KINDS:
        query = query.filter(balance_minor__gte=-delta)
    changed = await query.using_db(conn).update(balance_minor=F("balance_minor") + delta)
    if changed != 1:
        raise InsufficientBalance("the balance is too low")
    # Our UPDATE holds the row lock until commit, so this read sees exactly our change.
    # (tortoise's stubs type values_list as tuples even with flat=True: these are scalars.)
    after: list[Any] = (
        await LedgerAccount.filter(id=account.id)
        .using_db(conn)
        .values_list("balance_minor", flat=True)
    )
    return int(after[0])


async def capture(
    conn: Connection, hold: Transfer, *, user_id: int, supplier_id: int, cost_minor: int
) -> None:
    """The first SMS posts the hold into revenue and, linked to it in this transaction, credits
    the supplier its cost from revenue (COST: revenue -> its payable account), so that revenue
    keeps the margin and the payable account what the supplier is owed (docs/adr/0009)."""
    assert cost_minor >= 0, "a supplier's cost is never negative"
    await resolve_hold(
        conn,
        hold,
        kind=TransferKind.CAPTURE,
        user_id=user_id,
        description=f"activation {hold.activation_id}: code received",
    )
    if cost_minor == 0:
        return  # a free number: nothing is owed
    assert hold.activation_id is not None, "a hold is an activation's"
    await post(
        conn,
        kind=TransferKind.COST,
        debit=await revenue_account(hold.activation_id, conn),
        credit=await payable_account(supplier_id, hold.activation_id, conn),
        amount_minor=cost_minor,
        description=f"activation {hold.activation_id}: supplier's cost",
        activation_id=hold.activation_id,
    )


async def resolve_hold(
    conn: Connection, hold: Transfer, *, kind: TransferKind, user_id: int, description: str
) -> Transfer:
    """Posts (CAPTURE into revenue) or voids (VOID back to the user) a purchase's hold."""
    assert hold.activation_id is not None, "a hold is an activation's"
    escrow = await escrow_account(user_id, conn)
    target = (
        await revenue_account(hold.activation_id, conn)
        if kind == TransferKind.CAPTURE
        else await user_account(user_id, conn)
    )
    return await post(
        conn,
        kind=kind,
        debit=escrow,
        credit=target,
        amount_minor=hold.amount_minor,
        description=description,
        pending=hold,
        activation_id=hold.activation_id,
    )


async def reverse_capture(conn: Connection, capture: Transfer, *, user_id: int) -> Transfer:
    """An activation revoked after its code (R14): the captured price goes back from revenue
    to the buyer (REVERSAL). The supplier's COST transfer stands: it delivered the code, so
    revenue, that is the shop, bears it."""
    assert capture.kind == TransferKind.CAPTURE, "only a captured price is reversed"
    assert capture.activation_id is not None, "a capture is an activation's"
    return await post(
        conn,
        kind=TransferKind.REVERSAL,
        debit=await revenue_account(capture.activation_id, conn),
        credit=await user_account(user_id, conn),
        amount_minor=capture.amount_minor,
        description=f"refund: activation {capture.activation_id} revoked after its code",
        activation_id=capture.activation_id,
    )
