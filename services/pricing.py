"""Prices from costs (issue 12; docs/adr/0011): markup rules per scope, the price of an offer,
and the admins' operations on rules.

A rule's scope is any of country, service and supplier, or none (the global rule). For one
supplier's cost of one offer the most specific rule applies: a supplier rule before a service
rule before a country rule (a scope naming more of them before one naming fewer). The price is
`cost + max(cost x markup %, minimum margin)`, rounded half up to the cent: never below cost.
With no rule at all for it, an offer keeps the list price of its `price` row.

An offer's price is that of its cheapest supplier with stock (what routing asks first); a
purchase is routed only to suppliers whose cost that price covers, so no sale loses money.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from models import Country, Price, PriceRule, Service, Supplier
from services import activity, money, stock
from services.accounts import Viewer, require_admin
from services.db import atomic
from services.errors import InvalidInput, NotFound
from services.ids import parse_id

if TYPE_CHECKING:
    from services.runtime import Runtime

BASIS_POINTS_PER_PERCENT = 100
MAX_MARKUP_PERCENT = Decimal(1000)  # ten times the cost: past that it is a typo


@dataclass(frozen=True)
class Rule:
    id: int
    country_id: int | None
    service_id: int | None
    supplier_id: int | None
    markup_basis_points: int
    min_margin_minor: int

    def matches(self, country_id: int, service_id: int, supplier_id: int | None) -> bool:
        return (
            self.country_id in (None, country_id)
            and self.service_id in (None, service_id)
            and self.supplier_id in (None, supplier_id)
        )

    @property
    def specificity(self) -> int:
        # supplier > service > country; a scope naming more of them before one naming fewer
        return (
            4 * (self.supplier_id is not None)
            + 2 * (self.service_id is not None)
            + (self.country_id is not None)
        )

    def price_minor(self, cost_minor: int) -> int:
        markup = (cost_minor * self.markup_basis_points + 5000) // 10_000  # half up, to the cent
        return cost_minor + max(markup, self.min_margin_minor)


class Rules:
    """Every rule (a small table), read at most every PRICE_CACHE_SECONDS per process."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.all = sorted(rules, key=lambda r: -r.specificity)

    def applying(self, country_id: int, service_id: int, supplier_id: int | None) -> Rule | None:
        return next((r for r in self.all if r.matches(country_id, service_id, supplier_id)), None)

    def price_minor(
        self, country_id: int, service_id: int, supplier_id: int | None, cost_minor: int
    ) -> int | None:
        """The price of this supplier's cost, or None when no rule applies."""
        rule = self.applying(country_id, service_id, supplier_id)
        return None if rule is None else rule.price_minor(cost_minor)


@dataclass(frozen=True)
class SupplierCost:
    supplier_id: int
    cost_minor: int


@dataclass(frozen=True)
class OfferPrice:
    """What a buyer pays for one offer (a purchase's price, whatever supplier serves it)."""

    country_id: int
    service_id: int
    price_minor: int


def offer_price_minor(
    rules: Rules,
    country_id: int,
    service_id: int,
    list_price_minor: int,
    reference_cost_minor: int,
    costs: Sequence[SupplierCost],
) -> int:
    """The price of the cheapest supplier with stock (`costs`); with none, the price of the
    offer's reference cost. Where no rule applies, the list price."""

    def of(supplier_id: int | None, cost_minor: int) -> int:
        ruled = rules.price_minor(country_id, service_id, supplier_id, cost_minor)
        return list_price_minor if ruled is None else ruled

    if not costs:
        return of(None, reference_cost_minor)
    return min(of(c.supplier_id, c.cost_minor) for c in costs)


def listed_price_minor(rules: Rules, price: Price, stocked: Sequence[stock.Stocked]) -> int:
    """The price list's price of an offer (`price` its row), from the suppliers with stock."""
    costs = [SupplierCost(r.supplier_id, r.cost_minor) for r in stocked if r.available]
    return offer_price_minor(
        rules, price.country_id, price.service_id, price.price_minor, price.cost_minor, costs
    )


async def load() -> Rules:
    return Rules(_rule(r) for r in await PriceRule.all())


def _rule(row: PriceRule) -> Rule:
    return Rule(
        row.id,
        row.country_id,
        row.service_id,
        row.supplier_id,
        row.markup_basis_points,
        row.min_margin_minor,
    )


# -- admin operations ----------------------------------------------------------------------------
@dataclass(frozen=True)
class RuleInput:
    country: str | None
    service: str | None
    supplier_id: str | None
    markup_percent: Decimal
    min_margin: Decimal


@dataclass(frozen=True)
class Scope:
    country: Country | None
    service: Service | None
    supplier: Supplier | None

    @property
    def key(self) -> str:
        return scope_key(
            None if self.country is None else self.country.id,
            None if self.service is None else self.service.id,
            None if self.supplier is None else self.supplier.id,
        )


async def listing(admin: Viewer) -> list[PriceRule]:
    require_admin(admin)
    return await PriceRule.all().order_by("id").prefetch_related("country", "service")


async def checked(rt: Runtime, admin: Viewer, given: RuleInput) -> tuple[Scope, Rule]:
    """The rule as it would be saved (id 0 when new), or why it cannot be."""
    require_admin(admin)
    scope = await _scope(given)
    basis_points = _basis_points(given.markup_percent)
    min_margin_minor = money.to_minor(
        given.min_margin, field="minMargin", limit_minor=rt.settings.max_price_minor
    )
    if basis_points < 0 or min_margin_minor < 0:
        raise InvalidInput(
            "a price may not be below cost: markupPercent and minMargin must not be negative",
            field="minMargin" if min_margin_minor < 0 else "markupPercent",
        )
    existing = await PriceRule.get_or_none(scope_key=scope.key)
    return scope, Rule(
        0 if existing is None else existing.id,
        None if scope.country is None else scope.country.id,
        None if scope.service is None else scope.service.id,
        None if scope.supplier is None else scope.supplier.id,
        basis_points,
        min_margin_minor,
    )


@dataclass(frozen=True)
class Preview:
    country: Country
    service: Service
    current_minor: int
    proposed_minor: int


async def preview(rt: Runtime, admin: Viewer, given: RuleInput) -> list[Preview]:
    """The price of every offer the rule's scope covers, now and with the rule saved (as the
    price list would show them now), changing nothing."""
    scope, rule = await checked(rt, admin, given)
    current = await load()
    proposed = Rules(
        [
            r
            for r in current.all
            if scope_key(r.country_id, r.service_id, r.supplier_id) != scope.key
        ]
        + [rule],
    )
    stocked = await stock.by_offer()
    offers = Price.filter(
        **({} if rule.country_id is None else {"country_id": rule.country_id}),
        **({} if rule.service_id is None else {"service_id": rule.service_id}),
    )
    return [
        Preview(
            p.country,
            p.service,
            listed_price_minor(current, p, rows),
            listed_price_minor(proposed, p, rows),
        )
        for p in await offers.select_related("country", "service").order_by("id")
        for rows in [stocked.get((p.country_id, p.service_id), [])]
    ]


def scope_key(country_id: int | None, service_id: int | None, supplier_id: int | None) -> str:
    """`price_rule.scope_key`: the scope's ids, `*` for any (docs/adr/0011)."""
    return ":".join("*" if i is None else str(i) for i in (country_id, service_id, supplier_id))


async def save(rt: Runtime, admin: Viewer, given: RuleInput, *, ip: str | None) -> PriceRule:
    """Creates or replaces the rule of the scope; every process prices with it within
    PRICE_CACHE_SECONDS (this one at once)."""
    scope, rule = await checked(rt, admin, given)
    async with atomic() as conn:
        row, _ = await PriceRule.update_or_create(
            scope_key=scope.key,
            defaults={
                "country_id": rule.country_id,
                "service_id": rule.service_id,
                "supplier_id": rule.supplier_id,
                "markup_basis_points": rule.markup_basis_points,
                "min_margin_minor": rule.min_margin_minor,
                "updated_at": rt.clock.now(),
            },
            using_db=conn,
        )
        detail = f"{scope.key} {rule.markup_basis_points / 100:g}% min {rule.min_margin_minor}"
        await activity.record(conn, "price rule set", user_id=admin.user_id, ip=ip, detail=detail)
    rt.catalog.invalidate()
    return row


async def _scope(given: RuleInput) -> Scope:
    country = service = supplier = None
    if given.country is not None:
        country = await Country.get_or_none(code=given.country.strip().upper()[:2])
        if country is None:
            raise NotFound("no such country", field="country")
    if given.service is not None:
        service = await Service.get_or_none(code=given.service.strip().lower()[:20])
        if service is None:
            raise NotFound("no such service", field="service")
    if given.supplier_id is not None:
        supplier_id = parse_id(given.supplier_id, what="supplier", field="supplierId")
        supplier = await Supplier.get_or_none(id=supplier_id)
        if supplier is None:
            raise NotFound("no such supplier", field="supplierId")
    return Scope(country, service, supplier)


def _basis_points(percent: Decimal) -> int:
    try:
        finite = percent.is_finite() and abs(percent) <= MAX_MARKUP_PERCENT
        exact = finite and percent == percent.quantize(Decimal("0.01"))
    except InvalidOperation:
        exact = False
    if not exact:
        raise InvalidInput(
            f"markupPercent: a percentage with at most two decimals, up to {MAX_MARKUP_PERCENT}",
            field="markupPercent",
        )
    return int(percent * BASIS_POINTS_PER_PERCENT)
