"""The live feed's event read (services/feed.py, ADR 0017): CPU per read of one SMS event with
its activation, number and SMS, as each subscriber's wake-up does it, against tortoise's
select_related query of the same rows. PostgreSQL; prints a table; not a test.

    .venv/bin/python bench/feed_read.py [--reads 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import common
from tortoise.expressions import Q

from models import ActivationEvent, EventKind
from services import feed
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

            for warm in (ours, orm):
                await cpu_per_read(warm, 50)
            ours_us, orm_us = await cpu_per_read(ours, reads), await cpu_per_read(orm, reads)
    print("feed event read (one SMS event with its activation, number and SMS), PostgreSQL")
    print(f"{'read':<40} {'CPU per read, µs':>18}")
    print(f"{'services/feed.py (one SQL statement)':<40} {ours_us:>18.0f}")
    print(f"{'tortoise select_related (before)':<40} {orm_us:>18.0f}")
    print(f"ratio: {orm_us / ours_us:.2f}x less CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reads", type=int, default=2000)
    asyncio.run(run(parser.parse_args().reads))


if __name__ == "__main__":
    main()
