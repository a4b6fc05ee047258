"""countries, services, prices."""

from __future__ import annotations

import strawberry

from resolvers.context import Context
from schema.catalog import Country, PriceOffer, Service


async def countries(info: strawberry.Info[Context]) -> list[Country]:
    snapshot = await info.context.runtime.catalog.snapshot()
    return [Country.from_model(c) for c in snapshot.countries]


async def services(info: strawberry.Info[Context]) -> list[Service]:
    snapshot = await info.context.runtime.catalog.snapshot()
    return [Service.from_model(s) for s in snapshot.services]


async def prices(
    info: strawberry.Info[Context], country: str | None = None, service: str | None = None
) -> list[PriceOffer]:
    rt = info.context.runtime
    currency = rt.settings.currency
    return [PriceOffer.from_offer(o, currency) for o in await rt.catalog.offers(country, service)]
