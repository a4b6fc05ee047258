"""The shop's figures (contract/operator.graphql `stats`; issue 12)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from schema.accounts import Money, money
from services import stats


@strawberry.type
class StatsRow:
    key: str | None = strawberry.field(
        description="The group: a country code, a service code or a supplier code; null for "
        "the total."
    )
    purchases: int
    codes: int
    refunds: int
    revenue: Money
    cost: Money
    margin: Money
    success_rate: float | None
    median_seconds_to_code: float | None = strawberry.field(
        description="Median seconds from purchase to first code."
    )

    @classmethod
    def from_row(cls, row: stats.Row, currency: str) -> StatsRow:
        return cls(
            key=row.key,
            purchases=row.purchases,
            codes=row.codes,
            refunds=row.refunds,
            revenue=money(row.revenue_minor, currency),
            cost=money(row.cost_minor, currency),
            margin=money(row.margin_minor, currency),
            success_rate=row.success_rate,
            median_seconds_to_code=row.median_seconds_to_code,
        )


@strawberry.type
class Stats:
    from_: datetime = strawberry.field(name="from")
    to: datetime
    total: StatsRow
    by_country: list[StatsRow]
    by_service: list[StatsRow]
    by_supplier: list[StatsRow]
    top_ups: Money

    @classmethod
    def from_figures(cls, figures: stats.Figures, currency: str) -> Stats:
        def rows(found: list[stats.Row]) -> list[StatsRow]:
            return [StatsRow.from_row(r, currency) for r in found]

        return cls(
            from_=figures.start,
            to=figures.end,
            total=StatsRow.from_row(figures.total, currency),
            by_country=rows(figures.by_country),
            by_service=rows(figures.by_service),
            by_supplier=rows(figures.by_supplier),
            top_ups=money(figures.top_ups_minor, currency),
        )
