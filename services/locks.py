"""Every lock the services take, in one place (after pretix's `services/locking.py`).

Order, always: a user's event lock first, then row locks (numbers with SKIP LOCKED, then ledger
accounts in ascending id, services/ledger.py). Every wait is bounded: PostgreSQL connections
start with `lock_timeout = LOCK_TIMEOUT_MS` (services/db.py), and a lock not granted by then
ends the transaction with `Busy` (a retryable refusal), never a hung request.

SQLite has one writer and one connection per process, and tortoise ignores FOR UPDATE there;
correctness never rests on these locks alone, but on conditional updates and unique
constraints (DESIGN.md, "Known traps").
"""

from __future__ import annotations

from typing import TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

from services.db import Connection, is_postgres

_Row = TypeVar("_Row", bound=Model)

EVENT_LOCK_CLASS = 7_406_302  # advisory lock namespace: a user's event-writing transactions


async def user_events(conn: Connection, user_id: int) -> None:
    """Serialises a user's event-writing transactions on PostgreSQL, so that their events
    commit in id order and a live feed reading "after cursor N" can never miss an event that
    committed late (ids are taken at insert, visible at commit). Take it before any row lock of
    that user. SQLite has one writer: nothing to do."""
    if is_postgres():
        await conn.execute_query(
            "SELECT pg_advisory_xact_lock($1, $2)", [EVENT_LOCK_CLASS, user_id]
        )


def user_events_statement(user_id: int) -> str:
    """`user_events` as a statement of constants, for a transaction that begins with it in the
    same round trip (services/db.py `postgres_transaction`)."""
    return f"SELECT pg_advisory_xact_lock({EVENT_LOCK_CLASS}, {int(user_id)})"


def rows(query: QuerySet[_Row], *, skip_locked: bool = False) -> QuerySet[_Row]:
    """The rows of `query`, locked FOR UPDATE on PostgreSQL (SKIP LOCKED: others' are passed
    over instead of waited for)."""
    if is_postgres():
        return query.select_for_update(skip_locked=skip_locked)
    return query
