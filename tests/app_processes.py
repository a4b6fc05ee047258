"""App processes of the tests' own (`uvicorn app:app` children) on the test server's database,
for scale-out and fault-injection tests: their environment, and a block that runs one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from testkit.processes import ServerProcess, environment_of
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, SUPPLIER_SECRET, Server


def process_env(server: Server, redis_url: str, prefix: str, **settings: object) -> dict[str, str]:
    """The environment of an app process that shares `server`'s database and admin, with the
    event bus on `redis_url` under `prefix`; `settings` adds or overrides fields."""
    return environment_of(
        {
            "database_url": server.settings.database_url,
            "event_bus_url": redis_url,
            "redis_url": redis_url,
            "redis_prefix": prefix,
            "demo_supplier": True,
            "demo_supplier_secret": SUPPLIER_SECRET,
            "admin_email": ADMIN_EMAIL,
            "admin_password": ADMIN_PASSWORD,
            **settings,
        }
    )


def shared_bus_env(server: Server, **settings: object) -> dict[str, str]:
    """`process_env` on the test server's own Redis and prefix (its events reach the server)."""
    assert server.settings.redis_url is not None, "a PostgreSQL + Redis test"
    redis_url = server.settings.redis_url
    return process_env(server, redis_url, server.settings.redis_prefix, **settings)


def assert_no_traceback(process: ServerProcess) -> None:
    """Nothing in the process's log so far is a traceback: faults are answered, not crashed on."""
    log = process.log_path.read_text(errors="replace") if process.log_path else ""
    at = log.find("Traceback")
    assert at < 0, log[max(0, at - 2000) : at + 4000]  # the traceback itself, with what led to it


@asynccontextmanager
async def app_process(env: dict[str, str]) -> AsyncIterator[str]:
    """`uvicorn app:app` in a child process (a second app instance); yields its base URL."""
    async with ServerProcess("app:app", env) as process:
        yield process.url
