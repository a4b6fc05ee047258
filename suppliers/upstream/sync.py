"""Each ACTIVE upstream's prices, stock and balance, polled in the background (never on the
purchase path): getPrices into the stock routing reads (services/stock.py), getBalance into
`UpstreamAccount` for admins, every UPSTREAM_SYNC_INTERVAL_SECONDS with jitter.

Every process of the app syncs on its own: the writes replace a supplier's whole report, so two
processes syncing the same upstream leave the newest answer, and nothing needs a lock. A failing
upstream is recorded on its account (its last error, shown to admins) and keeps its last stock:
routing still tries it within its deadline, and the failures routing counts pause it if it
stays dead (services/routing.py).
"""

from __future__ import annotations

import asyncio
import random
from typing import TYPE_CHECKING

import structlog
from tortoise.expressions import Subquery

from models import Country, Price, Service, Supplier, UpstreamAccount
from services import routing, stock
from services.db import log_failure
from suppliers.upstream import upstreams
from suppliers.upstream.client import UpstreamClient
from suppliers.upstream.protocol import Offer, UpstreamError

if TYPE_CHECKING:
    from services.runtime import Runtime

log = structlog.get_logger("upstream.sync")
_random = random.SystemRandom()


async def countries_on_sale() -> dict[int, int]:
    """The protocol's country id -> ours, of the countries our catalog prices (those we sell)."""
    priced = Price.all().distinct().values("country_id")
    return {c.compat_id: c.id for c in await Country.filter(id__in=Subquery(priced))}


async def quotes(offers: list[Offer], countries: dict[int, int]) -> list[stock.Quote]:
    """The offers of our catalog, by the protocol's country ids (exactly: an alias such as
    sms-activate's 12 "USA virtual" is a pool of its own there) and the services' codes."""
    services = {s.code: s.id for s in await Service.all()}
    found: dict[tuple[int, int], stock.Quote] = {}
    for offer in offers:
        country_id, service_id = countries.get(offer.country_id), services.get(offer.service)
        if country_id is not None and service_id is not None:
            found[(country_id, service_id)] = stock.Quote(
                country_id, service_id, offer.count, offer.cost_minor
            )
    return list(found.values())


async def sync_once(rt: Runtime, supplier: Supplier) -> bool:
    """One upstream's prices and balance; False (and the error recorded) if it failed."""
    now = rt.clock.now()
    countries = await countries_on_sale()
    try:
        async with upstreams.connected(rt, supplier) as client:
            # One country at a time: a big upstream's whole price list runs to megabytes.
            offers = [o for c in sorted(countries) for o in await _prices(client, c)]
            balance = await client.balance()
    except UpstreamError as error:
        log.warning("upstream sync failed", supplier=supplier.code, error=str(error))
        await _account(supplier, last_error=str(error)[:300], last_error_at=now)
        return False
    await stock.report(supplier.id, await quotes(offers, countries), now)
    await _account(supplier, balance_minor=balance, balance_at=now, synced_at=now, last_error=None)
    await routing.touch(rt, supplier)
    rt.catalog.invalidate()
    if balance < rt.settings.upstream_low_balance_minor:
        log.warning(
            "upstream balance is low", supplier=supplier.code, balance_minor=balance
        )  # admins see it as Supplier.upstreamBalanceLow
    return True


async def _prices(client: UpstreamClient, country: int) -> list[Offer]:
    """One country's offers; none where the upstream does not sell in that country."""
    try:
        return await client.prices(country=country)
    except UpstreamError as error:
        if error.refusal == "WRONG_COUNTRY_ID":
            return []
        raise


async def _account(supplier: Supplier, **values: object) -> None:
    if not await UpstreamAccount.filter(supplier_id=supplier.id).update(**values):
        await UpstreamAccount.bulk_create(
            [UpstreamAccount(supplier_id=supplier.id, **values)], ignore_conflicts=True
        )


def next_interval(rt: Runtime) -> float:
    """The interval, give or take a quarter: upstreams synced together drift apart."""
    return rt.settings.upstream_sync_interval_seconds * _random.uniform(0.75, 1.25)


async def run(rt: Runtime) -> None:
    """Until cancelled: syncs each ACTIVE upstream when it is due, each in a task of its own
    (a slow upstream delays only itself); looks for added or removed ones every few seconds."""
    loop = asyncio.get_running_loop()
    due: dict[int, float] = {}
    running: dict[int, asyncio.Task[bool]] = {}
    try:
        while True:
            try:
                found = await upstreams.active()
            except Exception as error:  # the database may be away for a moment; keep going
                log_failure(log, "listing upstreams failed", error)
                found = []
            for supplier in found:
                busy = supplier.id in running and not running[supplier.id].done()
                if not busy and loop.time() >= due.get(supplier.id, 0.0):
                    running[supplier.id] = asyncio.create_task(_guarded(rt, supplier))
                    due[supplier.id] = loop.time() + next_interval(rt)
            await asyncio.sleep(min(5.0, rt.settings.upstream_sync_interval_seconds / 4))
    finally:
        for task in running.values():
            task.cancel()
        await asyncio.gather(*running.values(), return_exceptions=True)


async def _guarded(rt: Runtime, supplier: Supplier) -> bool:
    try:
        return await sync_once(rt, supplier)
    except Exception as error:  # a failed write must not end the job
        log_failure(log, "upstream sync failed", error, supplier=supplier.code)
        return False
