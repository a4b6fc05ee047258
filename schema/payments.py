"""Top-ups, payment providers and refund requests (R10, R15), as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import TypeAlias

import strawberry

from models import RefundRequest as RefundRequestRow
from models import RefundRequestState as RowState
from models import TopUp as TopUpRow
from models import TopUpStatus as RowStatus
from schema.accounts import Money, money
from schema.errors import UserError
from schema.pagination import PageInfo
from services.payments.reconciliation import Discrepancy
from services.payments.topups import Provider

# The models' enums themselves become the GraphQL enums; the aliases are their names in
# annotations (types mypy accepts, as in schema/errors.py).
strawberry.enum(RowStatus, name="TopUpStatus")
strawberry.enum(RowState, name="RefundRequestState")
TopUpStatus: TypeAlias = RowStatus
RefundRequestState: TypeAlias = RowState


@strawberry.type
class TopUp:
    id: strawberry.ID
    provider: str
    amount: Money
    status: TopUpStatus
    checkout_url: str | None = strawberry.field(
        description="Where the user pays; null once the top-up is no longer pending."
    )
    created_at: datetime
    completed_at: datetime | None
    credited: Money = strawberry.field(
        description="What the balance received: the amount, or what a partial crypto payment "
        "was worth (an over-payment credits all of it)."
    )

    @classmethod
    def from_row(cls, row: TopUpRow) -> TopUp:
        pending = row.status == RowStatus.PENDING
        return cls(
            id=strawberry.ID(str(row.id)),
            provider=row.provider,
            amount=money(row.amount_minor, row.currency),
            status=row.status,
            checkout_url=row.checkout_url if pending else None,
            created_at=row.created_at,
            completed_at=row.completed_at,
            credited=money(row.credited_minor, row.currency),
        )


@strawberry.type
class TopUpEdge:
    cursor: str
    node: TopUp


@strawberry.type
class TopUpConnection:
    edges: list[TopUpEdge]
    page_info: PageInfo


@strawberry.type
class TopUpPayload:
    top_up: TopUp | None
    errors: list[UserError]


@strawberry.type
class PaymentProvider:
    code: str
    name: str
    min_amount: Money
    max_amount: Money

    @classmethod
    def from_provider(cls, provider: Provider, currency: str) -> PaymentProvider:
        return cls(
            code=provider.code,
            name=provider.name,
            min_amount=money(provider.min_minor, currency),
            max_amount=money(provider.max_minor, currency),
        )


@strawberry.type
class RefundRequest:
    id: strawberry.ID
    user_id: strawberry.ID
    amount: Money
    reason: str
    state: RefundRequestState
    note: str | None
    created_at: datetime
    decided_at: datetime | None
    fee: Money = strawberry.field(description="Processor fees kept from the payout (R15).")
    payout: str = strawberry.field(
        description="none, requested, issued (refunded at the processor), manual (paid by the "
        "operator by hand) or failed (listed by paymentReconciliation)."
    )

    @classmethod
    def from_row(cls, row: RefundRequestRow, currency: str) -> RefundRequest:
        return cls(
            id=strawberry.ID(str(row.id)),
            user_id=strawberry.ID(str(row.user_id)),
            amount=money(row.amount_minor, currency),
            reason=row.reason,
            state=row.state,
            note=row.note,
            created_at=row.created_at,
            decided_at=row.decided_at,
            fee=money(row.fee_minor, currency),
            payout=row.payout_state.value,
        )


@strawberry.type
class RefundRequestEdge:
    cursor: str
    node: RefundRequest


@strawberry.type
class RefundRequestConnection:
    edges: list[RefundRequestEdge]
    page_info: PageInfo


@strawberry.type
class RefundRequestPayload:
    refund_request: RefundRequest | None
    errors: list[UserError]


@strawberry.type
class TopUpDiscrepancy:
    top_up: TopUp
    user_id: strawberry.ID
    processor_status: str = strawberry.field(
        description="pending, paid, failed, expired, or unknown (the processor did not answer)."
    )
    processor_paid: Money | None
    problem: str

    @classmethod
    def from_discrepancy(cls, found: Discrepancy) -> TopUpDiscrepancy:
        row = found.top_up
        paid = found.processor_paid_minor
        return cls(
            top_up=TopUp.from_row(row),
            user_id=strawberry.ID(str(row.user_id)),
            processor_status=found.processor_status,
            processor_paid=money(paid, row.currency) if paid is not None else None,
            problem=found.problem,
        )
