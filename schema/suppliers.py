"""Suppliers as admins see them (contract/operator.graphql; issue 8)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypeAlias

import strawberry

from models import Supplier as SupplierRow
from models import SupplierKind as RowKind
from models import SupplierState as RowState
from schema.accounts import Money, money
from schema.errors import UserError

# The models' enums themselves become the GraphQL enums (as in schema/payments.py).
strawberry.enum(RowKind, name="SupplierKind")
strawberry.enum(RowState, name="SupplierState")
SupplierKind: TypeAlias = RowKind
SupplierState: TypeAlias = RowState


@strawberry.input
class SupplierInput:
    code: str = strawberry.field(
        description="Lower-case letters, digits and dashes, 2 to 32; it appears in the "
        "supplier's webhook paths."
    )
    name: str
    kind: SupplierKind
    url: str | None = strawberry.field(
        default=None,
        description="SMSHUB_AGENT: the agent's URL. UPSTREAM: the upstream's handler_api.php URL.",
    )
    api_key: str | None = strawberry.field(
        default=None,
        description="WEBHOOK: the signing secret; SMSHUB_AGENT: the one key both sides send; "
        "ANDROID_GATEWAY: the app's signing key. Generated when null and then shown in "
        "SupplierPayload.secret. UPSTREAM: our API key there (required).",
    )
    currency: str | None = strawberry.field(
        default=None,
        description="ISO 4217 code of this supplier's costs; the shop currency "
        "when null (the only one accepted for now).",
    )
    default_cost: Decimal | None = strawberry.field(
        default=None,
        description="What an activation costs at this supplier unless its stock says otherwise.",
    )
    numbers: list[str] | None = strawberry.field(
        default=None,
        description="ANDROID_GATEWAY: the E.164 numbers of the device's SIM cards.",
    )


@strawberry.input
class SupplierUpdate:
    name: str | None = None
    url: str | None = None
    api_key: str | None = None
    state: SupplierState | None = strawberry.field(
        default=None, description="ACTIVE also clears an automatic pause and its failure count."
    )
    default_cost: Decimal | None = None
    numbers: list[str] | None = None


@strawberry.type
class Supplier:
    id: strawberry.ID
    code: str
    name: str
    kind: SupplierKind
    state: SupplierState
    paused_reason: str | None = strawberry.field(
        description="Why it was paused automatically, if it was."
    )
    url: str | None
    currency: str
    available: int = strawberry.field(description="Numbers it can give right now, over all offers.")
    last_contact_at: datetime | None
    success_rate: float | None = strawberry.field(
        description="Share of its recent activations that received a code, 0..1; null while "
        "none has ended."
    )
    median_seconds_to_sms: float | None = strawberry.field(
        description="Median seconds from purchase to the first SMS over its recent activations."
    )
    default_cost: Money | None
    owed: Money = strawberry.field(
        description="What the shop owes this supplier (its payable account)."
    )
    upstream_balance: Money | None = strawberry.field(
        default=None,
        description="UPSTREAM: our balance at the upstream (getBalance) as last synced; null "
        "for other kinds and before the first sync.",
    )
    upstream_balance_low: bool = strawberry.field(
        default=False,
        description="UPSTREAM: that balance is below UPSTREAM_LOW_BALANCE_MINOR (top it up).",
    )
    upstream_synced_at: datetime | None = strawberry.field(
        default=None, description="UPSTREAM: when its prices and balance were last read."
    )
    upstream_error: str | None = strawberry.field(
        default=None,
        description="UPSTREAM: why its last sync failed; null once one succeeds.",
    )

    @classmethod
    def from_row(
        cls,
        row: SupplierRow,
        *,
        available: int,
        owed_minor: int,
        upstream: UpstreamView | None = None,
    ) -> Supplier:
        default_cost = row.default_cost_minor
        balance = None if upstream is None else upstream.balance_minor
        return cls(
            id=strawberry.ID(str(row.id)),
            code=row.code,
            name=row.name,
            kind=row.kind,
            state=row.state,
            paused_reason=row.paused_reason,
            url=row.url,
            currency=row.currency,
            available=available,
            last_contact_at=row.last_contact_at,
            success_rate=row.success_rate,
            median_seconds_to_sms=row.median_seconds_to_sms,
            default_cost=None if default_cost is None else money(default_cost, row.currency),
            owed=money(owed_minor, row.currency),
            upstream_balance=None if balance is None else money(balance, row.currency),
            upstream_balance_low=upstream is not None and upstream.low,
            upstream_synced_at=None if upstream is None else upstream.synced_at,
            upstream_error=None if upstream is None else upstream.error,
        )


@dataclass(frozen=True)
class UpstreamView:
    """What the last sync of an upstream found (suppliers/upstream/sync.py)."""

    balance_minor: int | None
    low: bool
    synced_at: datetime | None
    error: str | None


@strawberry.type
class SupplierPayload:
    supplier: Supplier | None
    secret: str | None = strawberry.field(
        description="The webhook signing key or PUSH_SMS key, shown only by createSupplier and "
        "rotateSupplierSecret."
    )
    errors: list[UserError]
