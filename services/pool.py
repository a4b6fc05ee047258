"""The first NumberSource: a supplier whose numbers are rows of our own database (the demo
pool, a webhook supplier's numbers). Nothing to ask over a network: the number is picked inside
the purchase transaction, SKIP LOCKED, so that concurrent buyers each take a different one."""

from __future__ import annotations

from typing import ClassVar

from tortoise.expressions import Subquery

from models import NumberState, NumberUse, PhoneNumber
from services import locks, policy
from services.db import Connection
from services.routing import Acquired, NumberSource, Want


class PoolSource(NumberSource):
    reaches_network: ClassVar[bool] = False

    async def acquire(self, want: Want) -> Acquired | None:
        return Acquired()  # stock was seen by routing; the number is picked in the transaction


async def free_number(
    conn: Connection, supplier_id: int, country_id: int, service_id: int
) -> PhoneNumber | None:
    """One free number of the supplier's pool for this service, locked for this transaction."""
    query = (
        PhoneNumber.filter(supplier_id=supplier_id, country_id=country_id, state=NumberState.ACTIVE)
        .exclude(id__in=Subquery(NumberUse.filter(service_id=service_id).values("number_id")))
        .order_by("id")
        .limit(1)
    )
    for prefix in policy.CRIMEAN_PREFIXES:  # R11
        query = query.exclude(e164__startswith=prefix)
    # SKIP LOCKED: concurrent buyers each take a different number instead of queueing.
    return await locks.rows(query, skip_locked=True).using_db(conn).first()
