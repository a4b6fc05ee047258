"""R14: maintenance mode. While it is on, every mutation but an admin's is refused with
MAINTENANCE and the operator's message; queries and live feeds keep working.

The switch is a row of `shop_setting`, so that every process sees it; each process keeps its
copy for at most MAINTENANCE_CACHE_SECONDS (the check runs on every mutation), and the process
that turns it takes the new state at once.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from models import ShopSetting
from services import activity, text
from services.db import atomic
from services.errors import Forbidden, Maintenance

if TYPE_CHECKING:
    from services.accounts import Viewer
    from services.runtime import Runtime

KEY = "maintenance"
DEFAULT_MESSAGE = "SMS Rooms is under maintenance; please try again later."


@dataclass(frozen=True)
class State:
    on: bool
    message: str | None


OFF = State(on=False, message=None)


class Switch:
    """A process's copy of the maintenance state, trusted for `ttl_seconds`."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds
        self._copy: tuple[float, State] | None = None

    def cached(self) -> State | None:
        if self._copy is None or self._copy[0] < time.monotonic():
            return None
        return self._copy[1]

    def keep(self, state: State) -> None:
        if self.ttl_seconds > 0:
            self._copy = (time.monotonic() + self.ttl_seconds, state)


async def current(rt: Runtime) -> State:
    state = rt.maintenance.cached()
    if state is None:
        row = await ShopSetting.get_or_none(key=KEY)
        state = OFF if row is None else State(**json.loads(row.value))
        rt.maintenance.keep(state)
    return state


async def refuse_during(rt: Runtime, *, admin: bool) -> None:
    """Raises MAINTENANCE while maintenance is on, unless an admin asks."""
    if admin:
        return
    state = await current(rt)
    if state.on:
        raise Maintenance(state.message or DEFAULT_MESSAGE)


async def turn(
    rt: Runtime, admin: Viewer, on: bool, message: str | None, *, ip: str | None
) -> State:
    if not admin.is_admin:  # (accounts.require_admin: accounts imports this module)
        raise Forbidden("only an admin may do this")
    if message is not None:
        message = text.readable(message, field="message", max_length=rt.settings.max_string_length)
    state = State(on=on, message=message if on else None)
    value = json.dumps({"on": state.on, "message": state.message})
    async with atomic() as conn:
        await ShopSetting.update_or_create(defaults={"value": value}, key=KEY, using_db=conn)
        await activity.record(
            conn,
            "admin_maintenance_on" if on else "admin_maintenance_off",
            user_id=None,
            actor_id=admin.user_id,
            ip=ip,
            detail=message or "",
        )
    rt.maintenance.keep(state)
    return state
