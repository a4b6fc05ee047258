"""R5: too many cancellations without a code lead to a buying cool-down.

Counted over a sliding window from the activations themselves (no extra counters to drift):
past ABUSE_CANCEL_THRESHOLD cancellations with under ABUSE_MIN_SUCCESS_RATIO of purchases
getting a code, buying is refused until the cool-down ends; a user who earns a second cool-down
is flagged for an admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tortoise.exceptions import DoesNotExist
from tortoise.queryset import QuerySet

from models import Activation, ActivationStatus, User
from services import pages
from services.db import fetch_rows, is_postgres
from services.errors import RateLimited

if TYPE_CHECKING:
    from services.runtime import Runtime

RECEIVED_CODE = (ActivationStatus.RECEIVED, ActivationStatus.FINISHED)
REFUNDED_ON_REQUEST = (ActivationStatus.CANCELLED, ActivationStatus.BANNED)


@dataclass(frozen=True)
class Figures:
    """What R5 counts over one window: what flagged a user, for the admin who looks."""

    window_start: datetime
    window_end: datetime
    purchases: int
    cancellations: int  # cancelled or banned: refunded on the user's request
    with_code: int


def _window(rt: Runtime, user_id: int, end: datetime, *, closed: bool) -> QuerySet[Activation]:
    """The user's activations of the window ending at `end` (and after it, unless closed)."""
    since = end - timedelta(seconds=rt.settings.abuse_window_seconds)
    query = Activation.filter(user_id=user_id, created_at__gte=since)
    return query.filter(created_at__lte=end) if closed else query


async def figures(rt: Runtime, user_id: int, end: datetime) -> Figures:
    """The counts of the window that ended at `end` (for a flagged user: when flagged)."""
    recent = _window(rt, user_id, end, closed=True)
    return Figures(
        window_start=end - timedelta(seconds=rt.settings.abuse_window_seconds),
        window_end=end,
        purchases=await recent.count(),
        cancellations=await recent.filter(status__in=REFUNDED_ON_REQUEST).count(),
        with_code=await recent.filter(status__in=RECEIVED_CODE).count(),
    )


async def flagged(*, first: int, after: int | None) -> tuple[list[User], bool]:
    """Repeat offenders (R5), newest account first."""
    query = User.filter(flagged_at__isnull=False)
    return await pages.newest_first(query, first=first, after=after)


# The buyer's row with R5's first count (`check_may_buy`'s), in one round trip on PostgreSQL
# (docs/adr/0012): every purchase reads both before it buys.
_REFUNDED = ", ".join(f"'{s.value}'" for s in REFUNDED_ON_REQUEST)
BUYER = f"""
SELECT u.*, (SELECT COUNT(*) FROM activation a
             WHERE a.user_id = u.id AND a.created_at >= $2 AND a.status IN ({_REFUNDED}))
       AS refunded_on_request
FROM "user" u WHERE u.id = $1
"""  # noqa: S608 (constants only)


async def buyer(rt: Runtime, user_id: int) -> tuple[User, int | None]:
    """The buyer, and on PostgreSQL the cancellations R5 counts in the window so far (None on
    SQLite: `check_may_buy` counts them)."""
    if not is_postgres():
        return await User.get(id=user_id), None
    since = rt.clock.now() - timedelta(seconds=rt.settings.abuse_window_seconds)
    rows = await fetch_rows(BUYER, user_id, since)
    if not rows:
        raise DoesNotExist(User)
    return User._init_from_db(**rows[0]), int(rows[0]["refunded_on_request"])


async def check_may_buy(rt: Runtime, user: User, *, cancelled: int | None = None) -> None:
    """R5. `cancelled`: the window's cancellations, if already counted (`buyer`)."""
    settings = rt.settings
    now = rt.clock.now()
    if user.cooldown_until is not None and user.cooldown_until > now:
        raise RateLimited(
            "too many cancellations: buying is paused (R5)", until=user.cooldown_until
        )
    recent = _window(rt, user.id, now, closed=False)
    if cancelled is None:
        # A ban refunds like a cancel; counting only cancels would let a ban loop drain the pool.
        cancelled = await recent.filter(status__in=REFUNDED_ON_REQUEST).count()
    if cancelled < settings.abuse_cancel_threshold:
        return
    purchases = await recent.count()
    with_code = await recent.filter(status__in=RECEIVED_CODE).count()
    if with_code >= settings.abuse_min_success_ratio * purchases:
        return
    until = now + timedelta(seconds=settings.abuse_cooldown_seconds)
    repeat = user.cooldown_until is not None
    await User.filter(id=user.id).update(
        cooldown_until=until, **({"flagged_at": now} if repeat else {})
    )
    raise RateLimited("too many cancellations: buying is paused (R5)", until=until)
