"""R16: the activity log. Sign-in, purchase, cancel, ban, top-up and admin actions, with IP."""

from __future__ import annotations

from models import ActivityLog
from services.db import Connection


async def record(
    conn: Connection, action: str, *, user_id: int | None, ip: str | None, detail: str = ""
) -> None:
    await ActivityLog.create(
        user_id=user_id,
        action=action,
        ip=(ip or None) and ip[:45],
        detail=detail[:200],
        using_db=conn,
    )
