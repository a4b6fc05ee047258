"""The reads made for every delivered code, written as SQL once (ADR 0017), against the ORM
queries they replaced: CPU per read on PostgreSQL. Prints a table; not a test.
- the live feed's event read (services/feed.py): one SMS event with its activation, number and
  SMS, as each subscriber's wake-up reads it; before, tortoise's select_related;
- the supplier of a webhook (services/suppliers.receiving), the first thing the supplier's SMS
  webhook does; before, `Supplier.get_or_none`.

    .venv/bin/python bench/hot_reads.py [--reads 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import common
from tortoise.expressions import Q

from models import ActivationEvent, EventKind, Supplier, SupplierState
from services import feed, suppliers
from testkit import factory


async def orm_events_after(
    user_id: int, activation_id: int | None, after_id: int, limit: int, replay_until: int | None
) -> list[ActivationEvent]:
    """What services/feed.py did before ADR 0017 (tortoise builds the joined SELECT each time)."""
    query = ActivationEvent.filter(user_id=user_id, id__gt=after_id)
    if activation_id is not None:
        query = query.filter(activation_id=activation_id)
    if replay_until is not None and after_id < replay_until:
        query = query.filter(Q(kind=EventKind.SMS_RECEIVED) | Q(id__gt=replay_until))
    return await query.order_by("id").limit(limit).select_related("activation__number", "sms")


async def orm_receiving(code: str) -> Supplier | None:
    """What services/suppliers.receiving did before ADR 0017."""
    return await Supplier.get_or_none(
        code=code, kind__in=suppliers.WEBHOOK_KINDS, state__not=SupplierState.DISABLED
    )


async def cpu_per_read(read: object, reads: int) -> float:
    start = time.process_time()
    for _ in range(reads):
        await read()  # type: ignore[operator]
    return (time.process_time() - start) / reads * 1e6


async def run(reads: int) -> None:
    async with common.backend() as (url, prefix):
        common.quiet_logs()
        setup = common.app_server(url, prefix)
        await setup.start()  # migrates, seeds the demo catalog and makes the admin
        await setup.stop()
        async with common.runtime(url, prefix) as rt:
            await factory.numbers(rt, "GB", 5)
            [user] = await factory.users(rt, 1)
            await factory.fund(rt, await factory.admin(rt), user.id, "10.00")
            activation = await factory.buy(rt, user.token, "GB", "tg")
            supplier = await factory.demo_supplier()
            await factory.sms(rt, supplier, activation.number.e164, "Code 12345")
            before = await feed.events_after(user.id, activation.id, 0, 50)
            assert before, "no event to read"
            after = before[-1].id - 1

            async def ours() -> None:
                await feed.events_after(user.id, None, after, 50)

            async def orm() -> None:
                await orm_events_after(user.id, None, after, 50, None)

            async def ours_supplier() -> None:
                assert await suppliers.receiving(supplier.code, suppliers.WEBHOOK_KINDS)

            async def orm_supplier() -> None:
                assert await orm_receiving(supplier.code)

            rows = []
            for name, new, old in (
                ("event read (feed.events_after)", ours, orm),
                ("webhook's supplier (receiving)", ours_supplier, orm_supplier),
            ):
                for warm in (new, old):
                    await cpu_per_read(warm, 50)
                new_us, old_us = await cpu_per_read(new, reads), await cpu_per_read(old, reads)
                rows.append((name, new_us, old_us))
    print(f"reads per delivered code, PostgreSQL, CPU per read ({reads} reads each)")
    print(f"{'read':<34} {'SQL written, µs':>16} {'ORM before, µs':>15} {'less CPU':>9}")
    for name, new_us, old_us in rows:
        print(f"{name:<34} {new_us:>16.0f} {old_us:>15.0f} {old_us / new_us:>8.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reads", type=int, default=2000)
    asyncio.run(run(parser.parse_args().reads))


if __name__ == "__main__":
    main()
