"""priceRules, priceRulePreview; setPriceRule, setOnSale (admin only)."""

from __future__ import annotations

import strawberry

from models import Country as CountryRow
from resolvers.context import Context
from resolvers.errors import payload, query_error
from schema.catalog import Country, Service
from schema.errors import UserError
from schema.pricing import (
    PricePreview,
    PriceRule,
    PriceRuleInput,
    PriceRulePayload,
    SaleSwitchPayload,
)
from services import pricing, sale
from services.errors import ServiceError


async def price_rules(info: strawberry.Info[Context]) -> list[PriceRule]:
    admin = await info.context.require_viewer()
    try:
        rows = await pricing.listing(admin)
    except ServiceError as error:
        raise query_error(error) from None
    currency = info.context.runtime.settings.currency
    return [PriceRule.from_row(r, currency) for r in rows]


async def price_rule_preview(
    info: strawberry.Info[Context],
    input: PriceRuleInput,  # noqa: A002
) -> list[PricePreview]:
    admin = await info.context.require_viewer()
    rt = info.context.runtime
    try:
        found = await pricing.preview(rt, admin, input.given())
    except ServiceError as error:
        raise query_error(error) from None
    return [PricePreview.from_preview(p, rt.settings.currency) for p in found]


async def set_price_rule(
    info: strawberry.Info[Context],
    input: PriceRuleInput,  # noqa: A002
) -> PriceRulePayload:
    admin = await info.context.require_viewer()

    async def call() -> PriceRulePayload:
        rt, ip = info.context.runtime, info.context.client_ip
        row = await pricing.save(rt, admin, input.given(), ip=ip)
        await row.fetch_related("country", "service")
        return PriceRulePayload(rule=PriceRule.from_row(row, rt.settings.currency), errors=[])

    return await payload(call, _refused_rule)


def _refused_rule(errors: list[UserError]) -> PriceRulePayload:
    return PriceRulePayload(rule=None, errors=errors)


async def set_on_sale(
    info: strawberry.Info[Context],
    on_sale: bool,
    country: str | None = None,
    service: str | None = None,
) -> SaleSwitchPayload:
    admin = await info.context.require_viewer()

    async def call() -> SaleSwitchPayload:
        rt, ip = info.context.runtime, info.context.client_ip
        row = await sale.switch(rt, admin, country, service, on_sale, ip=ip)
        if isinstance(row, CountryRow):
            return SaleSwitchPayload(
                country=Country.from_model(row), service=None, on_sale=on_sale, errors=[]
            )
        return SaleSwitchPayload(
            country=None, service=Service.from_model(row), on_sale=on_sale, errors=[]
        )

    return await payload(call, _refused_switch)


def _refused_switch(errors: list[UserError]) -> SaleSwitchPayload:
    return SaleSwitchPayload(country=None, service=None, on_sale=None, errors=errors)
