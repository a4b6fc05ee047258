"""The catalog as users see it: countries, services and offers with their availability.

Reading the catalog is the hottest read of the service (price lists are polled by bots), so it
is served from a snapshot per runtime (`Catalog`), rebuilt at most every PRICE_CACHE_SECONDS,
or at once on `invalidate()` (catalog edits, price rules: in the other processes within that
many seconds). Counts are therefore up to that many seconds old, in every process alike;
purchases price with the same cached rules over the live candidates (services/pricing.py) and
pick a number from the live pool.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from models import Country, Price, Service
from services import policy, pricing, stats, stock
from services.db import fetch_rows
from services.errors import CountryUnavailable, NoNumbers, ServiceUnavailable


@dataclass(frozen=True)
class Offer:
    country: Country
    service: Service
    price_minor: int
    available: int
    success_rate: float | None  # share of recent activations that got a code


@dataclass(frozen=True)
class Snapshot:
    countries: tuple[Country, ...]  # on sale, by name
    services: tuple[Service, ...]  # on sale, by name
    offers: tuple[Offer, ...]  # on sale, by country name then service name
    country_by_code: dict[str, Country]  # every known country, on sale or not
    service_by_code: dict[str, Service]  # every known service, on sale or not
    built_at: float


@dataclass(frozen=True)
class _References:
    countries: dict[int, Country]
    services: dict[int, Service]
    country_by_code: dict[str, Country]
    service_by_code: dict[str, Service]
    built_at: float


class Catalog:
    """One runtime's view of the catalog: the offers snapshot and the reference rows, each at
    most `max_age_seconds` (PRICE_CACHE_SECONDS) old, or rebuilt at once after `invalidate()`."""

    def __init__(self, *, max_age_seconds: float, success_window_hours: int = 168) -> None:
        self.max_age_seconds = max_age_seconds
        self.success_window_hours = success_window_hours
        self._snapshot: Snapshot | None = None
        self._references: _References | None = None
        self._rules: tuple[pricing.Rules, float] | None = None
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._snapshot = self._references = self._rules = None

    async def rules(self) -> pricing.Rules:
        """The price rules, at most max_age_seconds old: what both the price list and a
        purchase price with, so that a buyer pays what the list shows."""
        cached = self._rules
        if cached is None or time.monotonic() - cached[1] >= self.max_age_seconds:
            cached = self._rules = (await pricing.load(), time.monotonic())
        return cached[0]

    async def snapshot(self) -> Snapshot:
        current = self._snapshot
        if current is not None and time.monotonic() - current.built_at < self.max_age_seconds:
            return current
        async with self._lock:  # one rebuild at a time; the others wait for it and reuse it
            if self._snapshot is None or self._snapshot is current:
                rules = await self.rules()
                self._snapshot = await _build(rules, self.success_window_hours)
            return self._snapshot

    async def _refs(self, *, complete: bool = True) -> _References:
        """Every country and service row (two small tables), at most max_age_seconds old.

        Kept apart from the offers snapshot, whose availability count is the expensive part: a
        purchase needs only these rows, and so does every event shown on a live feed. Rebuilt
        at once when a caller misses an id or code (`complete=False`), e.g. a service just added.
        """
        refs = self._references
        stale = refs is None or time.monotonic() - refs.built_at > self.max_age_seconds
        if refs is None or stale or not complete:
            countries = await Country.all()
            services = await Service.all()
            refs = self._references = _References(
                countries={c.id: c for c in countries},
                services={s.id: s for s in services},
                country_by_code={c.code: c for c in countries},
                service_by_code={s.code: s for s in services},
                built_at=time.monotonic(),
            )
        return refs

    async def names_of(self, country_id: int, service_id: int) -> tuple[Country, Service]:
        """The country and service of an activation, for display on every event and page."""
        refs = await self._refs()
        if country_id not in refs.countries or service_id not in refs.services:
            refs = await self._refs(complete=False)
        return refs.countries[country_id], refs.services[service_id]

    async def offers(
        self, country_code: str | None = None, service_code: str | None = None
    ) -> list[Offer]:
        snap = await self.snapshot()
        country = country_code.strip().upper() if country_code else None
        service = service_code.strip().lower() if service_code else None
        return [
            o
            for o in snap.offers
            if (country is None or o.country.code == country)
            and (service is None or o.service.code == service)
        ]

    async def country_for_sale(self, code: str) -> Country:
        code = code.strip().upper()
        country = (await self._refs()).country_by_code.get(code)
        if country is None:
            country = (await self._refs(complete=False)).country_by_code.get(code)
        if country is None:
            raise CountryUnavailable(f"unknown country {code[:10]!r}", field="country")
        if not policy.country_on_sale(country):
            raise CountryUnavailable("numbers of this country are not sold", field="country")
        return country

    async def service_for_sale(self, code: str) -> Service:
        code = code.strip().lower()
        service = (await self._refs()).service_by_code.get(code)
        if service is None:
            service = (await self._refs(complete=False)).service_by_code.get(code)
        if service is None:
            raise ServiceUnavailable(f"unknown service {code[:20]!r}", field="service")
        if not policy.service_on_sale(service):
            raise ServiceUnavailable("numbers for this service are not sold", field="service")
        return service


async def _build(rules: pricing.Rules, success_window_hours: int) -> Snapshot:
    countries = await Country.all().order_by("name")
    services = await Service.all().order_by("name")
    prices = await Price.all()
    stocked = await stock.by_offer()
    rates = await stats.offer_success_rates(success_window_hours)
    on_sale_countries = {c.id: c for c in countries if policy.country_on_sale(c)}
    on_sale_services = {s.id: s for s in services if policy.service_on_sale(s)}
    offers = [
        _offer(
            rules, p, on_sale_countries[p.country_id], on_sale_services[p.service_id], rows, rates
        )
        for p in prices
        if p.country_id in on_sale_countries and p.service_id in on_sale_services
        for rows in [stocked.get((p.country_id, p.service_id), [])]
    ]
    offers.sort(key=lambda o: (o.country.name, o.service.name))
    offered_countries = {o.country.id for o in offers}
    offered_services = {o.service.id for o in offers}
    return Snapshot(
        # "Countries/services that numbers are sold for": those with at least one offer.
        countries=tuple(c for c in on_sale_countries.values() if c.id in offered_countries),
        services=tuple(s for s in on_sale_services.values() if s.id in offered_services),
        offers=tuple(offers),
        country_by_code={c.code: c for c in countries},
        service_by_code={s.code: s for s in services},
        built_at=time.monotonic(),
    )


def _offer(
    rules: pricing.Rules,
    price: Price,
    country: Country,
    service: Service,
    stocked: list[stock.Stocked],
    rates: dict[tuple[int, int], float],
) -> Offer:
    costs = [pricing.SupplierCost(r.supplier_id, r.cost_minor) for r in stocked if r.available]
    price_minor = pricing.offer_price_minor(
        rules, country.id, service.id, price.price_minor, price.cost_minor, costs
    )
    return Offer(
        country=country,
        service=service,
        price_minor=price_minor,
        available=sum(r.available for r in stocked),
        success_rate=rates.get((country.id, service.id)),
    )


async def current_price(country: Country, service: Service) -> Price:
    # Read by every purchase: raw SQL, prepared once per connection (docs/adr/0012).
    rows = await fetch_rows(CURRENT_PRICE, country.id, service.id)
    if not rows:
        raise NoNumbers("no numbers for this service in this country")
    return Price._init_from_db(**rows[0])  # integers only: the same on both dialects


CURRENT_PRICE = "SELECT * FROM price WHERE country_id = $1 AND service_id = $2"
