"""The viewer's balance history."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from schema.accounts import Money, money
from schema.pagination import PageInfo
from services.balances import HistoryEntry


@strawberry.enum
class TransactionKind(Enum):
    TOP_UP = "TOP_UP"
    PURCHASE = "PURCHASE"
    REFUND = "REFUND"
    ADJUSTMENT = "ADJUSTMENT"
    FORFEIT = "FORFEIT"
    WITHDRAWAL = "WITHDRAWAL"
    CHARGEBACK = "CHARGEBACK"


@strawberry.type
class Transaction:
    id: strawberry.ID
    kind: TransactionKind
    amount: Money = strawberry.field(description="Signed: negative for money leaving the balance.")
    balance_after: Money
    created_at: datetime
    activation_id: strawberry.ID | None
    description: str

    @classmethod
    def from_entry(cls, entry: HistoryEntry, currency: str) -> Transaction:
        return cls(
            id=strawberry.ID(str(entry.id)),
            kind=TransactionKind(entry.kind),
            amount=money(entry.amount_minor, currency),
            balance_after=money(entry.balance_after_minor, currency),
            created_at=entry.created_at,
            activation_id=strawberry.ID(str(entry.activation_id)) if entry.activation_id else None,
            description=entry.description,
        )


@strawberry.type
class TransactionEdge:
    cursor: str
    node: Transaction


@strawberry.type
class TransactionConnection:
    edges: list[TransactionEdge]
    page_info: PageInfo


@strawberry.type
class BalanceChange:
    cursor: str = strawberry.field(description="Opaque; pass it as `after` to resume from here.")
    balance: Money = strawberry.field(description="The balance right after this change.")
    transaction: Transaction
