"""Admins switch countries and services on and off for sale (issue 12). A switched-off one
leaves the price list and refuses purchases (COUNTRY_UNAVAILABLE / SERVICE_UNAVAILABLE) in every
process within PRICE_CACHE_SECONDS; what is live keeps running. R9 and R11 stay in force
whatever the switch says (services/policy.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from models import Country, Service
from services import activity
from services.accounts import Viewer, require_admin
from services.db import atomic
from services.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from services.runtime import Runtime


async def switch(
    rt: Runtime,
    admin: Viewer,
    country: str | None,
    service: str | None,
    on_sale: bool,
    *,
    ip: str | None,
) -> Country | Service:
    """Sets the switch of one country or one service (exactly one of them)."""
    require_admin(admin)
    if (country is None) == (service is None):
        raise InvalidInput("give a country or a service, not both", field="country")
    row: Country | Service | None
    if country is not None:
        row = await Country.get_or_none(code=country.strip().upper()[:2])
        field = "country"
    else:
        assert service is not None  # one of the two, checked above
        row = await Service.get_or_none(code=service.strip().lower()[:20])
        field = "service"
    if row is None:
        raise NotFound(f"no such {field}", field=field)
    async with atomic() as conn:
        await type(row).filter(id=row.id).using_db(conn).update(on_sale=on_sale)
        detail = f"{field} {row.code} {'on' if on_sale else 'off'}"
        await activity.record(conn, "sale switched", user_id=admin.user_id, ip=ip, detail=detail)
    rt.catalog.invalidate()
    row.on_sale = on_sale
    return row
