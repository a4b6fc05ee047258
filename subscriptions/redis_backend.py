"""A broadcaster backend on redis-py that survives Redis outages (DESIGN.md, "Known traps").

broadcaster's own Redis backend leaves subscribers hanging forever after an outage, and with
redis-py 8 its first subscription after start-up never receives. This one:

- keeps one pub/sub connection in a supervisor task; when it breaks (or a periodic PING gets no
  answer), it reconnects with capped backoff and re-subscribes every channel it should have;
- after every (re)connection it emits a RESYNC event on each channel: subscribers then read
  what they missed from the database, so codes delivered during the outage still arrive;
- always holds a private heartbeat channel, so the reader is never idle-without-channels (the
  redis-py 8 trap) and a dead connection is noticed within a few REDIS_PING_SECONDS;
- confirms each SUBSCRIBE before returning (bounded wait), so nothing published after
  `subscribe()` returns is missed while Redis is up;
- retries a failed PUBLISH in the background for a bounded time: the database already holds
  the event, the retry only shortens the wait of subscribers in other processes.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from broadcaster import Event
from broadcaster._backends.base import BroadcastBackend
from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = structlog.get_logger("bus.redis")

RESYNC = "__resync__"
LOST = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)


class ResilientRedisBackend(BroadcastBackend):
    def __init__(
        self,
        url: str,
        *,
        heartbeat_channel: str,
        reconnect_max_seconds: float,
        ping_seconds: float,
        subscribe_confirm_seconds: float,
        publish_retry_seconds: float,
    ) -> None:
        self._url = url
        self._heartbeat = heartbeat_channel
        self._reconnect_max = reconnect_max_seconds
        self._ping_seconds = ping_seconds
        self._subscribe_confirm_seconds = subscribe_confirm_seconds
        self._publish_retry_seconds = publish_retry_seconds
        self._channels: set[str] = set()
        # SUBSCRIBEs sent and not confirmed yet: a future only while someone waits (a channel
        # that is merely subscribed costs its name in `_channels`, nothing more).
        self._unconfirmed: dict[str, asyncio.Future[None]] = {}
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._pubsub: Any = None
        self._supervisor: asyncio.Task[None] | None = None
        self._retries: set[asyncio.Task[None]] = set()
        self.connected = asyncio.Event()
        self.reconnects = 0

    def _client(self) -> aioredis.Redis:
        # No retries inside redis-py: its default (3 retries, jittered backoff up to seconds)
        # would hold a request that publishes for a random while during an outage. Retrying is
        # ours to do, in the background: the supervisor reconnects, _publish_later re-sends.
        return aioredis.Redis.from_url(
            self._url, socket_connect_timeout=2, socket_timeout=5, retry=Retry(NoBackoff(), 0)
        )

    async def connect(self) -> None:
        self._publisher = self._client()
        self._supervisor = asyncio.create_task(self._supervise())
        with contextlib.suppress(asyncio.TimeoutError):  # not up yet: the supervisor keeps trying
            await asyncio.wait_for(self.connected.wait(), timeout=5)

    async def disconnect(self) -> None:
        for task in [self._supervisor, *self._retries]:
            if task is not None:
                task.cancel()
        await asyncio.gather(
            *(t for t in [self._supervisor, *self._retries] if t), return_exceptions=True
        )
        await self._publisher.aclose()

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        pubsub = self._pubsub
        if pubsub is None or not self.connected.is_set():
            return  # subscribed on reconnection, followed by a RESYNC
        confirmed = self._unconfirmed.get(channel)
        if confirmed is None:
            confirmed = self._unconfirmed[channel] = asyncio.get_running_loop().create_future()
        try:
            await pubsub.subscribe(channel)
            await asyncio.wait_for(
                asyncio.shield(confirmed), timeout=self._subscribe_confirm_seconds
            )
        except (*LOST, RedisError):
            log.warning("subscribe not confirmed; will resync after reconnection", channel=channel)
        finally:
            if self._unconfirmed.get(channel) is confirmed and confirmed.done():
                del self._unconfirmed[channel]

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        pubsub = self._pubsub
        if pubsub is not None and self.connected.is_set():
            # The connection may be closing under us (shutdown, outage); then there is nothing
            # to unsubscribe from, and the next connection will not subscribe this channel.
            with contextlib.suppress(*LOST, RedisError, AttributeError):
                await pubsub.unsubscribe(channel)

    async def publish(self, channel: str, message: Any) -> None:
        if not self.connected.is_set():
            # Redis is known to be down: do not make the caller wait on a connect timeout.
            self._retry_in_background(channel, message)
            return
        try:
            await self._publisher.publish(channel, message)
        except (*LOST, RedisError):
            self._retry_in_background(channel, message)
            raise

    def _retry_in_background(self, channel: str, message: Any) -> None:
        task = asyncio.create_task(self._publish_later(channel, message))
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    async def _publish_later(self, channel: str, message: Any) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._publish_retry_seconds
        delay = 0.1
        while loop.time() < deadline:
            await asyncio.sleep(delay)
            with contextlib.suppress(*LOST, RedisError):
                await self._publisher.publish(channel, message)
                return
            delay = min(delay * 2, self._reconnect_max)

    async def next_published(self) -> Event:
        return await self._queue.get()

    async def _supervise(self) -> None:
        delay = 0.05
        while True:
            try:
                await self._run_connection()
            except (*LOST, RedisError) as exc:
                if self.connected.is_set():
                    log.warning("Redis pub/sub connection lost; reconnecting", error=str(exc))
            self.connected.clear()
            self._unconfirmed.clear()  # their SUBSCRIBEs went with the connection; RESYNC follows
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._reconnect_max)

    async def _run_connection(self) -> None:
        client = self._client()
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(self._heartbeat, *self._channels)
            self._pubsub = pubsub
            first = self.reconnects == 0 and not self.connected.is_set()
            self.connected.set()
            if not first:
                self.reconnects += 1
                log.info(
                    "Redis pub/sub reconnected; subscribers resync", channels=len(self._channels)
                )
            for channel in list(self._channels):  # whatever happened meanwhile: read it again
                self._queue.put_nowait(Event(channel=channel, message=RESYNC))
            await self._read(pubsub)
        finally:
            self._pubsub = None
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py 8 left it untyped
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _read(self, pubsub: Any) -> None:
        loop = asyncio.get_running_loop()
        last_heard = last_ping = loop.time()
        while True:
            message = await pubsub.get_message(
                ignore_subscribe_messages=False, timeout=self._ping_seconds
            )
            now = loop.time()
            if message is None:
                if (
                    now - last_heard > self._ping_seconds * 3
                ):  # our PINGs go unanswered: a dead link
                    raise RedisTimeoutError("no answer from Redis on the pub/sub connection")
                if now - last_ping >= self._ping_seconds:
                    await pubsub.ping()
                    last_ping = now
                continue
            last_heard = now
            channel = (
                message["channel"].decode()
                if isinstance(message["channel"], bytes)
                else str(message["channel"])
            )
            if message["type"] == "subscribe":
                confirmed = self._unconfirmed.pop(channel, None)
                if confirmed is not None and not confirmed.done():
                    confirmed.set_result(None)
            elif message["type"] == "message" and channel != self._heartbeat:
                data = message["data"]
                self._queue.put_nowait(
                    Event(
                        channel=channel, message=data.decode() if isinstance(data, bytes) else data
                    )
                )
