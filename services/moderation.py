"""R14: an admin blocks and unblocks users and revokes activations.

A blocked user's sessions and API keys stop working at once in every process: authentication
refuses a blocked account, and the revocation wake-up (services/hooks.py) clears every
process's identity cache and closes the user's websockets. The keys are not revoked, so an
unblocked user finds them working again. Blocking forfeits the balance by a ledger entry;
unblocking gives it back by the reversing entry when the admin chooses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from models import Activation, Credential, Role, User, UserState
from services import activations, activity, forfeiture, hooks, locks, text
from services.accounts import Viewer, require_admin
from services.db import atomic
from services.errors import InvalidInput, InvalidState, NotFound
from services.ids import parse_id

if TYPE_CHECKING:
    from services.runtime import Runtime

BLOCKABLE = (UserState.ACTIVE, UserState.RESTRICTED)


def admin_reason(rt: Runtime, admin: Viewer, reason: str) -> str:
    """Every admin operation checks who asks first, then says why (R16): FORBIDDEN before
    anything about the arguments is revealed."""
    require_admin(admin)
    return text.readable(reason, field="reason", max_length=rt.settings.max_string_length)


async def target_user(raw_id: int | str) -> User:
    user = await User.get_or_none(id=parse_id(raw_id, what="user", field="id"))
    if user is None:
        raise NotFound("no such user", field="id")
    return user


async def block(
    rt: Runtime, admin: Viewer, user_id: int | str, reason: str, *, ip: str | None
) -> User:
    reason = admin_reason(rt, admin, reason)
    user = await target_user(user_id)
    if user.id == admin.user_id:
        raise InvalidInput("you cannot block yourself", field="id")
    if user.state not in BLOCKABLE:
        raise InvalidState(f"this account is {user.state.value}", field="id")
    if user.role == Role.ADMIN and not await _another_admin(user.id):
        raise InvalidInput("the last admin cannot be blocked", field="id")
    await forfeiture.end_waiting_activations(rt, user.id)
    async with atomic() as conn:
        await locks.user_events(conn, user.id)
        changed = (
            await User.filter(id=user.id, state__in=BLOCKABLE)
            .using_db(conn)
            .update(state=UserState.BLOCKED)
        )
        if changed != 1:
            raise InvalidState("this account has just changed", field="id")
        await forfeiture.forfeit_balance(conn, user.id, f"forfeited: account blocked ({reason})")
        await activity.record(
            conn, "admin_block_user", user_id=user.id, actor_id=admin.user_id, ip=ip, detail=reason
        )
    await credentials_stopped(rt, user.id)
    return await User.get(id=user.id)


async def unblock(
    rt: Runtime,
    admin: Viewer,
    user_id: int | str,
    reason: str,
    *,
    restore_balance: bool,
    ip: str | None,
) -> User:
    reason = admin_reason(rt, admin, reason)
    user = await target_user(user_id)
    if user.state != UserState.BLOCKED:
        raise InvalidState("this account is not blocked", field="id")
    async with atomic() as conn:
        await locks.user_events(conn, user.id)
        changed = (
            await User.filter(id=user.id, state=UserState.BLOCKED)
            .using_db(conn)
            .update(state=UserState.ACTIVE)
        )
        if changed != 1:
            raise InvalidState("this account has just changed", field="id")
        restored = 0
        if restore_balance:
            restored = await forfeiture.restore_balance(
                conn, user.id, f"restored: account unblocked ({reason})"
            )
        await activity.record(
            conn,
            "admin_unblock_user",
            user_id=user.id,
            actor_id=admin.user_id,
            ip=ip,
            detail=f"{reason} (balance restored)" if restored else reason,
        )
    return await User.get(id=user.id)


async def revoke_activation(
    rt: Runtime, admin: Viewer, activation_id: int | str, reason: str, *, ip: str | None
) -> Activation:
    reason = admin_reason(rt, admin, reason)
    activation = await activations.revoke(
        rt, parse_id(activation_id, what="activation", field="id"), ip=ip
    )
    async with atomic() as conn:
        await activity.record(
            conn,
            "admin_revoke_activation",
            user_id=activation.user_id,
            actor_id=admin.user_id,
            ip=ip,
            detail=f"activation {activation.id}: {reason}",
        )
    return activation


async def credentials_stopped(rt: Runtime, user_id: int) -> None:
    """Every process drops its cached identities and re-checks its sockets (the revocation
    wake-up); one wake-up does it for all of the user's credentials."""
    rt.identities.clear()
    credential = await Credential.filter(user_id=user_id).order_by("-id").first()
    if credential is not None:
        await hooks.run(rt.hooks.after_credential_revoked, credential.id)


async def _another_admin(user_id: int) -> bool:
    return await User.filter(role=Role.ADMIN, state__in=BLOCKABLE).exclude(id=user_id).exists()
