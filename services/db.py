"""Transactions and the few places where the two database dialects differ."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.exceptions import IntegrityError, OperationalError, TransactionManagementError
from tortoise.migrations.executor import MigrationExecutor
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from settings import tortoise_config

T = TypeVar("T")
_PLACEHOLDER = re.compile(r"\$\d+")
MIGRATION_LOCK_KEY = 7_406_301  # any constant shared by all processes of this app
Connection = BaseDBAsyncClient

__all__ = ["Connection", "IntegrityError", "atomic", "is_postgres", "locked", "retry_serialization"]


def is_postgres() -> bool:
    dialect: str = connections.get("default").capabilities.dialect
    return dialect == "postgres"


def atomic() -> Any:
    """One database transaction: `async with atomic() as conn:`."""
    return in_transaction("default")


def locked(query: QuerySet[Any], *, skip_locked: bool = False) -> QuerySet[Any]:
    """Row locks on PostgreSQL. SQLite has one writer and one connection per process, and
    tortoise ignores FOR UPDATE there; correctness never rests on this lock alone, but on
    conditional updates and unique constraints (DESIGN.md, "Known traps")."""
    if is_postgres():
        return query.select_for_update(skip_locked=skip_locked)
    return query


EVENT_LOCK_CLASS = 7_406_302  # advisory lock namespace: a user's event-writing transactions


async def lock_user_events(conn: Connection, user_id: int) -> None:
    """Serialises a user's event-writing transactions on PostgreSQL, so that their events
    commit in id order and a live feed reading "after cursor N" can never miss an event that
    committed late (ids are taken at insert, visible at commit). Take it before any row lock of
    that user (fixed order: this lock, then rows). SQLite has one writer: nothing to do."""
    if is_postgres():
        await conn.execute_query(
            "SELECT pg_advisory_xact_lock($1, $2)", [EVENT_LOCK_CLASS, user_id]
        )


async def fetch_value(sql: str, *params: Any) -> Any:
    """The first column of the first row of a read-only query with `$1, $2...` placeholders
    (PostgreSQL's; rewritten for SQLite). For the hottest reads, where building the query
    through the ORM would cost more than running it."""
    conn = connections.get("default")
    if not is_postgres():
        sql = _PLACEHOLDER.sub("?", sql)
    _, rows = await conn.execute_query(sql, list(params))
    return rows[0][0] if rows else None  # asyncpg's Record and sqlite3.Row both index by position


async def retry_serialization(operation: Callable[[], Awaitable[T]], *, attempts: int = 3) -> T:
    """Runs `operation` again when PostgreSQL reports a deadlock or serialization failure."""
    for attempt in range(attempts):
        try:
            return await operation()
        except (OperationalError, TransactionManagementError) as exc:
            text = str(exc).lower()
            transient = "deadlock" in text or "could not serialize" in text
            if not transient or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


async def open_database(database_url: str) -> None:
    """Connects the ORM and applies pending migrations (models/migrations).

    Several processes may start at once: on PostgreSQL an advisory lock, held in its own
    transaction while the migrations run, lets one migrate and the others find nothing to do.
    """
    config = tortoise_config(database_url)
    await Tortoise.init(config=config, _enable_global_fallback=True)
    apps = config["apps"]
    executor = MigrationExecutor(connections.get("default"), apps)  # type: ignore[arg-type]
    if is_postgres():
        async with in_transaction("default") as conn:
            await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY])
            await executor.migrate()
    else:
        await executor.migrate()


async def close_database() -> None:
    """Closes the pools and clears tortoise's global context, so a process may open another."""
    await Tortoise.close_connections()
    # tortoise caches each model's SQL by connection *name*; another database opened later
    # under the same name (tests run SQLite, then PostgreSQL) must not reuse the old dialect's.
    EXECUTOR_CACHE.clear()
