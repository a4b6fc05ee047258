"""R16: the activity log. Sign-in, purchase, cancel, ban, top-up and admin actions, with IP.

An admin action names the admin as `actor_id` and, when it acts on a user, that user as
`user_id`, so that the user's log shows what was done to the account and by whom.
"""

from __future__ import annotations

from tortoise.expressions import Q

from models import ActivityLog
from services import pages
from services.db import Connection


async def record(
    conn: Connection,
    action: str,
    *,
    user_id: int | None,
    ip: str | None,
    detail: str = "",
    actor_id: int | None = None,
) -> None:
    await ActivityLog.create(
        user_id=user_id,
        actor_id=actor_id,
        action=action,
        ip=(ip or None) and ip[:45],
        detail=detail[:200],
        using_db=conn,
    )


async def page(user_id: int, *, first: int, after: int | None) -> tuple[list[ActivityLog], bool]:
    """One user's log, newest first: what they did, what admins did to their account, and,
    for an admin, what they did as one."""
    query = ActivityLog.filter(Q(user_id=user_id) | Q(actor_id=user_id))
    return await pages.newest_first(query, first=first, after=after)
