"""The database of one runtime, transactions, and the few places where the dialects differ.

Each runtime opens its own tortoise context (connections and model registry). The first one
opened in a process is also the process's default, so that commands and tests read through it;
every other is reached only where its runtime activates it (each request of its app, and its
background jobs), which is how two apps live in one process.
"""

from __future__ import annotations

import contextlib
import logging
import re
import weakref
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import asyncpg
from tortoise import connections
from tortoise.backends.asyncpg.client import AsyncpgDBClient
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.context import TortoiseContext, _current_context, set_global_context
from tortoise.exceptions import ConfigurationError, IntegrityError
from tortoise.migrations.executor import MigrationExecutor
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from services.errors import Busy

_PLACEHOLDER = re.compile(r"\$\d+")
MIGRATION_LOCK_KEY = 7_406_301  # any constant shared by all processes of this app
DEFAULT_POOL_MAX = 20  # PostgreSQL connections per process (tortoise's own default is 5)
Connection = BaseDBAsyncClient

__all__ = [
    "Connection",
    "Database",
    "IntegrityError",
    "atomic",
    "connection_lost",
    "is_postgres",
    "log_failure",
    "text_array",
    "tortoise_config",
    "unavailable",
]

# PostgreSQL ended the connection or would not open one: an operator's pg_terminate_backend, a
# restart or fail-over (classes 08 and 57), no connection slot left (53300).
_LOST = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
    ConnectionError,  # refused or reset before PostgreSQL could say why
)


def text_array(values: Iterable[object]) -> list[str | None]:
    """An array parameter as `text[]`, for the SQL to cast (`$1::text[]::bigint[]`).

    asyncpg has codecs of its own for `text[]` and `oid[]` only. Any other array type among a
    statement's parameters or results (`bigint[]`, `varchar[]`, `timestamptz[]`...) makes it
    introspect that type on each new connection: a recursive catalog query between two JIT
    toggles, ~7 ms here against 0.4 ms for the statement (asyncpg issue 1272). When the pool
    grew under load, every new connection paid it at once, and the database stalled everyone's
    reads for tens of milliseconds (issue 11, ADR 0021). So the app's SQL takes arrays as
    `text[]` and returns them as `text[]`."""
    return [_as_text(value) for value in values]


def _as_text(value: object) -> str | None:
    """What PostgreSQL's cast from text reads back as the value. A datetime must carry its
    time zone: the binary parameter took a naive one as UTC, text would take it in the session's
    zone. Anything but None, int, str and aware datetimes is refused (`str(True)` is "True")."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.isoformat()
    raise TypeError(f"no text form for an array element: {value!r}")


def tortoise_config(database_url: str, *, lock_timeout_ms: int | None = None) -> dict[str, Any]:
    """tortoise's configuration for a DATABASE_URL. On PostgreSQL every connection of the pool
    starts with `lock_timeout` set (no extra round trip per transaction): no lock wait is
    unbounded (services/locks.py)."""
    url = database_url.replace("postgresql://", "postgres://", 1)
    connection: str | dict[str, Any] = url
    if url.startswith("postgres://"):
        if "maxsize=" not in url:
            # Set `?maxsize=N` in DATABASE_URL to choose another size.
            url += ("&" if "?" in url else "?") + f"maxsize={DEFAULT_POOL_MAX}"
        connection = expand_db_url(url)
        connection["credentials"]["reset"] = keep_session
        if lock_timeout_ms is not None:
            server_settings = connection["credentials"].setdefault("server_settings", {})
            server_settings["lock_timeout"] = str(lock_timeout_ms)
    return {
        "connections": {"default": connection},
        "apps": {
            "models": {
                "models": ["models"],
                "default_connection": "default",
                "migrations": "models.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def keep_session(conn: asyncpg.Connection) -> None:
    """What asyncpg's pool does to a connection coming back, after it has rolled back any open
    transaction: nothing. Its default reset is one more round trip per release, so per request
    (`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`), undoing session state this
    app never leaves: its advisory locks are transaction-level (services/locks.py), it holds
    no cursor, listens to nothing and sets no session variable (ADR 0015)."""


_open: weakref.WeakSet[Database] = weakref.WeakSet()  # every open database of this process


class Database:
    def __init__(self, database_url: str, *, lock_timeout_ms: int) -> None:
        self._config = tortoise_config(database_url, lock_timeout_ms=lock_timeout_ms)
        self.dialect = (
            "postgres" if database_url.startswith(("postgres", "postgresql")) else "sqlite"
        )
        self._context = TortoiseContext()
        self.is_process_default = False
        self.migrations_applied: list[str] = []  # by the last `open`, in order

    @contextlib.contextmanager
    def activate(self) -> Iterator[None]:
        """Makes this database the one models use in the current task (and tasks it starts)."""
        token = _current_context.set(self._context)
        try:
            yield
        finally:
            _current_context.reset(token)

    async def open(self) -> None:
        """Connects and applies pending migrations (models/migrations).

        Several processes may start at once: on PostgreSQL an advisory lock, held in its own
        transaction while the migrations run, lets one migrate and the others find nothing to do.
        """
        # tortoise keeps each model's SQL builder on the model class, set by the last init: the
        # apps of one process may have databases of their own, but all of one engine.
        if any(other.dialect != self.dialect for other in _open):
            raise RuntimeError("every app of one process must use the same database engine")
        if self.dialect == "sqlite":
            _make_sqlite_folder(self._config["connections"]["default"])
        with self.activate():  # init looks its connections up in the current context
            await self._context.init(config=self._config)
            _open.add(self)
            try:
                set_global_context(self._context)
                self.is_process_default = True
            except ConfigurationError:  # another runtime of this process got there first
                pass
            await self._migrate()

    async def _migrate(self) -> None:
        executor = MigrationExecutor(connections.get("default"), self._config["apps"])
        self.migrations_applied = []

        def record(event: str, app: str, name: str) -> None:
            if event == "apply_done":
                self.migrations_applied.append(f"{app}.{name}")

        if is_postgres():
            async with in_transaction("default") as conn:
                await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY])
                await executor.migrate(progress=record)
        else:
            await executor.migrate(progress=record)

    async def close(self) -> None:
        _open.discard(self)
        await self._context.close_connections()
        # tortoise caches each model's SQL by connection *name*; another database opened later
        # under the same name (tests run SQLite, then PostgreSQL) must not reuse the old dialect's.
        EXECUTOR_CACHE.clear()


def _make_sqlite_folder(url: str) -> None:
    """SQLite makes its file but not the folders above it (`./data` on a first start)."""
    path = url.removeprefix("sqlite://").split("?", 1)[0]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def is_postgres() -> bool:
    dialect: str = connections.get("default").capabilities.dialect
    return dialect == "postgres"


def connection_lost(error: BaseException | None) -> bool:
    """Did `error`, or an error it arose from, come of a database connection that was lost or
    refused? Not a bug: the database is away for a moment, and a retry may succeed."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, _LOST) or _closed_or_closing(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def _closed_or_closing(error: BaseException) -> bool:
    # asyncpg's "connection is closed" (a pooled connection the server had ended) has no class
    # of its own, nor has its protocol's confusion when the server ends a connection under it
    # ("cannot switch to state 12; another operation (2) is in progress", asyncpg issue 1069;
    # the pool drops that connection). A database closed to connections (ALLOW_CONNECTIONS
    # false, 55000) answers with the class it shares with other states, but only at connect.
    if isinstance(error, asyncpg.exceptions.InterfaceError):
        return "connection is closed" in str(error)
    if isinstance(error, asyncpg.exceptions.InternalClientError):
        return str(error).startswith("cannot switch to state")
    return type(error) is asyncpg.exceptions.ObjectNotInPrerequisiteStateError and (
        "not currently accepting connections" in str(error)
    )


def unavailable(error: BaseException) -> Busy | None:
    """The retryable refusal a lost connection becomes (None for any other error). A write
    whose commit was under way may or may not have happened: a retry with the same
    idempotency key is safe."""
    if not connection_lost(error):
        return None
    return Busy("the database is unavailable for a moment, try again")


def log_failure(log: Any, event: str, error: BaseException, **fields: object) -> None:
    """Logs the error a catch-all caught (call it in the `except` block): a bug with its
    traceback, a lost database connection as one line that names it (the database away for a
    moment is no bug, and a traceback per request or per round would bury the real ones)."""
    if connection_lost(error):
        log.warning(f"{event}: database unavailable", error=type(error).__name__, **fields)
    else:
        log.exception(event, **fields)


class _OutageWithoutTraceback(logging.Filter):
    """asyncpg's pool logs each failed attempt to reopen its connections with a traceback
    while the database is away ("Failed to restore the pool connection floor"): one line that
    names the error says as much, and keeps tracebacks in the log for bugs."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and connection_lost(error):
            record.msg, record.args = f"{record.getMessage()}: {type(error).__name__}", ()
            record.exc_info, record.exc_text = None, None
        return True


logging.getLogger("asyncpg.pool").addFilter(_OutageWithoutTraceback())


@contextlib.asynccontextmanager
async def atomic() -> AsyncIterator[Connection]:
    """One database transaction: `async with atomic() as conn:`. A lock not granted within
    LOCK_TIMEOUT_MS, or a connection lost, ends it with `Busy`, a refusal the client may
    retry."""
    try:
        async with in_transaction("default") as conn:
            yield conn
    except asyncpg.exceptions.LockNotAvailableError:
        raise Busy("the service is busy, try again") from None
    except Exception as error:
        lost = unavailable(error)
        if lost is None:
            raise
        raise lost from error


@contextlib.asynccontextmanager
async def postgres_transaction(opening: str) -> AsyncIterator[asyncpg.Connection]:
    """PostgreSQL only: a transaction on a connection of the same pool (`atomic`'s, where
    asyncpg keeps each connection's prepared statements), begun in ONE round trip with
    `opening`, a statement of constants (the user's lock, docs/adr/0012): `BEGIN` and the lock
    as tortoise would send them are two round trips, each a wait for the event loop while the
    transaction is open. Errors as `atomic`'s: a lock not granted or a lost connection ends
    it with `Busy`, a unique or check violation is tortoise's IntegrityError."""
    client = connections.get("default")
    # Inside atomic() the current client is that transaction's: a BEGIN there would be nested.
    assert not isinstance(client, TransactionalDBClient), "not inside another transaction"
    try:
        async with client.acquire_connection() as conn:
            try:
                await conn.execute(f"BEGIN; {opening}")
                yield conn
            except BaseException:
                with contextlib.suppress(Exception):  # the error that ended it is the one to tell
                    await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")
    except asyncpg.exceptions.LockNotAvailableError:
        raise Busy("the service is busy, try again") from None
    except asyncpg.exceptions.IntegrityConstraintViolationError as error:
        raise IntegrityError(error) from error
    except Exception as error:
        lost = unavailable(error)
        if lost is None:
            raise
        raise lost from error


def _sqlite_placeholders(sql: str) -> str:
    """PostgreSQL's `$1` as SQLite's `?1`: numbered too, so one may appear more than once."""
    return _PLACEHOLDER.sub(lambda m: "?" + m.group(0)[1:], sql)


async def fetch_row(sql: str, *params: Any) -> Sequence[Any] | None:
    """The first row of a read-only query with `$1, $2...` placeholders (PostgreSQL's; rewritten
    for SQLite), its columns by position (asyncpg's Record and sqlite3.Row both index so). For
    the hottest reads, where building the query through the ORM would cost more than running
    it."""
    conn = connections.get("default")
    pool = conn._pool if type(conn) is AsyncpgDBClient else None  # not in a transaction
    if pool is not None:
        # Straight on the pool tortoise opened: its query layer (logging, exception
        # translation, result shaping) cost as much CPU as the round trip (ADR 0015).
        async with pool.acquire() as pooled:
            row: Sequence[Any] | None = await pooled.fetchrow(sql, *params)
            return row
    if not is_postgres():
        sql = _sqlite_placeholders(sql)
    _, rows = await conn.execute_query(sql, list(params))
    return rows[0] if rows else None


async def fetch_value(sql: str, *params: Any) -> Any:
    """The first column of the first row (see fetch_row), or None without a row."""
    row = await fetch_row(sql, *params)
    return row[0] if row is not None else None


async def fetch_rows(sql: str, *params: Any) -> list[dict[str, Any]]:
    """The rows of a read-only query with `$1, $2...` placeholders, as dicts (see fetch_row)."""
    conn = connections.get("default")
    if not is_postgres():
        sql = _sqlite_placeholders(sql)
    rows: list[dict[str, Any]] = await conn.execute_query_dict(sql, list(params))
    return rows


async def newest_id(query: QuerySet[Any]) -> int:
    """The highest id among the rows of `query`, or 0 when it has none (where a feed starts)."""
    newest = query.order_by("-id").first().values_list("id", flat=True)
    # tortoise types this as a tuple; with flat=True after first() it is the bare id, or None.
    found = cast("int | None", await newest)
    return int(found) if found else 0


def __getattr__(name: str) -> Any:
    """`TORTOISE_ORM`, for tortoise's own command line (makemigrations), from DATABASE_URL."""
    if name == "TORTOISE_ORM":
        from settings import Settings

        return tortoise_config(Settings.from_env().database_url)
    raise AttributeError(name)
