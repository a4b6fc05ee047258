"""maintenance (public), setMaintenance (admin only): R14."""

from __future__ import annotations

import strawberry

from resolvers.context import Context
from resolvers.errors import payload
from schema.maintenance import Maintenance, MaintenancePayload
from services import maintenance


async def maintenance_state(info: strawberry.Info[Context]) -> Maintenance:
    return Maintenance.from_state(await maintenance.current(info.context.runtime))


async def set_maintenance(
    info: strawberry.Info[Context], on: bool, message: str | None = None
) -> MaintenancePayload:
    admin = await info.context.require_viewer()

    async def call() -> MaintenancePayload:
        rt, ip = info.context.runtime, info.context.client_ip
        state = await maintenance.turn(rt, admin, on, message, ip=ip)
        return MaintenancePayload(maintenance=Maintenance.from_state(state), errors=[])

    return await payload(call, lambda errors: MaintenancePayload(maintenance=None, errors=errors))
