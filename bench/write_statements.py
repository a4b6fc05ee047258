"""Statements and round trips of one purchase, one cancel and one ban (issue 11, item 1).
Prints a table; not a test. Contention-free: one buyer, so the figures are the paths' own.

    .venv/bin/python bench/write_statements.py [--verbose]

It runs the services (services/activations.py) in this process on a throw-away PostgreSQL
database and Redis prefix, with every asyncpg connection of the pool wrapped: each message
exchange with the server (a simple query, a prepare, a bind/execute) is one round trip, and its
SQL is recorded. Read it with docs/adr/0012.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from common import backend, runtime, table


@dataclass
class Trace:
    statements: list[str] = field(default_factory=list)
    round_trips: int = 0
    prepares: int = 0


_current: Trace | None = None


def _record(sql: str, *, prepare: bool = False) -> None:
    if _current is None:
        return
    _current.round_trips += 1
    if prepare:
        _current.prepares += 1
    else:
        _current.statements.append(" ".join(sql.split())[:160])


def wrap_asyncpg() -> None:
    """Counts the round trips of every asyncpg connection of this process."""
    conn_class = asyncpg.connection.Connection
    execute, do_execute, get_statement = (
        conn_class.execute,
        conn_class._do_execute,  # noqa: SLF001 - the one door of fetch*/execute with arguments
        conn_class._get_statement,  # noqa: SLF001 - prepares when the statement is not cached
    )

    async def counted_execute(self: Any, query: str, *args: Any, **kw: Any) -> Any:
        if not args:
            _record(query)  # the simple query protocol: one round trip
        return await execute(self, query, *args, **kw)

    async def counted_do_execute(self: Any, query: str, *args: Any, **kw: Any) -> Any:
        _record(query)
        return await do_execute(self, query, *args, **kw)

    async def counted_get_statement(self: Any, query: str, *args: Any, **kw: Any) -> Any:
        key = (query, self._protocol.get_record_class(), False)  # noqa: SLF001
        cached = self._stmt_cache.get(key)  # noqa: SLF001
        if cached is None or cached.closed:
            _record(query, prepare=True)
        return await get_statement(self, query, *args, **kw)

    conn_class.execute = counted_execute  # type: ignore[method-assign]
    conn_class._do_execute = counted_do_execute  # type: ignore[method-assign]  # noqa: SLF001
    conn_class._get_statement = counted_get_statement  # type: ignore[method-assign]  # noqa: SLF001


def _kind(statement: str) -> str:
    if statement.startswith(("BEGIN", "COMMIT", "ROLLBACK")):
        return "transaction"
    if "pg_advisory_unlock_all" in statement:
        return "pool reset"  # asyncpg's Connection.reset, on each release to the pool
    return "sql"


@contextlib.contextmanager
def traced() -> Iterator[Trace]:
    global _current  # noqa: PLW0603 - one trace at a time, in this one-buyer script
    _current = Trace()
    try:
        yield _current
    finally:
        _current = None


async def measure(database_url: str, prefix: str, verbose: bool) -> list[list[str]]:
    from services import accounts, activations
    from suppliers import demo
    from testkit import factory

    rows = []
    async with runtime(database_url, prefix) as rt:
        await demo.seed(rt)  # what the app's start does (app.py)
        await accounts.ensure_admin(rt, rt.settings.admin_email, rt.settings.admin_password)
        offers = await factory.stock(rt, 2, numbers_each=20)
        admin = await factory.admin(rt)
        (user,) = await factory.users(rt, 1, tag="statements")
        await factory.fund(rt, admin, user.id, "100.00")
        viewer = await factory.viewer(rt, user.token)
        # Warm-up: the second and later purchases are the steady state (cached catalog,
        # prepared statements).
        for country, service in offers[:3]:
            bought = await activations.buy(
                rt, viewer, activations.BuyRequest(country, service), ip="127.0.0.1"
            )
            await activations.cancel(rt, viewer, bought.id, ip="127.0.0.1")
        country, service = offers[3]
        steps = [
            (
                "buy",
                lambda: activations.buy(
                    rt, viewer, activations.BuyRequest(country, service), ip="127.0.0.1"
                ),
            ),
            ("cancel", lambda: activations.cancel(rt, viewer, bought.id, ip="127.0.0.1")),
            (
                "buy (for a ban)",
                lambda: activations.buy(
                    rt, viewer, activations.BuyRequest(*offers[4]), ip="127.0.0.1"
                ),
            ),
            ("ban", lambda: activations.ban(rt, viewer, bought.id, ip="127.0.0.1")),
        ]
        for name, step in steps:
            with traced() as trace:
                result = await step()
            if name.startswith("buy"):
                bought = result
            kinds = Counter(_kind(statement) for statement in trace.statements)
            rows.append(
                [
                    name,
                    str(kinds["sql"]),
                    str(kinds["transaction"]),
                    str(kinds["pool reset"]),
                    str(trace.prepares),
                    str(trace.round_trips),
                ]
            )
            if verbose:
                print(f"-- {name}")
                for statement in trace.statements:
                    print("   ", statement)
    return rows


async def run(verbose: bool) -> None:
    wrap_asyncpg()
    async with backend() as (database_url, prefix):
        rows = await measure(database_url, prefix, verbose)
    print()
    print("Statements per write path (services/activations.py, PostgreSQL, one buyer)")
    print(table(["path", "SQL", "BEGIN/COMMIT", "pool resets", "prepares", "round trips"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verbose", action="store_true", help="print every statement")
    asyncio.run(run(parser.parse_args().verbose))


if __name__ == "__main__":
    main()
