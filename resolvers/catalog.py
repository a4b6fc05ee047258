"""countries, services, prices."""

from __future__ import annotations

from schema.catalog import Country, PriceOffer, Service
from services import catalog


async def countries() -> list[Country]:
    return [Country.from_model(c) for c in (await catalog.snapshot()).countries]


async def services() -> list[Service]:
    return [Service.from_model(s) for s in (await catalog.snapshot()).services]


async def prices(country: str | None = None, service: str | None = None) -> list[PriceOffer]:
    return [PriceOffer.from_offer(o) for o in await catalog.offers(country, service)]
