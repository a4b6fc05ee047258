"""The loop of every live feed: read what happened after the cursor, send it, wait, read again.

A feed is an async generator that subscriptions/resolvers.py returns to strawberry. Where it
waits depends on who pulls it:

- The driver of graphql-transport-ws subscriptions (subscriptions/driven.py) pulls with `DRIVEN`
  set. Then nothing waits: when the feed has caught up it yields its `Wakeup` itself, and the
  driver leaves the generator suspended at that `yield`, with a callback on the wake-up, and no
  task. An idle subscription is then a suspended generator, not a task blocked in `await`
  (issue 11: one task per socket).
- Anyone else (strawberry's task per operation: the legacy graphql-ws protocol) gets a feed
  that awaits the wake-up itself, as any subscription resolver would.

`DRIVEN` is a context variable, so it is the pulling task's, and asked at each wait: a feed
can never hand its marker to a consumer that would execute it as an event.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import TypeVar, cast

from subscriptions.bus import EventBus

Item = TypeVar("Item")
DRIVEN: ContextVar[bool] = ContextVar("feed_driven", default=False)


async def follow(
    bus: EventBus,
    channel: str,
    read: Callable[[], Awaitable[Sequence[Item]]],
    batch_size: int,
) -> AsyncGenerator[Item, None]:
    """Everything `read` returns, forever. `read` returns what happened after the items it
    returned last (at most `batch_size`); a shorter batch means "caught up": then wait for a
    wake-up on `channel`. Subscribed before the first read, so nothing falls between."""
    async with bus.subscribe(channel) as wakeup:
        while True:
            batch = await read()
            for item in batch:
                yield item
            if len(batch) < batch_size:
                if DRIVEN.get():
                    # The driver's marker, not an item: it never reaches GraphQL. Typed as an
                    # item here, in this one place, so that the resolvers keep strawberry's
                    # annotation of what they stream.
                    yield cast("Item", wakeup)
                else:
                    await wakeup.wait()
