"""The event bus: a small interface of our own over broadcaster's backends (DESIGN.md, "Known
traps"; ADR 0004, ADR 0014).

A message on the bus is only a wake-up: "something happened on this channel". Subscribers then
read what happened from the database, after the cursor they hold, so a lost, duplicated or
re-ordered message can delay nothing and lose nothing. That is why each local subscriber is a
flag, not a queue: a slow or dead client costs the same few bytes whatever is published.

We use a broadcaster backend (ours for Redis, broadcaster's in-memory one for `memory://`) but
not broadcaster's `Broadcast`: that keeps an asyncio.Queue per subscriber and, to fan a
channel out to flags, needed a relay task per channel. Here one dispatcher task per process
reads the backend and sets the flags of the channel's subscribers directly: one message wakes
every subscriber of its channel, each reads once, and a channel costs a set and a flag per
subscriber, not a task (ADR 0014). The first subscription to a channel subscribes upstream once
(others wait for it); the last one leaving unsubscribes, and a new first subscriber of that
channel waits for that unsubscribe to finish, so the upstream state always ends subscribed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import structlog
from broadcaster._backends.base import BroadcastBackend
from broadcaster._backends.memory import MemoryBackend

from subscriptions.redis_backend import ResilientRedisBackend

log = structlog.get_logger("bus")


class Wakeup:
    """One subscriber's view of a channel: set when anything was published since it last looked.

    A bare flag and, only while someone waits, a future: an idle subscriber is one small object
    (an asyncio.Event would also keep a deque and a loop reference per subscriber). Instead of
    waiting, a subscriber may leave a callback (`call_on_notify`): the next notification calls
    it, once, and leaves the flag unset (the callback is that notification's reader). That is
    how a live feed waits without a task of its own (subscriptions/driven.py)."""

    __slots__ = ("_on_notify", "_set", "_waiter")

    def __init__(self) -> None:
        self._set = False
        self._waiter: asyncio.Future[None] | None = None
        self._on_notify: Callable[[], None] | None = None

    def notify(self) -> None:
        callback = self._on_notify
        if callback is not None:
            self._on_notify = None
            callback()
            return
        self._set = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        if not self._set:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        self._set = False

    def consume(self) -> bool:
        """Whether anything was published since the last look; unsets the flag."""
        was_set, self._set = self._set, False
        return was_set

    def call_on_notify(self, callback: Callable[[], None] | None) -> None:
        """Call `callback` at the next notification, once (None: forget a callback left)."""
        self._on_notify = callback


class _Channel:
    __slots__ = ("ready", "subscribers")

    def __init__(self) -> None:
        self.subscribers: set[Wakeup] = set()
        self.ready: asyncio.Future[None] | None = None  # done once subscribed upstream


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
        self._backend: BroadcastBackend
        if url.startswith(("redis://", "rediss://")):
            self._redis = ResilientRedisBackend(
                url,
                heartbeat_channel=f"{prefix}heartbeat",
                reconnect_max_seconds=reconnect_max_seconds,
                ping_seconds=ping_seconds,
                subscribe_confirm_seconds=subscribe_confirm_seconds,
                publish_retry_seconds=publish_retry_seconds,
            )
            self._backend = self._redis
        elif url.startswith("memory://"):
            self._backend = MemoryBackend(url)
        else:
            raise ValueError(f"unsupported event bus URL: {url.split(':', 1)[0]}://")
        self._prefix = prefix
        self._channels: dict[str, _Channel] = {}
        self._leaving: dict[str, asyncio.Task[None]] = {}  # upstream unsubscribes in flight
        self._dispatcher: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        await self._backend.connect()
        self._dispatcher = asyncio.create_task(self._dispatch())
        self._dispatcher.add_done_callback(_log_failure)

    async def disconnect(self) -> None:
        tasks = [t for t in [self._dispatcher, *self._leaving.values()] if t]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for state in self._channels.values():
            if state.ready is not None and not state.ready.done():
                state.ready.set_result(None)  # never leave a subscriber waiting
        self._channels.clear()
        await self._backend.disconnect()

    async def publish(self, channel: str, message: str) -> None:
        await self._backend.publish(self._prefix + channel, message)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Wakeup]:
        """Yields once the upstream subscription is live, so nothing published after the
        `async with` line is missed."""
        wakeup = Wakeup()
        state = self._channels.get(channel)
        first = state is None
        if state is None:
            state = self._channels[channel] = _Channel()
            state.ready = asyncio.get_running_loop().create_future()
        state.subscribers.add(wakeup)
        try:
            if first:
                try:
                    await self._subscribe_upstream(channel)
                finally:
                    if state.ready is not None and not state.ready.done():
                        state.ready.set_result(None)
            elif state.ready is not None and not state.ready.done():
                await asyncio.shield(state.ready)
            yield wakeup
        finally:
            state.subscribers.discard(wakeup)
            if not state.subscribers and self._channels.get(channel) is state:
                del self._channels[channel]
                self._unsubscribe_upstream(channel)

    async def _subscribe_upstream(self, channel: str) -> None:
        leaving = self._leaving.get(channel)
        if leaving is not None:  # the last subscriber just left: let its unsubscribe land first
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(leaving)
        await self._backend.subscribe(self._prefix + channel)

    def _unsubscribe_upstream(self, channel: str) -> None:
        """In the background: a closing socket need not wait for Redis."""
        previous = self._leaving.get(channel)

        async def unsubscribe() -> None:
            if previous is not None:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await previous
            if channel not in self._channels:  # nobody came back meanwhile
                await self._backend.unsubscribe(self._prefix + channel)

        task = asyncio.create_task(unsubscribe())
        self._leaving[channel] = task

        def done(finished: asyncio.Task[None]) -> None:
            if self._leaving.get(channel) is finished:
                del self._leaving[channel]
            _log_failure(finished)

        task.add_done_callback(done)

    async def _dispatch(self) -> None:
        """One task for every channel: a message sets the flag of each subscriber of its
        channel (a RESYNC after a Redis reconnection too: each then reads the database)."""
        prefix_length = len(self._prefix)
        while True:
            event = await self._backend.next_published()
            state = self._channels.get(event.channel[prefix_length:])
            if state is not None:
                for wakeup in state.subscribers:
                    wakeup.notify()

    def subscriber_count(self, channel: str) -> int:
        """Live local subscribers of a channel (metrics, and tests that wait for a feed)."""
        state = self._channels.get(channel)
        if state is None or state.ready is None or not state.ready.done():
            return 0
        return len(state.subscribers)

    async def ping(self) -> bool:
        """Readiness: the in-process bus is always up; Redis must have its pub/sub connection."""
        return self._redis is None or self._redis.connected.is_set()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("event bus task failed", error=repr(task.exception()))
