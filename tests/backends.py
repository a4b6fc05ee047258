"""The two backend pairs every important test runs on, and the tests' policy for missing servers.

- sqlite: a SQLite file in a temporary folder + the in-process event bus (the embedded default)
- postgres: a fresh PostgreSQL database with a random name + Redis under a random key prefix
  (made and dropped by testkit/backends.py, which the benchmarks use too)

Where PostgreSQL or Redis is missing the postgres tests are skipped with the reason, except in
CI (CI=true), where a missing server is a failure.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

import testkit.backends
from testkit.backends import Unavailable
from testkit.processes import RedisServer
from tests.templates import templates

IN_CI = os.environ.get("CI", "").lower() == "true"


@dataclass(frozen=True)
class Backend:
    name: str
    database_url: str
    event_bus_url: str
    redis_url: str | None
    redis_prefix: str


@contextmanager
def required() -> Iterator[None]:
    """Runs the block; a server it needs that is not there (testkit's `Unavailable`) skips the
    test, or fails it in CI."""
    try:
        yield
    except Unavailable as missing:
        if IN_CI:
            pytest.fail(
                f"CI=true and {missing}: the PostgreSQL + Redis tests cannot run", pytrace=False
            )
        pytest.skip(f"{missing}; set TEST_POSTGRES_URL / TEST_REDIS_URL or start the servers")


@asynccontextmanager
async def redis_server() -> AsyncIterator[RedisServer]:
    """A redis-server of the test's own (testkit/processes.py), or a skip where none is
    installed (a failure in CI)."""
    server = RedisServer()
    try:
        with required():
            await server.start()
        yield server
    finally:
        await server.close()


@asynccontextmanager
async def own_database(
    backend: Backend, tmp_path: Path, name: str, *, migrated: bool = True
) -> AsyncIterator[str]:
    """A new database of the backend's engine (tortoise allows one engine per process): with
    every migration applied (a copy of the run's template, tests/templates.py), or empty."""
    path = tmp_path / f"{name}.sqlite3"
    if backend.name == "sqlite":
        yield await templates.sqlite_copy(path) if migrated else f"sqlite://{path}"
        return
    with required():
        if migrated:
            url = await templates.postgres_copy()
        else:
            url = await testkit.backends.create_postgres_database()
    try:
        yield url
    finally:
        await testkit.backends.drop_postgres_database(url)
