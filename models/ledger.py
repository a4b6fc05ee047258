"""The double-entry journal, in the words of two-phase transfers (see docs/adr/0001).

An account's `balance_minor` is a cache of (credits - debits) of its transfers, changed only by
`services.ledger` in the same transaction as the transfer row. Transfers are never modified: a
pending hold is resolved by a new transfer that points at it (`pending`), and the unique
constraint on `pending` lets a hold be posted or voided exactly once, whatever Python does.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.accounts import User
    from models.activations import Activation
    from models.catalog import Supplier
    from models.payments import TopUp


class AccountKind(StrEnum):
    USER = "user"  # what a user may spend; never below zero
    ESCROW = "escrow"  # a user's money held for activations still waiting for a code
    REVENUE = "revenue"  # captured prices
    # The other side of top-ups and withdrawals: one per payment processor (`processor`), where
    # its balance is minus what the processor holds for the shop; the one without a processor is
    # the other side of payouts made by hand (R15).
    CLEARING = "clearing"
    ADJUSTMENTS = "adjustments"  # the other side of admin adjustments
    FORFEIT = "forfeit"  # balances of deleted or blocked accounts (R8, R14, R17)
    # What a user owes after a processor took back more than their balance held (a refund or
    # dispute at the processor): never above zero, and the account is restricted while below.
    DEBT = "debt"
    PAYABLE = "payable"  # what the shop owes one supplier (`supplier`) for its captured numbers


#: Accounts that hold users' money and therefore may never go below zero.
NON_NEGATIVE_KINDS = (AccountKind.USER, AccountKind.ESCROW)

#: Revenue, and each supplier's payable account, are this many rows (`shard` 0 to 15): every
#: first code moves money into both, and one row each would make concurrent first codes queue
#: for its lock (docs/adr/0019). An activation's capture uses the shard `activation id % 16`;
#: a balance of such an account is the sum of its shards. Migration 0014 made the rows.
HOT_ACCOUNT_SHARDS = 16


def shard_of(activation_id: int) -> int:
    return activation_id % HOT_ACCOUNT_SHARDS


class LedgerAccount(Model):
    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(AccountKind, max_length=12)
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="ledger_accounts", null=True, on_delete=fields.RESTRICT
    )
    user_id: int | None
    # For clearing accounts: the payment processor's code (services/payments/).
    processor = fields.CharField(max_length=20, null=True)
    # For payable accounts: the supplier owed.
    supplier: fields.ForeignKeyNullableRelation[Supplier] = fields.ForeignKeyField(
        "models.Supplier", related_name="ledger_accounts", null=True, on_delete=fields.RESTRICT
    )
    supplier_id: int | None
    # Which row of a sharded account (revenue, payable) this is; 0 for every other account.
    shard = fields.SmallIntField(default=0, db_default=0)
    balance_minor = fields.BigIntField(default=0)

    class Meta:
        table = "ledger_account"
        unique_together = (("kind", "user"),)
        # One system account per (kind, processor, supplier, shard): a unique index (0004, 0014).
        # CHECK constraints: models/migrations/0002_ledger_guards.py (tortoise's CreateModel
        # does not emit them).


class TransferKind(StrEnum):
    TOP_UP = "top_up"
    HOLD = "hold"  # purchase: user -> escrow, pending
    CAPTURE = "capture"  # first SMS: escrow -> revenue, posts the hold
    VOID = "void"  # cancel, ban, expiry: escrow -> user, voids the hold
    ADJUSTMENT = "adjustment"
    FORFEIT = "forfeit"
    WITHDRAWAL = "withdrawal"
    # A processor took money back (a refund made at the processor, a dispute): user -> clearing,
    # and debt -> clearing for what the balance did not hold.
    CHARGEBACK = "chargeback"
    REPAYMENT = "repayment"  # user -> debt: a later top-up pays back what the user owes
    FEE = "fee"  # clearing -> revenue: the processor fee kept from a refund's payout (R15)
    # revenue -> payable: the supplier's cost of a captured activation, posted in the same
    # database transaction as its CAPTURE (a linked transfer), so revenue keeps the margin.
    COST = "cost"
    # revenue -> user: an admin revoked an activation after its code (R14); the buyer gets the
    # captured price back and the shop bears the supplier's cost. At most one per activation
    # (a unique index, migration 0012).
    REVERSAL = "reversal"


class Transfer(Model):
    id = fields.BigIntField(primary_key=True)
    kind = fields.CharEnumField(TransferKind, max_length=12)
    debit_account: fields.ForeignKeyRelation[LedgerAccount] = fields.ForeignKeyField(
        "models.LedgerAccount", related_name="debits", on_delete=fields.RESTRICT
    )
    debit_account_id: int
    credit_account: fields.ForeignKeyRelation[LedgerAccount] = fields.ForeignKeyField(
        "models.LedgerAccount", related_name="credits", on_delete=fields.RESTRICT
    )
    credit_account_id: int
    amount_minor = fields.BigIntField()
    # The accounts' balances right after this transfer, for the user's history.
    debit_balance_after = fields.BigIntField()
    credit_balance_after = fields.BigIntField()
    # For CAPTURE and VOID: the HOLD they resolve. Unique: a hold is resolved exactly once.
    pending: fields.OneToOneNullableRelation[Transfer] = fields.OneToOneField(
        "models.Transfer", related_name="resolution", null=True, on_delete=fields.RESTRICT
    )
    pending_id: int | None
    activation: fields.ForeignKeyNullableRelation[Activation] = fields.ForeignKeyField(
        "models.Activation", related_name="transfers", null=True, on_delete=fields.RESTRICT
    )
    activation_id: int | None
    # For top-ups, chargebacks and payouts: the top-up whose processor moved the money.
    top_up: fields.ForeignKeyNullableRelation[TopUp] = fields.ForeignKeyField(
        "models.TopUp", related_name="transfers", null=True, on_delete=fields.RESTRICT
    )
    top_up_id: int | None
    description = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "transfer"
        # CHECK constraints: models/migrations/0002_ledger_guards.py (tortoise's CreateModel
        # does not emit them).
