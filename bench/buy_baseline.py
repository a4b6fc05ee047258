"""The raw limit of figure (c): purchases and cancels as bare asyncpg statements (issue 11,
item 3). Prints a table; bench/api_bench.py also runs it beside (c).

    .venv/bin/python bench/buy_baseline.py [--seconds 5] [--buyers 32]

On its own throw-away database (migrated and stocked as api_bench.py stocks its own: 40
countries x 5 services, 60 numbers each, one funded user per buyer), `--buyers` clients loop
buy then cancel, spread over the offers, for `--seconds`. Each purchase sends what
services/activations.py sends to PostgreSQL for one (the buyer's row with R5's count, the
price, the routing candidates, then the transaction: the user's lock, the purchase's statement
of services/activation_writes.py, the HOLD of services/ledger.py), each cancel the
activation's row then its one statement; through an asyncpg pool of the app's size
(services/db.py), with prepared statements. No HTTP, GraphQL, sessions, Redis or ORM: what is
left is the database's own cost of these statements and the client's.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from common import backend, fmt, percentile, runtime, table

from settings import Settings

ACTIVATION = (
    "SELECT a.*, n.e164 FROM activation a JOIN phone_number n ON n.id = a.number_id"
    " WHERE a.id = $1 AND a.user_id = $2"
)


@dataclass(frozen=True)
class Offer:
    country_id: int
    service_id: int
    service_name: str


async def seed(
    rt: Any, *, countries: int, numbers_each: int, buyers: int
) -> tuple[list[Offer], list[Any]]:
    """What the app's start and api_bench.py's set-up write, through the services: the demo
    catalog, the admin, `countries` x 5 offers with `numbers_each` numbers per country, and
    `buyers` users with 100.00 each. Returns the offers and the users (testkit NewUser)."""
    from models import Country, Service
    from services import accounts
    from suppliers import demo
    from testkit import factory

    await demo.seed(rt)
    await accounts.ensure_admin(rt, rt.settings.admin_email, rt.settings.admin_password)
    from api_bench import EXTRA_COUNTRIES  # the same catalog as (c)'s

    codes = await factory.stock(
        rt, countries, extra_countries=EXTRA_COUNTRIES, numbers_each=numbers_each
    )
    admin = await factory.admin(rt)
    users = await factory.users(rt, buyers, tag="baseline")
    for user in users:
        await factory.fund(rt, admin, user.id, "100.00")
    country_ids = {c.code: c.id for c in await Country.all()}
    services = {s.code: s for s in await Service.all()}
    offers = [Offer(country_ids[c], services[s].id, services[s].name) for c, s in codes]
    return offers, users


BUY_NUMBER_ATTEMPTS = Settings().buy_number_attempts  # as the app tries


class Buyer:
    def __init__(self, pool: asyncpg.Pool, user_id: int, supplier_id: int, stats: dict) -> None:
        from services import abuse, activation_writes, catalog, ledger, locks, stock

        self.pool, self.user_id, self.supplier_id, self.stats = pool, user_id, supplier_id, stats
        self.buy_sql, self.end_sql = activation_writes.BUY_FROM_POOL, activation_writes.END_WAITING
        self.candidates_sql = stock.CANDIDATES
        self.buyer_sql = abuse.BUYER
        self.price_sql = catalog.CURRENT_PRICE
        self.post_sql = ledger.POST
        self.lock_sql = locks.user_events_statement(user_id)

    async def buy(self, offer: Offer) -> int | None:
        pool, now = self.pool, datetime.now(UTC)
        await pool.fetchrow(self.buyer_sql, self.user_id, now - timedelta(hours=1))
        price = await pool.fetchrow(self.price_sql, offer.country_id, offer.service_id)
        await pool.fetch(self.candidates_sql, offer.country_id, offer.service_id)
        # As services/activations.py: a number another buyer took between this statement's
        # snapshot and its insert is a unique violation, and the purchase tries again.
        for _ in range(BUY_NUMBER_ATTEMPTS):
            try:
                return await self._take(offer, price, now)
            except asyncpg.UniqueViolationError:
                continue
        return None

    async def _take(self, offer: Offer, price: Any, now: datetime) -> int | None:
        async with self.pool.acquire() as conn:
            await conn.execute(f"BEGIN; {self.lock_sql}")
            try:
                return await self._hold(conn, offer, price, now)
            except BaseException:
                await conn.execute("ROLLBACK")
                raise

    async def _hold(self, conn: Any, offer: Offer, price: Any, now: datetime) -> int | None:
        row = await conn.fetchrow(
            self.buy_sql,
            self.user_id,
            self.supplier_id,
            offer.country_id,
            offer.service_id,
            price["price_minor"],
            price["cost_minor"],
            "USD",
            now,
            now + timedelta(seconds=300),
            now + timedelta(seconds=1200),
            None,
            "baseline",
            now,
            "127.0.0.1",
        )
        held = row is not None and await conn.fetchrow(
            self.post_sql,
            row["user_account_id"],
            row["escrow_account_id"],
            price["price_minor"],
            True,
            "hold",
            None,
            row["id"],
            None,
            f"{offer.service_name} number {row['n__e164']}",
            now,
        )
        await conn.execute("COMMIT" if held else "ROLLBACK")
        return int(row["id"]) if held else None

    async def cancel(self, activation_id: int) -> None:
        pool, now = self.pool, datetime.now(UTC)
        await pool.fetchrow(ACTIVATION, activation_id, self.user_id)
        async with pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                self.end_sql,
                self.user_id,
                activation_id,
                "CANCELLED",
                now,
                False,
                False,
                f"refund: activation {activation_id} cancelled",
                now,
                "cancelled",
                "127.0.0.1",
            )
        if row is None or row["event_id"] is None:
            raise RuntimeError(f"cancelling activation {activation_id} changed nothing")

    async def loop(self, offers: list[Offer], index: int, deadline: float) -> None:
        step = 0
        while time.monotonic() < deadline:
            offer = offers[(index * 7 + step) % len(offers)]
            step += 1
            started = time.monotonic()
            activation_id = await self.buy(offer)
            if activation_id is None:
                self.stats["refused"] += 1
                continue
            self.stats["buy_ms"].append((time.monotonic() - started) * 1000)
            started = time.monotonic()
            await self.cancel(activation_id)
            self.stats["cancel_ms"].append((time.monotonic() - started) * 1000)


async def measure(seconds: float, buyers: int, *, numbers_each: int = 60) -> dict[str, Any]:
    """buys (each cancelled), buy_ms, cancel_ms, refused and seconds of one run."""
    from models import Supplier
    from services.db import DEFAULT_POOL_MAX, keep_session
    from suppliers import demo

    async with backend() as (database_url, prefix):
        async with runtime(database_url, prefix) as rt:
            offers, users = await seed(rt, countries=40, numbers_each=numbers_each, buyers=buyers)
            supplier_id = (await Supplier.get(code=demo.CODE)).id
        pool = await asyncpg.create_pool(
            database_url,
            min_size=1,
            max_size=DEFAULT_POOL_MAX,
            reset=keep_session,
        )
        stats: dict[str, Any] = {"buy_ms": [], "cancel_ms": [], "refused": 0}
        try:
            clients = [Buyer(pool, u.id, supplier_id, stats) for u in users]
            deadline = time.monotonic() + seconds
            await asyncio.gather(*(c.loop(offers, i, deadline) for i, c in enumerate(clients)))
        finally:
            await pool.close()
    return {**stats, "buys": len(stats["buy_ms"]), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--buyers", type=int, default=32)
    args = parser.parse_args()
    result = asyncio.run(measure(args.seconds, args.buyers))
    print()
    print(f"raw asyncpg purchases with cancels, {args.buyers} clients, {args.seconds:g} s")
    rows = [
        ["buys/s (each cancelled)", fmt(result["buys"] / result["seconds"], 0)],
        [
            "buy p50 / p99, ms",
            f"{fmt(percentile(result['buy_ms'], 50))} / {fmt(percentile(result['buy_ms'], 99))}",
        ],
        [
            "cancel p50 / p99, ms",
            f"{fmt(percentile(result['cancel_ms'], 50))} / "
            f"{fmt(percentile(result['cancel_ms'], 99))}",
        ],
        ["refused (no number or balance)", str(result["refused"])],
    ]
    print(table(["figure", "raw"], rows))


if __name__ == "__main__":
    main()
