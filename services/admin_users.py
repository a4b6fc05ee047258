"""What an admin sees of the users: the list with balances, last use and counts, one user in
full, and the SMS no activation claimed (R2). Reads only; every function checks the admin.

A page's balances and counts come from two grouped queries over its ids, not one per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.functions import Count

from models import (
    AccountKind,
    Activation,
    ActivationStatus,
    ActivityLog,
    LedgerAccount,
    Role,
    Sms,
    TopUp,
    User,
    UserState,
)
from services import abuse, activity, pages, text
from services.accounts import Viewer, require_admin
from services.errors import NotFound
from services.ids import parse_id

SEARCH_MAX_LENGTH = 254


@dataclass(frozen=True)
class Summary:
    id: int
    email: str | None  # None once erased (R8, R17)
    role: Role
    state: UserState
    balance_minor: int
    created_at: datetime
    last_seen_at: datetime | None
    activation_count: int


async def page(
    admin: Viewer,
    *,
    search: str | None,
    state: UserState | None,
    first: int,
    after: int | None,
) -> tuple[list[Summary], bool]:
    """Newest first; `search` matches a substring of the email, case-insensitively."""
    require_admin(admin)
    query = User.all()
    if search:
        needle = text.readable(search, field="search", max_length=SEARCH_MAX_LENGTH).lower()
        query = query.filter(email__contains=needle)  # emails are stored lower-cased
    if state is not None:
        query = query.filter(state=state)
    rows, more = await pages.newest_first(query, first=first, after=after)
    return await summaries(rows), more


async def one(admin: Viewer, raw_id: int | str) -> Summary:
    require_admin(admin)
    user = await User.get_or_none(id=parse_id(raw_id, what="user", field="id"))
    if user is None:
        raise NotFound("no such user", field="id")
    return (await summaries([user]))[0]


async def summaries(users: list[User]) -> list[Summary]:
    ids = [u.id for u in users]
    balances: dict[int, int] = dict(
        await LedgerAccount.filter(kind=AccountKind.USER, user_id__in=ids).values_list(
            "user_id", "balance_minor"
        )
    )
    counts: dict[int, int] = dict(
        await Activation.filter(user_id__in=ids)
        .annotate(n=Count("id"))
        .group_by("user_id")
        .values_list("user_id", "n")
    )
    return [
        Summary(
            id=u.id,
            email=None if u.state == UserState.DELETED else u.email,
            role=u.role,
            state=u.state,
            balance_minor=int(balances.get(u.id, 0)),
            created_at=u.created_at,
            last_seen_at=u.last_seen_at,
            activation_count=int(counts.get(u.id, 0)),
        )
        for u in users
    ]


async def unmatched_sms(
    admin: Viewer, supplier_id: int | str | None, *, first: int, after: int | None
) -> tuple[list[Sms], bool]:
    """R2: messages stored without an activation, newest first, of one supplier or all."""
    require_admin(admin)
    query = Sms.filter(activation_id=None)
    if supplier_id is not None:
        query = query.filter(supplier_id=parse_id(supplier_id, what="supplier", field="supplierId"))
    return await pages.newest_first(query.select_related("supplier"), first=first, after=after)


async def activations_of(
    admin: Viewer, user_id: int, *, first: int, after: int | None
) -> tuple[list[Activation], bool]:
    return await activations_across(admin, Filter(user_id=user_id), first=first, after=after)


@dataclass(frozen=True)
class Filter:
    """Which activations an admin looks at across users; None: any."""

    statuses: tuple[ActivationStatus, ...] = ()
    user_id: int | None = None
    country: str | None = None
    service: str | None = None


async def activations_across(
    admin: Viewer, where: Filter, *, first: int, after: int | None
) -> tuple[list[Activation], bool]:
    """Every user's activations, newest first, narrowed by `where` (codes as the catalog's)."""
    require_admin(admin)
    query = Activation.all()
    if where.statuses:
        query = query.filter(status__in=where.statuses)
    if where.user_id is not None:
        query = query.filter(user_id=where.user_id)
    if where.country:
        query = query.filter(country__code=where.country.strip().upper())
    if where.service:
        query = query.filter(service__code=where.service.strip().lower())
    return await pages.newest_first(query.select_related("number"), first=first, after=after)


async def top_ups_of(
    admin: Viewer, user_id: int, *, first: int, after: int | None
) -> tuple[list[TopUp], bool]:
    require_admin(admin)
    return await pages.newest_first(TopUp.filter(user_id=user_id), first=first, after=after)


async def activity_of(
    admin: Viewer, raw_id: int | str, *, first: int, after: int | None
) -> tuple[list[ActivityLog], bool]:
    """R16: one user's log, for an admin (an unknown user: NOT_FOUND)."""
    require_admin(admin)
    user_id = parse_id(raw_id, what="user", field="userId")
    if not await User.filter(id=user_id).exists():
        raise NotFound("no such user", field="userId")
    return await activity.page(user_id, first=first, after=after)


async def flagged(admin: Viewer, *, first: int, after: int | None) -> tuple[list[User], bool]:
    require_admin(admin)
    return await abuse.flagged(first=first, after=after)
