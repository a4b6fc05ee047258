"""Throw-away backends on the machine's own PostgreSQL and Redis, and free ports.

A database gets a random name and is dropped at the end; Redis keys get a random prefix and are
deleted at the end, so that parallel runs (several engineers' test runs, a benchmark) never meet.
The servers are 127.0.0.1:5432 and 127.0.0.1:6379 unless TEST_POSTGRES_URL / TEST_REDIS_URL
name others (the URL of a database the user may `CREATE DATABASE` from).
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import asyncpg
import redis.asyncio as aioredis

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
HOST = "127.0.0.1"


class Unavailable(Exception):
    """A server a test or benchmark needs is not there; the message says which and where."""


def reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or HOST, parts.port or 0), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# -- PostgreSQL ---------------------------------------------------------------------------------
async def create_postgres_database(kind: str = "test", *, template: str | None = None) -> str:
    """A new database named `smsrooms_<kind>_<random>`, empty or a copy of the database at
    `template` (a URL; nobody may be connected to it); returns its URL."""
    if not reachable(POSTGRES_URL):
        raise Unavailable(f"PostgreSQL is not reachable at {POSTGRES_URL}")
    name = f"smsrooms_{kind}_{secrets.token_hex(6)}"
    copy = f' TEMPLATE "{database_name(template)}"' if template else ""
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"{copy}')
    finally:
        await conn.close()
    return f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?", 1)[0]


async def drop_postgres_database(url: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')
    finally:
        await conn.close()


@asynccontextmanager
async def postgres_database(kind: str = "test") -> AsyncIterator[str]:
    """A throw-away database for the block; dropped afterwards, also after a failure."""
    url = await create_postgres_database(kind)
    try:
        yield url
    finally:
        await drop_postgres_database(url)


# -- Redis --------------------------------------------------------------------------------------
def random_redis_prefix(kind: str = "test") -> str:
    return f"smsrooms-{kind}-{secrets.token_hex(4)}:"


async def check_redis(url: str = REDIS_URL) -> None:
    if not reachable(url):
        raise Unavailable(f"Redis is not reachable at {url}")
    client = aioredis.from_url(url)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def drop_redis_keys(prefix: str, url: str = REDIS_URL) -> None:
    client = aioredis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@asynccontextmanager
async def redis_prefix(kind: str = "test") -> AsyncIterator[str]:
    """A random key prefix on the shared Redis for the block; its keys are deleted afterwards."""
    await check_redis()
    prefix = random_redis_prefix(kind)
    try:
        yield prefix
    finally:
        await drop_redis_keys(prefix)
