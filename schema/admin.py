"""What the admin console reads and the account policies answer (issue 12): users, the activity
log (R16), repeat offenders (R5) and unmatched SMS (R2), with their connections and payloads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeAlias, TypeVar

import strawberry

from models import ActivityLog, Sms
from models import UserState as RowState
from resolvers.errors import query_error
from schema.accounts import Money, Role, money
from schema.activations import Activation, ActivationConnection, ActivationEdge
from schema.errors import UserError
from schema.pagination import PageInfo, decode_cursor, encode_cursor
from schema.payments import TopUp, TopUpConnection, TopUpEdge
from services import admin_users, pages
from services.abuse import Figures
from services.accounts import Viewer
from services.admin_users import Summary
from services.errors import ServiceError

_Row = TypeVar("_Row")

# The model's enum itself becomes the GraphQL enum (as in schema/payments.py).
strawberry.enum(RowState, name="UserState")
UserState: TypeAlias = RowState


_Conn = TypeVar("_Conn")


def page_info(cursors: list[str], more: bool) -> PageInfo:
    return PageInfo(has_next_page=more, end_cursor=cursors[-1] if cursors else None)


def connection(
    make: Callable[..., _Conn],
    edge: Callable[..., Any],
    kind: str,
    rows: Sequence[Any],
    nodes: Sequence[Any],
    more: bool,
) -> _Conn:
    """A page as a Relay connection: one edge per row (its cursor) and node."""
    edges = [
        edge(cursor=encode_cursor(kind, r.id), node=n) for r, n in zip(rows, nodes, strict=True)
    ]
    return make(edges=edges, page_info=page_info([e.cursor for e in edges], more))


@strawberry.type
class ActivityEntry:
    id: strawberry.ID
    action: str = strawberry.field(
        description="sign_in, sign_up, purchase, cancel, ban, top_up, refund_request, admin "
        "action names, ..."
    )
    at: datetime
    ip: str | None
    detail: str | None
    actor_id: strawberry.ID | None = strawberry.field(
        description="The admin who acted, for admin actions."
    )

    @classmethod
    def from_row(cls, row: ActivityLog) -> ActivityEntry:
        return cls(
            id=strawberry.ID(str(row.id)),
            action=row.action,
            at=row.created_at,
            ip=row.ip,
            detail=row.detail or None,
            actor_id=strawberry.ID(str(row.actor_id)) if row.actor_id else None,
        )


@strawberry.type
class ActivityEdge:
    cursor: str
    node: ActivityEntry


@strawberry.type
class ActivityConnection:
    edges: list[ActivityEdge]
    page_info: PageInfo

    @classmethod
    def from_page(cls, rows: list[ActivityLog], more: bool) -> ActivityConnection:
        nodes = [ActivityEntry.from_row(r) for r in rows]
        return connection(cls, ActivityEdge, "activity", rows, nodes, more)


@strawberry.type
class UserSummary:
    id: strawberry.ID
    email: str | None = strawberry.field(description="Null once erased (R8, R17).")
    role: Role
    state: UserState
    balance: Money
    created_at: datetime
    last_seen_at: datetime | None
    activation_count: int

    @classmethod
    def from_summary(cls, summary: Summary, currency: str) -> UserSummary:
        return cls(
            id=strawberry.ID(str(summary.id)),
            email=summary.email,
            role=Role(summary.role.value),
            state=summary.state,
            balance=money(summary.balance_minor, currency),
            created_at=summary.created_at,
            last_seen_at=summary.last_seen_at,
            activation_count=summary.activation_count,
        )


@strawberry.type
class UserEdge:
    cursor: str
    node: UserSummary


@strawberry.type
class UserConnection:
    edges: list[UserEdge]
    page_info: PageInfo

    @classmethod
    def from_page(cls, rows: list[Summary], more: bool, currency: str) -> UserConnection:
        nodes = [UserSummary.from_summary(s, currency) for s in rows]
        return connection(cls, UserEdge, "user", rows, nodes, more)


@strawberry.type
class UserPayload:
    user: UserSummary | None
    errors: list[UserError]


@strawberry.type
class DeleteAccountPayload:
    deleted: bool
    errors: list[UserError]


@strawberry.type(
    description="R5: a repeat offender, with the figures of the window that "
    "flagged them (the hour before flaggedAt, by default)."
)
class FlaggedUser:
    user: UserSummary
    flagged_at: datetime
    cooldown_until: datetime | None = strawberry.field(
        description="Until when buying is paused, if it still is."
    )
    window_start: datetime
    purchases: int
    cancellations: int = strawberry.field(description="Cancelled or banned, refunded.")
    with_code: int = strawberry.field(description="Purchases that received a code.")

    @classmethod
    def from_figures(
        cls, user: UserSummary, figures: Figures, cooldown_until: datetime | None
    ) -> FlaggedUser:
        return cls(
            user=user,
            flagged_at=figures.window_end,
            cooldown_until=cooldown_until,
            window_start=figures.window_start,
            purchases=figures.purchases,
            cancellations=figures.cancellations,
            with_code=figures.with_code,
        )


@strawberry.type
class FlaggedUserEdge:
    cursor: str
    node: FlaggedUser


@strawberry.type
class FlaggedUserConnection:
    edges: list[FlaggedUserEdge]
    page_info: PageInfo


@strawberry.type(description="R2: an SMS no activation claimed, kept for audit.")
class UnmatchedSms:
    id: strawberry.ID
    supplier_id: strawberry.ID
    supplier_code: str
    to: str = strawberry.field(description="The number it was sent to, E.164.")
    sender: str | None
    text: str
    received_at: datetime

    @classmethod
    def from_row(cls, row: Sms) -> UnmatchedSms:
        return cls(
            id=strawberry.ID(str(row.id)),
            supplier_id=strawberry.ID(str(row.supplier_id)),
            supplier_code=row.supplier.code,
            to=row.to_e164,
            sender=row.sender,
            text=row.text,
            received_at=row.received_at,
        )


@strawberry.type
class UnmatchedSmsEdge:
    cursor: str
    node: UnmatchedSms


@strawberry.type
class UnmatchedSmsConnection:
    edges: list[UnmatchedSmsEdge]
    page_info: PageInfo

    @classmethod
    def from_page(cls, rows: list[Sms], more: bool) -> UnmatchedSmsConnection:
        nodes = [UnmatchedSms.from_row(r) for r in rows]
        return connection(cls, UnmatchedSmsEdge, "sms", rows, nodes, more)


@strawberry.type(description="Admin only: one user in full.")
class UserDetail:
    user: UserSummary
    admin: strawberry.Private[Viewer]

    @strawberry.field
    async def activations(
        self, info: strawberry.Info, first: int | None = 20, after: str | None = None
    ) -> ActivationConnection:
        rt = info.context.runtime
        rows, more = await _paged(
            info, "activation", first, after, admin_users.activations_of, self
        )
        nodes = [await Activation.from_model(rt, r) for r in rows]
        return connection(ActivationConnection, ActivationEdge, "activation", rows, nodes, more)

    @strawberry.field
    async def top_ups(
        self, info: strawberry.Info, first: int | None = 20, after: str | None = None
    ) -> TopUpConnection:
        rows, more = await _paged(info, "top_up", first, after, admin_users.top_ups_of, self)
        nodes = [TopUp.from_row(r) for r in rows]
        return connection(TopUpConnection, TopUpEdge, "top_up", rows, nodes, more)

    @strawberry.field
    async def activity(
        self, info: strawberry.Info, first: int | None = 20, after: str | None = None
    ) -> ActivityConnection:
        rows, more = await _paged(info, "activity", first, after, admin_users.activity_of, self)
        return ActivityConnection.from_page(rows, more)


async def _paged(
    info: strawberry.Info,
    kind: str,
    first: int | None,
    after: str | None,
    read: Callable[..., Awaitable[tuple[list[_Row], bool]]],
    detail: UserDetail,
) -> tuple[list[_Row], bool]:
    try:
        return await read(
            detail.admin,
            int(detail.user.id),
            first=pages.page_size(info.context.runtime.settings, first),
            after=decode_cursor(kind, after),
        )
    except ServiceError as error:
        raise query_error(error) from None
