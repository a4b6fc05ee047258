"""The event bus: a small interface of our own over broadcaster (DESIGN.md, "Known traps").

A message on the bus is only a wake-up: "something happened on this channel". Subscribers then
read what happened from the database, after the cursor they hold, so a lost, duplicated or
re-ordered message can delay nothing and lose nothing. That is why each local subscriber is a
flag, not a queue: a slow or dead client costs the same few bytes whatever is published.

broadcaster opens one upstream subscription per channel per process; we add what it lacks:
first subscriptions to a channel are serialised (two at once lose one otherwise), and each
channel is fanned out to local subscribers from one relay task.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from typing import cast

import structlog
from broadcaster import Broadcast

from subscriptions.redis_backend import ResilientRedisBackend

log = structlog.get_logger("bus")


@dataclass(eq=False)
class Wakeup:
    """One subscriber's view of a channel: set when anything was published since it last looked."""

    _event: asyncio.Event = field(default_factory=asyncio.Event)

    def notify(self) -> None:
        self._event.set()

    async def wait(self) -> None:
        await self._event.wait()
        self._event.clear()


@dataclass(eq=False)
class _Channel:
    subscribers: set[Wakeup] = field(default_factory=set)
    relay: asyncio.Task[None] | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class EventBus:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "",
        reconnect_max_seconds: float = 2.0,
        ping_seconds: float = 1.0,
        subscribe_confirm_seconds: float = 2.0,
        publish_retry_seconds: float = 30.0,
    ) -> None:
        self._redis: ResilientRedisBackend | None = None
        if url.startswith(("redis://", "rediss://")):
            self._redis = ResilientRedisBackend(
                url,
                heartbeat_channel=f"{prefix}heartbeat",
                reconnect_max_seconds=reconnect_max_seconds,
                ping_seconds=ping_seconds,
                subscribe_confirm_seconds=subscribe_confirm_seconds,
                publish_retry_seconds=publish_retry_seconds,
            )
            self._broadcast = Broadcast(backend=self._redis)
        else:
            self._broadcast = Broadcast(url)
        self._prefix = prefix
        self._channels: dict[str, _Channel] = {}
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        await self._broadcast.connect()

    async def disconnect(self) -> None:
        relays = [c.relay for c in self._channels.values() if c.relay]
        for relay in relays:
            relay.cancel()
        await asyncio.gather(*relays, return_exceptions=True)
        self._channels.clear()
        await self._broadcast.disconnect()

    async def publish(self, channel: str, message: str) -> None:
        await self._broadcast.publish(self._prefix + channel, message)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Wakeup]:
        """Yields once the upstream subscription is live, so nothing published after the
        `async with` line is missed."""
        wakeup = Wakeup()
        async with self._lock:  # one upstream subscription per channel, created once
            state = self._channels.get(channel)
            if state is None:
                state = self._channels[channel] = _Channel()
                state.relay = asyncio.create_task(self._relay(channel, state))
                state.relay.add_done_callback(_log_failure)
            state.subscribers.add(wakeup)
        await state.ready.wait()
        try:
            yield wakeup
        finally:
            state.subscribers.discard(wakeup)
            if not state.subscribers and self._channels.get(channel) is state:
                del self._channels[channel]
                if state.relay:
                    state.relay.cancel()

    async def _relay(self, channel: str, state: _Channel) -> None:
        try:
            async with self._broadcast.subscribe(self._prefix + channel) as upstream:
                state.ready.set()
                # broadcaster 0.3.1 annotates Subscriber.__aiter__ as "AsyncGenerator | None";
                # it is an async generator, never None.
                async for _ in cast("AsyncIterable[object]", upstream):
                    for wakeup in list(state.subscribers):
                        wakeup.notify()
        finally:
            state.ready.set()  # never leave a subscriber waiting on a relay that died

    def subscriber_count(self, channel: str) -> int:
        """Live local subscribers of a channel (metrics, and tests that wait for a feed)."""
        state = self._channels.get(channel)
        return len(state.subscribers) if state and state.ready.is_set() else 0

    async def ping(self) -> bool:
        """Readiness: the in-process bus is always up; Redis must have its pub/sub connection."""
        return self._redis is None or self._redis.connected.is_set()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("event bus relay failed", error=repr(task.exception()))
