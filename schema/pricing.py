"""Price rules, their preview and the sale switches, as admins see them
(contract/operator.graphql; issue 12)."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from models import PriceRule as PriceRuleRow
from schema.accounts import Money, money
from schema.catalog import Country, Service
from schema.errors import UserError
from services import pricing
from services.money import to_decimal


@strawberry.input
class PriceRuleInput:
    country: str | None = None
    service: str | None = None
    supplier_id: strawberry.ID | None = None
    markup_percent: Decimal = strawberry.field(
        description='Markup over cost in percent, e.g. "35".'
    )
    min_margin: Decimal = strawberry.field(
        description="The least margin per activation, in the shop currency."
    )

    def given(self) -> pricing.RuleInput:
        return pricing.RuleInput(
            country=self.country,
            service=self.service,
            supplier_id=self.supplier_id,
            markup_percent=self.markup_percent,
            min_margin=self.min_margin,
        )


@strawberry.type
class PriceRule:
    id: strawberry.ID
    country: str | None
    service: str | None
    supplier_id: strawberry.ID | None
    markup_percent: Decimal
    min_margin: Money

    @classmethod
    def from_row(cls, row: PriceRuleRow, currency: str) -> PriceRule:
        country = row.country.code if row.country else None  # prefetched by the resolver
        service = row.service.code if row.service else None
        return cls(
            id=strawberry.ID(str(row.id)),
            country=country,
            service=service,
            supplier_id=None if row.supplier_id is None else strawberry.ID(str(row.supplier_id)),
            markup_percent=to_decimal(row.markup_basis_points),
            min_margin=money(row.min_margin_minor, currency),
        )


@strawberry.type
class PriceRulePayload:
    rule: PriceRule | None
    errors: list[UserError]


@strawberry.type(description="An offer's price now and with a proposed rule saved.")
class PricePreview:
    country: Country
    service: Service
    current: Money
    proposed: Money

    @classmethod
    def from_preview(cls, preview: pricing.Preview, currency: str) -> PricePreview:
        return cls(
            country=Country.from_model(preview.country),
            service=Service.from_model(preview.service),
            current=money(preview.current_minor, currency),
            proposed=money(preview.proposed_minor, currency),
        )


@strawberry.type
class SaleSwitchPayload:
    "The switched country or service (one of them) and whether it is now on sale."

    country: Country | None
    service: Service | None
    on_sale: bool | None
    errors: list[UserError]
