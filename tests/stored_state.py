"""What must hold in the database after any fault (a killed process, lost connections): read
straight from the tables, beside the ledger audit (services/audit.py). PostgreSQL only (the
fault-injection tests run there), with `$1` placeholders."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from tortoise import connections

from services import audit, sweeper
from services.errors import Busy

if TYPE_CHECKING:
    from services.runtime import Runtime
    from tests.workload import Deliveries

# Far enough ahead that every SMS deadline and activation window of any app has passed.
SWEEP_AHEAD_SECONDS = 2 * 24 * 3600
SWEEP_ROUNDS = 100  # each ends up to SWEEPER_BATCH_SIZE activations

# A (number, service) pair is sold once (R6), so it is never live twice, not even in turn.
SOLD_TWICE = """
SELECT number_id, service_id, COUNT(*) AS sales FROM activation
GROUP BY number_id, service_id HAVING COUNT(*) > 1
"""
# A purchase writes its number's use and its activation in one transaction: one without the
# other is a half-written purchase. Only uses written since the test began count: other tests of
# the session mark numbers used on purpose to shape a pool (tests/test_catalog.py).
USE_WITHOUT_ACTIVATION = """
SELECT u.number_id, u.service_id FROM number_use u
WHERE u.id > $1 AND NOT EXISTS (SELECT 1 FROM activation a
                  WHERE a.number_id = u.number_id AND a.service_id = u.service_id)
"""
STILL_LIVE = "SELECT id, status FROM activation WHERE status IN ('WAITING_SMS', 'RECEIVED')"
STORED_SMS = """
SELECT supplier_message_id, activation_id, code FROM sms WHERE supplier_message_id = ANY($1)
"""


async def last_number_use_id() -> int:
    """Where a test's own number uses begin: pass it to `violations` as `since_use_id`."""
    [row] = await rows("SELECT COALESCE(MAX(id), 0) AS last FROM number_use")
    return int(row["last"])


async def rows(sql: str, *params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await connections.get("default").execute_query_dict(
        sql, list(params)
    )
    return found


async def sweep_all(rt: Runtime) -> None:
    """Runs `rt`'s sweeper with its clock moved past every deadline until it finds nothing
    left: every hold is then due to be resolved (expired or captured and closed)."""
    rt.clock.advance(SWEEP_AHEAD_SECONDS)
    try:
        for _ in range(SWEEP_ROUNDS):
            try:
                result = await sweeper.sweep_once(rt)
            except Busy:  # a lock a killed process's transaction held a moment longer
                await asyncio.sleep(0.1)
                continue
            if not (result.expired or result.finished):
                return
        raise AssertionError(f"the sweeper still found work after {SWEEP_ROUNDS} rounds")
    finally:
        rt.clock.reset()


async def violations(deliveries: Deliveries, *, swept: bool, since_use_id: int) -> list[str]:
    """Every broken invariant: the ledger audit; no number sold twice nor half sold; every
    acknowledged SMS stored (and attached, when the app said "delivered"); and once `swept`,
    no activation left live (each hold resolved, exactly once by the audit's count)."""
    problems = await audit.ledger_violations()
    problems += [f"sold twice: {row}" for row in await rows(SOLD_TWICE)]
    problems += [
        f"half-written purchase: {row}" for row in await rows(USE_WITHOUT_ACTIVATION, since_use_id)
    ]
    if swept:
        problems += [f"unresolved after the sweep: {row}" for row in await rows(STILL_LIVE)]
    stored = {
        row["supplier_message_id"]: row
        for row in await rows(STORED_SMS, list(deliveries.acknowledged))
    }
    for message_id, outcome in deliveries.acknowledged.items():
        row = stored.get(message_id)
        sent = deliveries.sent[message_id]
        if row is None:
            problems.append(f"SMS {message_id} was acknowledged ({outcome}) but is not stored")
        elif outcome == "delivered" and (row["activation_id"] is None or row["code"] != sent.code):
            problems.append(f"SMS {message_id} was delivered but is stored as {row}")
    return problems
