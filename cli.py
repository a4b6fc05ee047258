"""The command line, `smsrooms` (installed with the package; `.venv/bin/smsrooms` in a checkout).

    smsrooms serve               the server: uvicorn on HOST:PORT (127.0.0.1:8000), as the
                                 settings say (proxies, websocket size, access log)
    smsrooms migrate             apply the database migrations not applied yet
    smsrooms create-admin EMAIL  an admin account, with a password asked for (or ADMIN_PASSWORD)
    smsrooms sweep               expire and close the activations that are due (R4, R3), now
    smsrooms audit               check the ledger's invariants; exit status 1 if one is broken
    smsrooms webhook-worker      send users' SMS webhooks until stopped (with the servers'
                                 WEBHOOK_WORKER_IN_APP=off; ADR 0018)

Every command reads the settings of the environment and of `./.env`, as the server does, and
works through a runtime of its own (services/runtime.py), closed when the command ends; opening
it applies pending migrations. The server migrates and sweeps by itself: `migrate` and `sweep`
are for a release step or a scheduled job run apart from it.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import structlog
import typer

from services import accounts, deactivation, sweeper, webhook_worker
from services import audit as ledger_audit
from services.errors import ServiceError
from services.runtime import opened
from settings import Settings

if TYPE_CHECKING:
    from subscriptions.bus import Wakeup

log = structlog.get_logger("cli")
T = TypeVar("T")
SWEEP_MAX_ROUNDS = 1000  # of SWEEPER_BATCH_SIZE activations each: a bound, never reached

commands = typer.Typer(
    help="SMS Rooms: serve the API, and the operator's commands.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@commands.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def serve(
    context: typer.Context,
    host: Annotated[str, typer.Option(envvar="HOST", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="PORT", help="Port to listen on.")] = 8000,
) -> None:
    """Serve GraphQL, the webhooks, the compatible API and the operations routes: `uvicorn
    app:app` with the flags the settings call for (`uvicorn_flags`). Other options go to
    uvicorn as they are, after ours (`smsrooms serve --workers 2`)."""
    from uvicorn.main import main as uvicorn

    settings = _settings()  # refuse a bad setting here, with its message, before uvicorn starts
    # Our app.py lies beside this module; by default uvicorn would look in the working
    # directory first, where any other app.py would win.
    flags = ["--app-dir", str(Path(__file__).parent), "--host", host, "--port", str(port)]
    flags += uvicorn_flags(settings)
    uvicorn(["app:app", *flags, *context.args], prog_name="smsrooms serve")


GRACEFUL_SHUTDOWN_SECONDS = 30


def uvicorn_flags(settings: Settings) -> list[str]:
    """uvicorn's options that follow from the settings."""
    # Per-message deflate off: it costs about half the memory of each idle websocket.
    flags = ["--ws-per-message-deflate", "false"]
    # A websocket message is refused (close 1009) past the size the app accepts, before
    # uvicorn reads it whole (its default is 16 MiB, read even before sign-in).
    flags += ["--ws-max-size", str(settings.graphql_max_body_bytes)]
    # The app writes the access log, with secrets redacted (web/access_log.py).
    flags += ["--no-access-log"]
    # A client that never lets its connection close cannot hold a restart up for ever: past
    # this, what still runs is cancelled and the app shuts down (uvicorn waits without end).
    flags += ["--timeout-graceful-shutdown", str(GRACEFUL_SHUTDOWN_SECONDS)]
    # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise: behind a local
    # proxy that passes the header on, any client could pick its IP (R11, rate limits).
    if settings.forwarded_allow_ips:
        flags += [
            "--proxy-headers",
            "--forwarded-allow-ips",
            ",".join(settings.forwarded_allow_ips),
        ]
    else:
        flags += ["--no-proxy-headers"]
    return flags


@commands.command()
def migrate() -> None:
    """Apply the database migrations not applied yet (the server also does at start-up; on
    PostgreSQL under a lock, so that it may run beside starting servers)."""
    settings = _settings()

    async def run() -> list[str]:
        async with opened(settings) as rt:
            return rt.database.migrations_applied

    applied = asyncio.run(run())
    for name in applied:
        typer.echo(f"applied {name}")
    typer.echo(f"{_where(settings)} is up to date ({len(applied)} migrations applied now)")


@commands.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Argument(help="The admin's email address.")],
) -> None:
    """Create an admin account, or make the account of EMAIL an admin with the new password
    (its sessions and API keys are then revoked). The password is ADMIN_PASSWORD when it is
    set for this account (ADMIN_EMAIL unset or EMAIL), otherwise it is asked for twice."""
    settings = _settings()
    password = _admin_password(settings, email)

    async def run() -> int:
        async with opened(settings) as rt:
            user = await accounts.ensure_admin(rt, email, password)
            return user.id

    try:
        user_id = asyncio.run(run())
    except ServiceError as error:
        _fail(error.message)
    typer.echo(f"{email.strip().lower()} is an admin (user {user_id})")


@commands.command()
def sweep() -> None:
    """Expire the activations past their SMS deadline, with their refunds (R4), and close the
    received ones past their window (R3), until none is due. Their events go on the event bus,
    so live subscribers of running servers see them (with EVENT_BUS_URL=redis://...)."""
    from web.state import AppRuntime  # the runtime with the event bus

    settings = _settings()

    async def run() -> tuple[int, int]:
        expired = finished = 0
        async with opened(settings, AppRuntime) as rt:
            for _ in range(SWEEP_MAX_ROUNDS):
                done = await sweeper.sweep_once(rt)
                expired, finished = expired + done.expired, finished + done.finished
                if max(done.expired, done.finished) < settings.sweeper_batch_size:
                    break
        return expired, finished

    expired, finished = asyncio.run(run())
    typer.echo(f"expired {expired} activations (refunded), finished {finished}")


@commands.command("deactivate-inactive")
def deactivate_inactive() -> None:
    """Deactivate the accounts unused for INACTIVE_ACCOUNT_DAYS (R8): personal data erased,
    credentials revoked, balance forfeited. The servers do it every
    INACTIVITY_CHECK_INTERVAL_SECONDS; this is for a scheduled job apart from them (any number
    may run at once: each account is deactivated once)."""
    from web.state import AppRuntime  # the runtime with the event bus: sockets close

    settings = _settings()

    async def run() -> int:
        total = 0
        async with opened(settings, AppRuntime) as rt:
            for _ in range(SWEEP_MAX_ROUNDS):
                done = await deactivation.deactivate_inactive(rt)
                total += done
                if done < settings.inactivity_batch_size:
                    break
        return total

    typer.echo(f"deactivated {asyncio.run(run())} unused accounts (R8)")


@commands.command()
def audit() -> None:
    """Re-derive every balance from the journal and check the ledger's invariants
    (services/audit.py). Prints each violation and exits with status 1 if there is any."""
    settings = _settings()

    async def run() -> list[str]:
        async with opened(settings):
            return await ledger_audit.ledger_violations()

    violations = asyncio.run(run())
    for violation in violations:
        typer.echo(violation)
    if violations:
        _fail(f"the ledger of {_where(settings)} has {len(violations)} violations")
    typer.echo(f"the ledger of {_where(settings)} is consistent")


@commands.command("webhook-worker")
def webhook_worker_process() -> None:
    """Send users' SMS webhooks until stopped (SIGTERM or Ctrl-C), in a process apart from the
    servers, which then run with WEBHOOK_WORKER_IN_APP=off: a thousand POSTs a second then take
    no CPU from ingest. With a Redis event bus (EVENT_BUS_URL=redis://...) the servers wake it
    after each commit that queued a delivery; it also polls every OUTBOX_POLL_SECONDS (retries
    fallen due; the only way with the in-process bus). Any number may run: claims are safe."""
    from subscriptions import channels
    from web import logs
    from web.state import AppRuntime

    settings = _settings()
    logs.configure(settings)

    async def send_until_stopped() -> BaseException | None:
        """Until a signal; or the failure that ended the worker (it keeps itself alive through
        a database or bus outage, so that is a bug: the process exits 1 rather than idle)."""
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signalled in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signalled, stopping.set)
        async with opened(settings, AppRuntime) as rt:
            assert isinstance(rt, AppRuntime)
            # Subscribed before the first round: no wake-up for a later commit can be missed.
            async with rt.bus.subscribe(channels.WEBHOOKS) as woken:
                jobs = {
                    asyncio.create_task(webhook_worker.run(rt)),
                    asyncio.create_task(_relay(woken, rt.webhook_wakeup)),
                }
                log.info(
                    "webhook worker is up",
                    database=_where(settings),
                    woken_by=_woken_by(settings),
                )
                stop = asyncio.create_task(stopping.wait())
                ended, _ = await asyncio.wait({stop, *jobs}, return_when=asyncio.FIRST_COMPLETED)
                for task in (stop, *jobs):
                    task.cancel()
                await asyncio.gather(stop, *jobs, return_exceptions=True)
        failed = [t for t in ended & jobs if not t.cancelled()]
        return (failed[0].exception() or RuntimeError("a job ended")) if failed else None

    failure = _run_fast(send_until_stopped())
    if failure is not None:
        log.error("webhook worker failed", error=repr(failure))
        _fail(f"the webhook worker failed: {failure!r}")
    typer.echo("webhook worker stopped")


async def _relay(woken: Wakeup, wakeup: asyncio.Event) -> None:
    while True:
        await woken.wait()
        wakeup.set()


def _woken_by(settings: Settings) -> str:
    if settings.event_bus_url.startswith("memory://"):
        return f"polling every {settings.outbox_poll_seconds} s (no shared event bus)"
    return "the event bus, and polling"


def _run_fast(main: Coroutine[Any, Any, T]) -> T:
    """On uvloop where it is installed (as uvicorn serves), else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as error:
        _fail(f"invalid setting: {error}", status=2)


def _admin_password(settings: Settings, email: str) -> str:
    """ADMIN_PASSWORD is the password of ADMIN_EMAIL: never hand it to another account."""
    owner = (settings.admin_email or email).strip().lower()
    if settings.admin_password and owner == email.strip().lower():
        return settings.admin_password
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def _where(settings: Settings) -> str:
    """The database, without its credentials."""
    scheme, _, rest = settings.database_url.partition("://")
    return f"{scheme}://{rest.rsplit('@', 1)[-1]}"


def _fail(message: str, status: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(status)


def main() -> None:
    commands()


if __name__ == "__main__":
    main()
