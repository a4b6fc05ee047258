"""A phone's SIM cards as a supplier's pool of numbers (Android gateway suppliers).

The phone reports its SIM cards when its app starts (`app:started`); an admin may also enter
them. Each SIM number becomes one of the supplier's numbers, sold like any other; a SIM taken out
of the phone retires its number, so it is not sold while it cannot receive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import phonenumbers

from models import Country, GatewaySim, NumberState, PhoneNumber, Supplier
from services.db import Connection, atomic

if TYPE_CHECKING:
    from services.runtime import Runtime


@dataclass(frozen=True)
class Sim:
    slot: int  # 1-based
    number: str  # E.164
    carrier: str | None = None


@dataclass
class PoolChange:
    added: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    # Numbers we cannot take: of a country not in the catalog, or another supplier's.
    refused: list[str] = field(default_factory=list)


async def country_of(e164: str, conn: Connection | None = None) -> Country | None:
    """The catalog's country of a number: phonenumbers' region when it knows the number, else
    the one catalog country whose calling code starts it (none when that is ambiguous, e.g.
    "+1" without an area code phonenumbers knows)."""
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return None
    if region:
        return await Country.get_or_none(code=region, using_db=conn)
    digits = e164.removeprefix("+")
    matches = [c for c in await Country.all().using_db(conn) if digits.startswith(c.dial_code)]
    longest = max((len(c.dial_code) for c in matches), default=0)
    candidates = [c for c in matches if len(c.dial_code) == longest]
    return candidates[0] if len(candidates) == 1 else None


async def learn_device(
    rt: Runtime, supplier: Supplier, device_id: str, sims: Iterable[Sim]
) -> PoolChange:
    """The SIM cards one phone reports now replace what it reported before."""
    change = PoolChange()
    reported = {sim.slot: sim for sim in sims}
    async with atomic() as conn:
        known = {
            row.slot: row
            for row in await GatewaySim.filter(supplier_id=supplier.id, device_id=device_id)
            .using_db(conn)
            .prefetch_related("number")
        }
        for slot, row in known.items():
            sim = reported.get(slot)
            if sim is None or sim.number != row.number.e164:
                await row.delete(using_db=conn)
                await _retire(conn, row.number, change)
        for slot, sim in reported.items():
            number = await _take(conn, supplier, sim, change)
            if number is not None:
                await GatewaySim.update_or_create(
                    supplier_id=supplier.id,
                    device_id=device_id,
                    slot=slot,
                    defaults={"number_id": number.id},
                    using_db=conn,
                )
    rt.catalog.invalidate()
    return change


async def number_on_slot(supplier: Supplier, device_id: str, slot: int) -> str | None:
    sim = await GatewaySim.get_or_none(
        supplier_id=supplier.id, device_id=device_id, slot=slot
    ).prefetch_related("number")
    return sim.number.e164 if sim is not None else None


async def _take(
    conn: Connection, supplier: Supplier, sim: Sim, change: PoolChange
) -> PhoneNumber | None:
    number = await PhoneNumber.get_or_none(e164=sim.number, using_db=conn)
    if number is not None and number.supplier_id != supplier.id:
        change.refused.append(sim.number)  # one number, one supplier: codes must not cross
        return None
    if number is None:
        country = await country_of(sim.number, conn)
        if country is None:
            change.refused.append(sim.number)
            return None
        change.added.append(sim.number)
        return await PhoneNumber.create(
            e164=sim.number,
            country=country,
            supplier=supplier,
            operator=(sim.carrier or "any")[:40],
            using_db=conn,
        )
    if number.state != NumberState.ACTIVE:
        number.state = NumberState.ACTIVE
        await number.save(update_fields=["state"], using_db=conn)
        change.added.append(sim.number)
    return number


async def _retire(conn: Connection, number: PhoneNumber, change: PoolChange) -> None:
    # A live activation on it keeps its number; only new purchases stop choosing it.
    if await GatewaySim.filter(number_id=number.id).using_db(conn).exists():
        return  # another slot (or phone) still holds this SIM
    await PhoneNumber.filter(id=number.id).using_db(conn).update(state=NumberState.RETIRED)
    change.retired.append(number.e164)
