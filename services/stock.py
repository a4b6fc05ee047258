"""What each supplier can give right now, per offer (country, service).

Two sources, one answer (docs/adr/0009):
- a supplier whose numbers are rows of our own database (the demo pool, a webhook supplier's
  pool, a gateway phone's SIMs: POOL_KINDS) has as stock its free numbers, counted live: a copy
  could only drift;
- any other supplier's stock is what its protocol's poller last reported (`report`), kept in
  `supplier_stock` with the cost it quoted, so that no price list and no purchase waits on a
  supplier's network.

Only ACTIVE suppliers count. The catalog shows the sum over suppliers; routing reads the
candidates of one offer (`candidates`), a single query per purchase.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from models import NumberState, Supplier, SupplierKind, SupplierState, SupplierStock
from services import locks, policy
from services.db import atomic, fetch_rows

POOL_KINDS = (SupplierKind.DEMO, SupplierKind.WEBHOOK, SupplierKind.ANDROID_GATEWAY)
# Built from constants only (no input reaches them), once, at import.
_POOL = ", ".join(f"'{k.value}'" for k in POOL_KINDS)
_ACTIVE = f"'{SupplierState.ACTIVE.value}'"
_FREE_NUMBER = f"""
n.state = '{NumberState.ACTIVE.value}' AND {policy.crimean_sql_filter("n.e164")} AND NOT EXISTS
  (SELECT 1 FROM number_use u WHERE u.number_id = n.id AND u.service_id = p.service_id)
"""  # noqa: S608

# Every (supplier, country, service) with its stock: pools counted live, the others reported
# (with the cost they quoted).
BY_SUPPLIER_AND_OFFER = f"""
SELECT n.supplier_id, p.country_id, p.service_id, COUNT(n.id) AS available,
  NULL AS quoted_cost_minor
FROM price p
JOIN phone_number n ON n.country_id = p.country_id
JOIN supplier s ON s.id = n.supplier_id AND s.state = {_ACTIVE} AND s.kind IN ({_POOL})
WHERE {_FREE_NUMBER}
GROUP BY n.supplier_id, p.country_id, p.service_id
UNION ALL
SELECT st.supplier_id, st.country_id, st.service_id, st.available, st.cost_minor
FROM supplier_stock st
JOIN supplier s ON s.id = st.supplier_id AND s.state = {_ACTIVE} AND s.kind NOT IN ({_POOL})
WHERE st.available > 0
"""  # noqa: S608

# The same with what each supplier is paid for the offer: set by an admin, else quoted, else
# its default, else the offer's reference cost (as `candidates` orders them).
WITH_COSTS = f"""
SELECT o.supplier_id, o.country_id, o.service_id, o.available,
  COALESCE(c.cost_minor, o.quoted_cost_minor, s.default_cost_minor, p.cost_minor) AS cost_minor
FROM ({BY_SUPPLIER_AND_OFFER}) o
JOIN supplier s ON s.id = o.supplier_id
JOIN price p ON p.country_id = o.country_id AND p.service_id = o.service_id
LEFT JOIN supplier_cost c
  ON c.supplier_id = o.supplier_id AND c.country_id = o.country_id AND c.service_id = o.service_id
"""  # noqa: S608

# The suppliers (whole rows) that may have a number of one offer ($1 country, $2 service), with
# the cost an admin set for it and the one they quote. A pool needs only one free number
# (EXISTS stops at the first).
_SET_COST = """
LEFT JOIN supplier_cost c ON c.supplier_id = s.id AND c.country_id = $1 AND c.service_id = $2
"""
CANDIDATES = f"""
SELECT s.*, c.cost_minor AS set_cost_minor, NULL AS quoted_cost_minor
FROM supplier s {_SET_COST}
WHERE s.state = {_ACTIVE} AND s.kind IN ({_POOL}) AND EXISTS (
  SELECT 1 FROM phone_number n JOIN price p ON p.country_id = n.country_id AND p.service_id = $2
  WHERE n.supplier_id = s.id AND n.country_id = $1 AND {_FREE_NUMBER})
UNION ALL
SELECT s.*, c.cost_minor AS set_cost_minor, st.cost_minor AS quoted_cost_minor
FROM supplier_stock st
JOIN supplier s ON s.id = st.supplier_id AND s.state = {_ACTIVE} AND s.kind NOT IN ({_POOL})
{_SET_COST}
WHERE st.country_id = $1 AND st.service_id = $2 AND st.available > 0
"""  # noqa: S608


@dataclass(frozen=True)
class Quote:
    """One supplier's stock of one offer, as a poller reports it."""

    country_id: int
    service_id: int
    available: int
    cost_minor: int | None = None  # None: the supplier's default cost, or the offer's


@dataclass(frozen=True)
class Candidate:
    supplier: Supplier
    # What an admin set for the offer, else what it quotes, else its default; None: the offer's.
    cost_minor: int | None


@dataclass(frozen=True)
class Stocked:
    """One supplier's stock of one offer and what it is paid for it."""

    supplier_id: int
    country_id: int
    service_id: int
    available: int
    cost_minor: int


async def by_offer() -> dict[tuple[int, int], list[Stocked]]:
    """(country id, service id) -> each active supplier's stock of it, with its cost."""
    found: dict[tuple[int, int], list[Stocked]] = {}
    for row in await fetch_rows(WITH_COSTS):
        stocked = Stocked(
            int(row["supplier_id"]),
            int(row["country_id"]),
            int(row["service_id"]),
            int(row["available"]),
            int(row["cost_minor"]),
        )
        found.setdefault((stocked.country_id, stocked.service_id), []).append(stocked)
    return found


async def per_supplier() -> dict[int, int]:
    """supplier id -> numbers it can give right now, over all offers."""
    totals: dict[int, int] = {}
    for row in await fetch_rows(BY_SUPPLIER_AND_OFFER):
        supplier_id = int(row["supplier_id"])
        totals[supplier_id] = totals.get(supplier_id, 0) + int(row["available"])
    return totals


async def candidates(country_id: int, service_id: int) -> list[Candidate]:
    """One query, on every purchase: the rows come back as Supplier objects with them."""
    found = []
    for row in await fetch_rows(CANDIDATES, country_id, service_id):
        supplier = Supplier._init_from_db(**row)  # tortoise's own row -> model step
        cost = _first_known(
            row["set_cost_minor"], row["quoted_cost_minor"], supplier.default_cost_minor
        )
        found.append(Candidate(supplier, cost))
    return found


def _first_known(*values: object) -> int | None:
    return next((int(str(v)) for v in values if v is not None), None)


async def report(supplier_id: int, quotes: Iterable[Quote], now: datetime) -> None:
    """A poller's answer replaces everything the supplier reported before (an offer it no
    longer lists has no stock). Several processes may poll the same supplier: its row is locked
    first, so that their reports replace each other whole instead of colliding on the rows."""
    rows = [
        SupplierStock(
            supplier_id=supplier_id,
            country_id=q.country_id,
            service_id=q.service_id,
            available=max(0, q.available),
            cost_minor=q.cost_minor,
            updated_at=now,
        )
        for q in quotes
    ]
    async with atomic() as conn:
        await locks.rows(Supplier.filter(id=supplier_id)).using_db(conn).first()
        await SupplierStock.filter(supplier_id=supplier_id).using_db(conn).delete()
        await SupplierStock.bulk_create(rows, using_db=conn)


async def sold_out(supplier_id: int, country_id: int, service_id: int) -> None:
    """The supplier answered "no numbers" for this offer: none until its next report."""
    await SupplierStock.filter(
        supplier_id=supplier_id, country_id=country_id, service_id=service_id
    ).update(available=0)
