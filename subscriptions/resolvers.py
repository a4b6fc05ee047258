"""`activationEvents`: the live feed of the viewer's activations; `balanceChanges`: of their
balance (top-ups credited by a processor's notification, purchases, refunds).

Order of work (DESIGN.md, "Data flow of a code"): fix the starting cursor, subscribe to the bus,
then read the backlog from the database, then wait for wake-ups and read again after the last
cursor sent (subscriptions/follow.py: the loop, and who waits).
Events are read from the database every time, so a wake-up lost or doubled changes nothing, and
the cursor makes sure nothing is sent twice.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import TypeVar, cast

import strawberry

from models import ActivationEvent as EventRow
from resolvers.context import Context
from resolvers.errors import query_error
from schema.accounts import money
from schema.activations import Activation, ActivationEvent, ActivationEventKind, SmsMessage
from schema.balances import BalanceChange, Transaction
from schema.pagination import decode_cursor, encode_cursor
from services import activations, balances, feed
from services.errors import ServiceError
from services.runtime import Runtime
from subscriptions import channels
from subscriptions.follow import follow

_Resolver = TypeVar("_Resolver", bound=Callable[..., object])


def subscription(description: str) -> Callable[[_Resolver], _Resolver]:
    """`strawberry.subscription(description=...)` with a type: strawberry types that form as Any,
    which strict mypy refuses as an untyped decorator. (It returns a field, not the method, as
    strawberry's own typed overloads also pretend.)"""
    return cast(
        "Callable[[_Resolver], _Resolver]", strawberry.subscription(description=description)
    )


async def to_event(rt: Runtime, event: EventRow) -> ActivationEvent:
    activation = await Activation.from_model(rt, event.activation)
    activation.status = event.status  # the status as of this event, not as of now
    return ActivationEvent(
        cursor=encode_cursor("event", event.id),
        kind=ActivationEventKind(event.kind.value),
        activation=activation,
        sms=SmsMessage.from_model(event.sms) if event.sms else None,
    )


@strawberry.type
class Subscription:
    @subscription(
        description="Events of the viewer's activations: one activation when activationId is "
        "given, else all of them.\nWith activationId and no `after`, it first replays every SMS "
        "that activation already received.\nWith `after` (the cursor of the last event seen), "
        "it first sends what was missed, then live events."
    )
    async def activation_events(
        self,
        info: strawberry.Info[Context],
        activation_id: strawberry.ID | None = None,
        after: str | None = None,
    ) -> AsyncGenerator[ActivationEvent, None]:
        viewer = await info.context.require_viewer()
        rt = info.context.runtime
        batch_size = rt.settings.feed_batch_size
        try:
            only = await activations.owned_id(viewer, activation_id) if activation_id else None
            cursor = decode_cursor("event", after)
        except ServiceError as error:
            raise query_error(error) from None
        # The starting point is fixed first; then we subscribe, and only then read the backlog
        # (everything after the starting point), so nothing can fall between the two.
        replay_until: int | None = None  # with activationId and no `after`: its SMS come first
        if cursor is None:
            cursor = await feed.latest_id(viewer.user_id, only)
            if only is not None:
                replay_until, cursor = cursor, 0
        last_sent = cursor  # read() moves it

        async def read() -> list[ActivationEvent]:
            nonlocal last_sent
            batch = await feed.events_after(
                viewer.user_id, only, last_sent, batch_size, replay_until=replay_until
            )
            if batch:
                last_sent = batch[-1].id
            return [await to_event(rt, event) for event in batch]

        channel = channels.user_channel(viewer.user_id)
        # The feed lives as long as the subscription: its frame keeps what it reads with, not
        # the resolve info, which holds the operation's executor (2 KiB per subscriber).
        del info
        async with aclosing(follow(rt.bus, channel, read, batch_size)) as items:
            async for event in items:
                yield event

    @subscription(
        description="Changes of the viewer's balance, each with the transaction that made it: a "
        "top-up credited by the payment processor, a purchase, a refund.\nWith `after` (the "
        "cursor of the last change seen), it first sends what was missed, then live changes."
    )
    async def balance_changes(
        self, info: strawberry.Info[Context], after: str | None = None
    ) -> AsyncGenerator[BalanceChange, None]:
        viewer = await info.context.require_viewer()
        rt = info.context.runtime
        batch_size = rt.settings.feed_batch_size
        try:
            cursor = decode_cursor("balance", after)
        except ServiceError as error:
            raise query_error(error) from None
        # As above: the starting point first, then subscribe, then read after it.
        if cursor is None:
            cursor = await balances.latest_change_id(viewer.user_id)
        last_sent = cursor  # read() moves it

        async def read() -> list[BalanceChange]:
            nonlocal last_sent
            batch = await balances.changes_after(viewer.user_id, last_sent, batch_size)
            if batch:
                last_sent = batch[-1].id
            currency = rt.settings.currency
            return [
                BalanceChange(
                    cursor=encode_cursor("balance", entry.id),
                    balance=money(entry.balance_after_minor, currency),
                    transaction=Transaction.from_entry(entry, currency),
                )
                for entry in batch
            ]

        channel = channels.user_channel(viewer.user_id)
        # The feed lives as long as the subscription: its frame keeps what it reads with, not
        # the resolve info, which holds the operation's executor (2 KiB per subscriber).
        del info
        async with aclosing(follow(rt.bus, channel, read, batch_size)) as items:
            async for change in items:
                yield change
