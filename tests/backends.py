"""The two backend pairs every important test runs on, and their throw-away resources.

- sqlite: a SQLite file in a temporary folder + the in-process event bus (the embedded default)
- postgres: a fresh PostgreSQL database with a random name + Redis under a random key prefix

PostgreSQL and Redis are the machine's own (127.0.0.1:5432, 127.0.0.1:6379, or
TEST_POSTGRES_URL / TEST_REDIS_URL). Where they are missing the postgres tests are skipped with
the reason, except in CI (CI=true), where a missing server is a failure.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import asyncpg
import pytest
import redis.asyncio as aioredis

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"


@dataclass(frozen=True)
class Backend:
    name: str
    database_url: str
    event_bus_url: str
    redis_url: str | None
    redis_prefix: str


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true and {reason}: the PostgreSQL + Redis tests cannot run", pytrace=False)
    pytest.skip(f"{reason}; set TEST_POSTGRES_URL / TEST_REDIS_URL or start the servers")


def reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=1):
            return True
    except OSError:
        return False


async def create_postgres_database() -> str:
    """A new empty database with a random name; returns its URL."""
    if not reachable(POSTGRES_URL):
        unavailable(f"PostgreSQL is not reachable at {POSTGRES_URL}")
    name = f"smsrooms_test_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = POSTGRES_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


async def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def check_redis() -> None:
    if not reachable(REDIS_URL):
        unavailable(f"Redis is not reachable at {REDIS_URL}")
    client = aioredis.from_url(REDIS_URL)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def drop_redis_keys(prefix: str) -> None:
    client = aioredis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
