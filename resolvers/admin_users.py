"""users, user, userActivity, flaggedUsers, unmatchedSms; blockUser, unblockUser,
revokeActivation (admin only), and the viewer's own activity log."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypedDict, TypeVar

import strawberry

from models import Activation as ActivationRow
from models import User
from resolvers.context import Context
from resolvers.errors import payload, query_error
from schema.activations import (
    Activation,
    ActivationConnection,
    ActivationEdge,
    ActivationPayload,
    ActivationStatus,
)
from schema.admin import (
    ActivityConnection,
    FlaggedUser,
    FlaggedUserConnection,
    FlaggedUserEdge,
    UnmatchedSmsConnection,
    UserConnection,
    UserDetail,
    UserPayload,
    UserState,
    UserSummary,
    connection,
)
from schema.pagination import decode_cursor
from services import abuse, activity, admin_users, moderation, pages
from services.accounts import require_admin
from services.errors import ServiceError
from services.ids import parse_id
from services.runtime import Runtime

T = TypeVar("T")


class PageArgs(TypedDict):
    first: int
    after: int | None


async def _read(call: Callable[[], Awaitable[T]]) -> T:
    """A query's service call: a refusal becomes a GraphQL error with its code."""
    try:
        return await call()
    except ServiceError as error:
        raise query_error(error) from None


def _page(
    info: strawberry.Info[Context], kind: str, first: int | None, after: str | None
) -> PageArgs:
    """The page arguments as the services take them (refusals raise inside `_read`)."""
    settings = info.context.runtime.settings
    return {"first": pages.page_size(settings, first), "after": decode_cursor(kind, after)}


async def users(
    info: strawberry.Info[Context],
    search: str | None = None,
    first: int | None = 20,
    after: str | None = None,
    state: UserState | None = None,
) -> UserConnection:
    admin = await info.context.require_viewer()
    rows, more = await _read(
        lambda: admin_users.page(
            admin, search=search, state=state, **_page(info, "user", first, after)
        )
    )
    return UserConnection.from_page(rows, more, info.context.runtime.settings.currency)


async def user(info: strawberry.Info[Context], id: strawberry.ID) -> UserDetail:  # noqa: A002
    admin = await info.context.require_viewer()
    summary = await _read(lambda: admin_users.one(admin, id))
    currency = info.context.runtime.settings.currency
    return UserDetail(user=UserSummary.from_summary(summary, currency), admin=admin)


async def activity_log(
    info: strawberry.Info[Context], first: int | None = 20, after: str | None = None
) -> ActivityConnection:
    viewer = await info.context.require_viewer()
    rows, more = await _read(
        lambda: activity.page(viewer.user_id, **_page(info, "activity", first, after))
    )
    return ActivityConnection.from_page(rows, more)


async def user_activity(
    info: strawberry.Info[Context],
    user_id: strawberry.ID,
    first: int | None = 20,
    after: str | None = None,
) -> ActivityConnection:
    admin = await info.context.require_viewer()
    rows, more = await _read(
        lambda: admin_users.activity_of(admin, user_id, **_page(info, "activity", first, after))
    )
    return ActivityConnection.from_page(rows, more)


async def flagged_users(
    info: strawberry.Info[Context], first: int | None = 20, after: str | None = None
) -> FlaggedUserConnection:
    admin = await info.context.require_viewer()
    rt = info.context.runtime
    rows, more = await _read(
        lambda: admin_users.flagged(admin, **_page(info, "user", first, after))
    )
    summaries = await admin_users.summaries(rows)
    nodes = [
        await _flagged(rt, row, UserSummary.from_summary(summary, rt.settings.currency))
        for row, summary in zip(rows, summaries, strict=True)
    ]
    return connection(FlaggedUserConnection, FlaggedUserEdge, "user", rows, nodes, more)


async def _flagged(rt: Runtime, row: User, summary: UserSummary) -> FlaggedUser:
    assert row.flagged_at is not None  # flagged users only
    figures = await abuse.figures(rt, row.id, row.flagged_at)
    return FlaggedUser.from_figures(summary, figures, row.cooldown_until)


async def unmatched_sms(
    info: strawberry.Info[Context],
    supplier_id: strawberry.ID | None = None,
    first: int | None = 20,
    after: str | None = None,
) -> UnmatchedSmsConnection:
    admin = await info.context.require_viewer()
    rows, more = await _read(
        lambda: admin_users.unmatched_sms(admin, supplier_id, **_page(info, "sms", first, after))
    )
    return UnmatchedSmsConnection.from_page(rows, more)


async def all_activations(
    info: strawberry.Info[Context],
    status: list[ActivationStatus] | None = None,
    user_id: strawberry.ID | None = None,
    country: str | None = None,
    service: str | None = None,
    first: int | None = 20,
    after: str | None = None,
) -> ActivationConnection:
    admin = await info.context.require_viewer()
    rt = info.context.runtime

    async def read() -> tuple[list[ActivationRow], bool]:
        require_admin(admin)  # before the arguments are looked at
        owner = None if user_id is None else parse_id(user_id, what="user", field="userId")
        where = admin_users.Filter(tuple(status or ()), owner, country, service)
        return await admin_users.activations_across(
            admin, where, **_page(info, "activation", first, after)
        )

    rows, more = await _read(read)
    nodes = [await Activation.from_model(rt, r) for r in rows]
    return connection(ActivationConnection, ActivationEdge, "activation", rows, nodes, more)


async def block_user(
    info: strawberry.Info[Context],
    id: strawberry.ID,
    reason: str,  # noqa: A002
) -> UserPayload:
    admin = await info.context.require_viewer()
    rt, ip = info.context.runtime, info.context.client_ip
    return await _user_payload(info, lambda: moderation.block(rt, admin, id, reason, ip=ip))


async def unblock_user(
    info: strawberry.Info[Context],
    id: strawberry.ID,  # noqa: A002
    reason: str,
    restore_balance: bool | None = False,
) -> UserPayload:
    admin = await info.context.require_viewer()
    rt, ip = info.context.runtime, info.context.client_ip
    restore = bool(restore_balance)
    return await _user_payload(
        info,
        lambda: moderation.unblock(rt, admin, id, reason, restore_balance=restore, ip=ip),
    )


async def _user_payload(
    info: strawberry.Info[Context], change: Callable[[], Awaitable[User]]
) -> UserPayload:
    async def call() -> UserPayload:
        summary = (await admin_users.summaries([await change()]))[0]
        currency = info.context.runtime.settings.currency
        return UserPayload(user=UserSummary.from_summary(summary, currency), errors=[])

    return await payload(call, lambda errors: UserPayload(user=None, errors=errors))


async def revoke_activation(
    info: strawberry.Info[Context],
    id: strawberry.ID,
    reason: str,  # noqa: A002
) -> ActivationPayload:
    admin = await info.context.require_viewer()
    rt, ip = info.context.runtime, info.context.client_ip

    async def call() -> ActivationPayload:
        row = await moderation.revoke_activation(rt, admin, id, reason, ip=ip)
        return ActivationPayload(activation=await Activation.from_model(rt, row), errors=[])

    return await payload(call, lambda errors: ActivationPayload(activation=None, errors=errors))
