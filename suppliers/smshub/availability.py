"""What the GET_SERVICES poller (poller.py) does with each answer: the agent's stock, summed over
its operators, becomes its availability per offer (services/stock.py), read by `prices` and by
routing. An agent that fails to answer has no stock until it answers again: no buyer waits on an
agent that cannot say what it has.

Every app process polls every ACTIVE agent (each at its own random interval); that is harmless:
GET_SERVICES changes nothing at the agent, and each answer replaces the agent's whole stock in
one transaction (stock.report locks the supplier's row), so the newest answer wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from models import Service, Supplier, SupplierKind, SupplierState
from services import routing, stock
from services.sealing import SealBroken
from settings import Settings
from suppliers.smshub import agents, names
from suppliers.smshub.agents import Agent
from suppliers.smshub.protocol import Failure, Services

if TYPE_CHECKING:
    from services.runtime import Runtime

log = structlog.get_logger("smshub.availability")


async def active_agents(settings: Settings) -> list[Agent]:
    """The agents to poll: every ACTIVE supplier of kind SMSHUB_AGENT."""
    found = []
    for supplier in await Supplier.filter(
        kind=SupplierKind.SMSHUB_AGENT, state=SupplierState.ACTIVE
    ):
        try:
            found.append(agents.of(settings, supplier))
        except SealBroken:  # one agent whose key no SECRETS_KEY opens; the others are polled
            log.warning("SMSHub agent's key cannot be opened: not polled", supplier=supplier.code)
    return found


def quotes(
    found: Services, countries: dict[str, int], services: dict[str, int]
) -> list[stock.Quote]:
    """One quote per offer we know, its SIMs summed over the agent's operators; lines of a
    country or service we do not sell are left out."""
    totals: dict[tuple[int, int], int] = {}
    for line in found.stock:
        country, service = countries.get(line.country), services.get(line.service)
        if country is not None and service is not None:
            totals[(country, service)] = totals.get((country, service), 0) + line.count
    return [stock.Quote(c, s, available) for (c, s), available in totals.items()]


class Writer:
    """The poller's writer for one runtime; it logs when an agent starts or stops failing,
    not at every poll."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._failing: set[int] = set()

    async def __call__(self, agent: Agent, found: Services | Failure) -> None:
        supplier = agent.supplier
        if isinstance(found, Failure):
            if supplier.id not in self._failing:
                log.warning(
                    "SMSHub agent's GET_SERVICES failed; no stock until it answers",
                    supplier=supplier.code,
                    failure=found.kind.value,
                    detail=found.detail,
                )
                self._failing.add(supplier.id)
            await stock.report(supplier.id, [], self.rt.clock.now())
            return
        if supplier.id in self._failing:
            log.info("SMSHub agent's GET_SERVICES answers again", supplier=supplier.code)
            self._failing.discard(supplier.id)
        services = dict(await Service.all().values_list("code", "id"))
        offers = quotes(found, await names.country_ids(), services)
        await stock.report(supplier.id, offers, self.rt.clock.now())
        await routing.touch(self.rt, supplier)
        self.rt.catalog.invalidate()
