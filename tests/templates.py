"""Databases that start migrated: each engine's database with every migration applied is made
once per test run (by `smsrooms migrate`, as an operator would), and a test's own database
starts as a copy of it.

Why: tortoise replays a migration by rendering every model's state again for each operation,
so migrating an empty database costs about 5 s of CPU (models/migrations, 13 migrations) and
the suite makes dozens of them (two apps per upstream test, one per CLI test...). A copy costs
milliseconds: SQLite copies the file, PostgreSQL `CREATE DATABASE ... TEMPLATE`. The test that
checks migrating itself asks for an empty database (`own_database(..., migrated=False)`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import sys
import tempfile
from pathlib import Path

import testkit.backends
from settings import Settings

SMSROOMS = Path(sys.executable).with_name("smsrooms")  # the console script of the package
SQLITE_SUFFIXES = ("", "-wal", "-shm")  # the database file and what SQLite may keep beside it


class Templates:
    """The migrated databases of this run, made on first use and dropped by `close`."""

    def __init__(self) -> None:
        self._folder: Path | None = None
        self._sqlite: Path | None = None
        self._postgres: str | None = None
        self._lock = asyncio.Lock()

    async def sqlite_copy(self, path: Path) -> str:
        """A migrated SQLite database at `path`; returns its URL."""
        async with self._lock:
            if self._sqlite is None:
                self._folder = Path(tempfile.mkdtemp(prefix="smsrooms-templates-"))
                template = self._folder / "migrated.sqlite3"
                await _migrate(f"sqlite://{template}")
                self._sqlite = template
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in SQLITE_SUFFIXES:
            source = self._sqlite.with_name(self._sqlite.name + suffix)
            if source.exists():
                shutil.copyfile(source, path.with_name(path.name + suffix))
        return f"sqlite://{path}"

    async def postgres_copy(self) -> str:
        """A new migrated PostgreSQL database (the caller drops it); returns its URL."""
        async with self._lock:
            if self._postgres is None:
                url = await testkit.backends.create_postgres_database("template")
                try:
                    await _migrate(url)
                except BaseException:
                    await testkit.backends.drop_postgres_database(url)
                    raise
                self._postgres = url
        return await testkit.backends.create_postgres_database(template=self._postgres)

    async def close(self) -> None:
        if self._postgres is not None:
            await testkit.backends.drop_postgres_database(self._postgres)
            self._postgres = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = self._sqlite = None


async def _migrate(database_url: str) -> None:
    """`smsrooms migrate` on the database, in a process of its own (this process's tortoise
    is the tests' own): the migrations as a deployment applies them."""
    names = {field.name.upper() for field in dataclasses.fields(Settings)}
    env = {name: value for name, value in os.environ.items() if name not in names}
    process = await asyncio.create_subprocess_exec(
        str(SMSROOMS),
        "migrate",
        env=env | {"DATABASE_URL": database_url, "EVENT_BUS_URL": "memory://"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"migrating the template database failed:\n{output.decode()}")


templates = Templates()
