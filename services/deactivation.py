"""R8 and R17: deactivating an account. The personal data is erased (email, password, the IPs
of its activity log), every credential is revoked, waiting activations are refunded and the
balance moves to the forfeit account. The history stays (R7): activations, transfers and the
activity log keep their rows, now of an anonymous user.

R8 runs as a job in every process: each account is deactivated by a conditional UPDATE of its
state, so two processes picking the same account deactivate it once, and the loser moves on.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from tortoise.expressions import Q

from models import ActivityLog, Credential, Role, User, UserState
from services import accounts, activity, forfeiture, locks
from services.accounts import Viewer
from services.db import atomic
from services.errors import InvalidCredentials, InvalidInput
from services.moderation import credentials_stopped

if TYPE_CHECKING:
    from services.runtime import Runtime

ERASED_PASSWORD = "!"  # not an argon2 hash: no password ever matches it  # noqa: S105


def erased_email(user_id: int) -> str:
    """Unique (the column is), and of a reserved domain that can never receive mail."""
    return f"deleted-{user_id}@deleted.invalid"


async def delete_own(rt: Runtime, viewer: Viewer, password: str) -> None:
    """R17: the user withdraws consent; the same effect as R8, at once (and, IPs being
    personal data, the record of it keeps none)."""
    user = await User.get(id=viewer.user_id)
    if not await accounts.password_matches(user.password_hash, password[:1000]):
        raise InvalidCredentials("wrong password", field="password")
    if (
        user.role == Role.ADMIN
        and not await User.filter(role=Role.ADMIN, state=UserState.ACTIVE)
        .exclude(id=user.id)
        .exists()
    ):
        raise InvalidInput("the last admin cannot delete their account", field="password")
    await deactivate(rt, user.id, action="delete_account")


async def deactivate_inactive(rt: Runtime) -> int:
    """R8: one round of the job; returns how many accounts it deactivated."""
    cutoff = rt.clock.now() - timedelta(days=rt.settings.inactive_account_days)
    unused = Q(last_seen_at__lt=cutoff) | Q(last_seen_at=None, created_at__lt=cutoff)
    due = (
        await User.filter(unused, role=Role.USER)
        .exclude(state=UserState.DELETED)
        .order_by("id")
        .limit(rt.settings.inactivity_batch_size)
    )
    done = 0
    for user in due:
        done += await deactivate(rt, user.id, action="deactivated_inactive")
    return done


async def deactivate(rt: Runtime, user_id: int, *, action: str) -> bool:
    """False if another process (or request) deactivated the account first."""
    await forfeiture.end_waiting_activations(rt, user_id)
    now = rt.clock.now()
    async with atomic() as conn:
        await locks.user_events(conn, user_id)
        changed = (
            await User.filter(id=user_id)
            .exclude(state=UserState.DELETED)
            .using_db(conn)
            .update(
                state=UserState.DELETED,
                email=erased_email(user_id),
                password_hash=ERASED_PASSWORD,
                email_verified_at=None,
                cooldown_until=None,
            )
        )
        if changed != 1:
            return False
        await forfeiture.forfeit_balance(conn, user_id, "forfeited: account deactivated")
        await (
            Credential.filter(user_id=user_id, revoked_at=None)
            .using_db(conn)
            .update(revoked_at=now)
        )
        await Credential.filter(user_id=user_id).using_db(conn).update(name="")
        await ActivityLog.filter(user_id=user_id).using_db(conn).update(ip=None)
        await activity.record(conn, action, user_id=user_id, ip=None)
    await credentials_stopped(rt, user_id)
    return True
