"""SMS ingest benchmark (issue 11, item 1; issue 13's latency): what one delivered code costs
the database, and how many the services ingest per second. Prints a table; not a test.

    .venv/bin/python bench/ingest_bench.py [--subscribers 300] [--first 300] [--seconds 3]
                                           [--concurrency 32] [--webhook-users 100]
                                           [--webhook-rate 1000] [--profile further|webhooks]

No HTTP and no websocket: this driver calls `services.sms.ingest` itself (the supplier webhook's
own path after its signature check) on a throw-away PostgreSQL database, with the app's
runtime publishing on Redis, so that the figures are the write path's alone. It prints:
- round trips and statements per SMS, by case (a further code, the first code with its ledger
  capture, an unmatched SMS, a code for a user with a webhook): counted on the asyncpg
  connection (`execute` without arguments is one simple query; every other statement one
  extended-protocol round trip, plus one for a prepare the statement cache missed);
- ingests/s with --concurrency tasks for --seconds (further codes, then first codes), with the
  pg_stat_activity wait events of this database sampled meanwhile (what its backends wait on);
- with --webhook-users: SMS committed -> POST received p50/p99 at the user's webhook (a
  receiver in this process; the app's webhook worker runs here too) at --webhook-rate;
- with --profile: py-spy's top frames of this process during the further-code run, or during
  the webhook run.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import contextvars
import dataclasses
import multiprocessing
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import common
from common import app_server, backend, percentile, runtime, start_py_spy, summarise_py_spy
from webhook_receiver import Receiver

TAG, TAG_LENGTH = "ref=", 12


# -- counting what goes to PostgreSQL ------------------------------------------------------------
@dataclass
class Tally:
    round_trips: int = 0
    statements: list[str] = field(default_factory=list)


_tally: contextvars.ContextVar[Tally | None] = contextvars.ContextVar("tally", default=None)


def _count(query: str, trips: int) -> None:
    tally = _tally.get()
    if tally is not None:
        tally.round_trips += trips
        tally.statements.append(" ".join(query.split())[:90])


def patch_asyncpg() -> None:
    """Counts each statement of the current task's tally (a ContextVar: tortoise runs them in
    the calling task), and a prepare the connection's statement cache missed as one more."""
    conn_cls = asyncpg.connection.Connection
    execute, run, run_many = conn_cls.execute, conn_cls._execute, conn_cls._executemany

    async def counted_execute(self: Any, query: str, *args: Any, **kw: Any) -> Any:
        if not args:
            _count(query, 1)  # simple query protocol: BEGIN, COMMIT, SAVEPOINT...
        return await execute(self, query, *args, **kw)

    def cached(self: Any, query: str) -> bool:
        record = self._protocol.get_record_class()
        return self._stmt_cache.get((query, record, False)) is not None

    async def counted_run(self: Any, query: str, *args: Any, **kw: Any) -> Any:
        _count(query, 1 if cached(self, query) else 2)
        return await run(self, query, *args, **kw)

    async def counted_run_many(self: Any, query: str, *args: Any, **kw: Any) -> Any:
        _count(query, 1 if cached(self, query) else 2)
        return await run_many(self, query, *args, **kw)

    conn_cls.execute = counted_execute
    conn_cls._execute = counted_run
    conn_cls._executemany = counted_run_many


@contextlib.contextmanager
def tallied() -> Iterator[Tally]:
    tally = Tally()
    token = _tally.set(tally)
    try:
        yield tally
    finally:
        _tally.reset(token)


# -- set-up ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    user_id: int
    activation_id: int
    e164: str


def setup_worker(url: str, prefix: str, users: list[tuple[int, str]], receive: bool) -> list[Any]:
    return asyncio.run(_setup_worker(url, prefix, users, receive))


async def _setup_worker(
    url: str, prefix: str, users: list[tuple[int, str]], receive: bool
) -> list[tuple[int, int, str]]:
    from live_bench import buy_and_receive

    from suppliers import demo
    from testkit import factory

    async with runtime(url, prefix, pool_size=10) as rt:
        supplier = await factory.demo_supplier()
        admin = await factory.admin(rt)
        countries = list(demo.POOLS)
        done: list[tuple[int, int, str]] = []

        async def one(i: int, user_id: int, token: str) -> tuple[int, int, str]:
            country = countries[i % len(countries)]
            if receive:
                _, _, activation_id, e164 = await buy_and_receive(
                    rt, admin, supplier, user_id, token, country
                )
                return user_id, activation_id, e164
            await factory.fund(rt, admin, user_id, "5.00", "ingest benchmark")
            activation = await factory.buy(rt, token, country, "tg")
            return user_id, activation.id, activation.number.e164

        for start in range(0, len(users), 20):
            chunk = users[start : start + 20]
            done += await asyncio.gather(*(one(start + i, u, t) for i, (u, t) in enumerate(chunk)))
        return done


async def targets(rt: Any, url: str, prefix: str, count: int, *, receive: bool) -> list[Target]:
    from suppliers import demo
    from testkit import factory

    for code in demo.POOLS:
        await factory.numbers(rt, code, count // len(demo.POOLS) + 5)
    users = [(u.id, u.token) for u in await factory.users(rt, count, tag="ingest")]
    shares = [users[i::2] for i in range(2)]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = await asyncio.to_thread(
            pool.starmap, setup_worker, [(url, prefix, s, receive) for s in shares]
        )
    return [Target(*r) for result in results for r in result]


# -- sending -----------------------------------------------------------------------------------
class Sender:
    def __init__(self, rt: Any, supplier: Any) -> None:
        self.rt, self.supplier, self.n = rt, supplier, 0

    async def sms(self, target: Target, *, to: str | None = None) -> Any:
        from testkit import factory

        self.n += 1
        tag = f"r{self.n:011d}"
        text = f"Telegram code: {10000 + self.n % 90000}. Do not give it to anyone! {TAG}{tag}"
        return await factory.sms(
            self.rt, self.supplier, to or target.e164, text, message_id=f"ib-{os.getpid()}-{tag}"
        ), tag


async def count_one(send: Callable[[], Awaitable[Any]]) -> Tally:
    with tallied() as tally:
        await send()
    return tally


async def flat_out(
    items: list[Target], seconds: float, concurrency: int, send: Callable[[Target], Awaitable[Any]]
) -> tuple[float, int]:
    """Sends to items round robin (each at most once if `seconds` is 0: until they run out)."""
    done, started = 0, time.monotonic()
    deadline = started + seconds if seconds else float("inf")
    queue = collections.deque(items)

    async def loop() -> None:
        nonlocal done
        while queue and time.monotonic() < deadline:
            target = queue.popleft()
            if seconds:
                queue.append(target)
            await send(target)
            done += 1

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return done / (time.monotonic() - started), done


async def sample_waits(url: str, stop: asyncio.Event) -> collections.Counter[str]:
    """pg_stat_activity of this database every 10 ms: what its active backends wait on."""
    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    conn = await asyncpg.connect(url.split("?", 1)[0])
    seen: collections.Counter[str] = collections.Counter()
    try:
        while not stop.is_set():
            for row in await conn.fetch(
                "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'",
                name,
            ):
                if row["state"] == "idle":
                    seen["idle"] += 1
                else:
                    seen[f"{row['state']}: {row['wait_event_type']}/{row['wait_event']}"] += 1
            await asyncio.sleep(0.01)
    finally:
        await conn.close()
    return seen


async def with_waits(url: str, work: Awaitable[Any]) -> tuple[Any, collections.Counter[str]]:
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_waits(url, stop))
    try:
        result = await work
    finally:
        stop.set()
    return result, await sampler


def print_waits(waits: collections.Counter[str]) -> None:
    total = sum(waits.values()) or 1
    for name, n in waits.most_common(8):
        print(f"      {100 * n / total:5.1f}%  {name}")


def print_tally(name: str, tally: Tally, verbose: bool) -> None:
    print(f"  {name:44} {tally.round_trips:3} round trips, {len(tally.statements):3} statements")
    if verbose:
        for statement in tally.statements:
            print(f"      {statement}")


# -- users' webhooks ---------------------------------------------------------------------------
async def webhook_latency(
    rt: Any, sender: Sender, hooked: list[Target], rate: float, seconds: float
) -> tuple[list[float], int, float]:
    """SMS committed -> POST received, with the app's webhook worker running in this process."""
    from models import SmsWebhook
    from services import sealing, webhook_worker

    receiver = await Receiver(TAG, TAG_LENGTH).start()
    rt.settings = dataclasses.replace(rt.settings, webhooks_allow_private=True)  # a loopback one
    sealed = sealing.seal(rt.settings, "whsec_bench")
    await SmsWebhook.bulk_create(
        [SmsWebhook(user_id=t.user_id, url=receiver.url, secret_sealed=sealed) for t in hooked]
    )
    worker = asyncio.create_task(webhook_worker.run(rt))
    committed: dict[str, float] = {}
    try:
        total = int(rate * seconds)
        started = time.monotonic()
        tasks = []
        for i in range(total):
            await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(_sent(sender, hooked[i % len(hooked)], committed)))
        await asyncio.gather(*tasks)
        sent_per_second = total / (time.monotonic() - started)
        deadline = time.monotonic() + 10
        while len(receiver.arrivals) < len(committed) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        arrived = dict(receiver.arrivals)
        latencies = [(arrived[t] - c) * 1000 for t, c in committed.items() if t in arrived]
        return latencies, len(committed) - len(latencies), sent_per_second
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
        await receiver.stop()
        await SmsWebhook.filter(user_id__in=[t.user_id for t in hooked]).delete()


async def _sent(sender: Sender, target: Target, committed: dict[str, float]) -> None:
    _, tag = await sender.sms(target)
    committed[tag] = time.monotonic()


# -- the run -----------------------------------------------------------------------------------
async def run(args: argparse.Namespace) -> None:
    from testkit import factory

    patch_asyncpg()
    async with backend() as (url, prefix):
        setup = app_server(url, prefix)
        await setup.start()  # migrates and seeds the demo catalog
        try:
            async with runtime(url, prefix, pool_size=20) as rt:
                started = time.monotonic()
                further = await targets(rt, url, prefix, args.subscribers, receive=True)
                first = await targets(rt, url, prefix, args.first, receive=False)
                await setup.stop()
                print(
                    f"set-up: {len(further)} + {len(first)} activations in "
                    f"{time.monotonic() - started:.0f} s",
                    flush=True,
                )
                supplier = await factory.demo_supplier()
                sender = Sender(rt, supplier)
                await measure(args, rt, url, sender, further, first)
        finally:
            await setup.stop()


async def measure(
    args: argparse.Namespace,
    rt: Any,
    url: str,
    sender: Sender,
    further: list[Target],
    first: list[Target],
) -> None:
    from models import SmsWebhook
    from services import sealing

    for target in further[:20]:  # warm the statement caches of the pool's connections
        await sender.sms(target)
    print("\nPer SMS, on PostgreSQL (asyncpg, counted in this process):")
    print_tally(
        "a further code (RECEIVED activation)",
        await count_one(lambda: sender.sms(further[0])),
        args.verbose,
    )
    print_tally(
        "the first code (capture + supplier cost)",
        await count_one(lambda: sender.sms(first.pop())),
        args.verbose,
    )
    print_tally(
        "an SMS to a number with no activation",
        await count_one(lambda: sender.sms(further[0], to="+447700999999")),
        args.verbose,
    )
    sealed = sealing.seal(rt.settings, "whsec_bench")
    await SmsWebhook.create(
        user_id=further[1].user_id, url="http://127.0.0.1:9/", secret_sealed=sealed
    )
    print_tally(
        "a further code, its user has a webhook",
        await count_one(lambda: sender.sms(further[1])),
        args.verbose,
    )
    await SmsWebhook.filter(user_id=further[1].user_id).delete()

    profile_out = Path(tempfile.mkdtemp()) / "ingest.txt"
    profiled = args.profile == "further"
    spy = start_py_spy(os.getpid(), args.seconds, profile_out) if profiled else None
    (rate, n), waits = await with_waits(
        url, flat_out(further, args.seconds, args.concurrency, sender.sms)
    )
    print(
        f"\nfurther codes: {rate:,.0f} ingests/s ({n} in {args.seconds:g} s, "
        f"{args.concurrency} tasks); pg_stat_activity of its backends:"
    )
    print_waits(waits)
    if spy is not None:
        spy.wait()
    (rate, n), waits = await with_waits(url, flat_out(first, 0, args.concurrency, sender.sms))
    print(f"first codes: {rate:,.0f} ingests/s ({n}, {args.concurrency} tasks); waits:")
    print_waits(waits)
    if args.webhook_users:
        hooked = further[: args.webhook_users]
        if args.profile == "webhooks":
            spy = start_py_spy(os.getpid(), args.seconds, profile_out)
        latencies, missing, sent = await webhook_latency(
            rt, sender, hooked, args.webhook_rate, args.seconds
        )
        print(
            f"\nusers' webhooks: {len(hooked)} users, {sent:,.0f} SMS/s sent (paced at "
            f"{args.webhook_rate:g}): SMS committed -> POST received p50 "
            f"{percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, "
            f"{missing} missing after 10 s"
        )
    if spy is not None:
        spy.wait()
        print(f"\npy-spy, this process during the {args.profile} run:")
        for line in summarise_py_spy(profile_out, args.profile_top):
            print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=300, help="RECEIVED activations (300)")
    parser.add_argument("--first", type=int, default=300, help="WAITING activations (300)")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--webhook-users", type=int, default=100)
    parser.add_argument("--webhook-rate", type=float, default=1000.0)
    parser.add_argument(
        "--profile", choices=("further", "webhooks"), help="py-spy this process during that run"
    )
    parser.add_argument("--profile-top", type=int, default=12)
    parser.add_argument("--verbose", action="store_true", help="print each statement counted")
    args = parser.parse_args()
    common.quiet_logs()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
