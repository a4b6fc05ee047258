"""Rate limits (R13 sign-in and sign-up attempts, the compatible API per key) on `limits`.

A moving window per key, kept in Redis when REDIS_URL is set (so every process shares it) and
in this runtime's memory otherwise.

During a Redis outage the limits fall back to this process's memory, for
RATE_LIMIT_REDIS_RETRY_SECONDS at a time before Redis is tried again. Deliberately neither of
the other choices: failing closed (refusing every sign-in and compat call while Redis is down)
would turn an outage of an auxiliary store into an outage of the service, which the event bus
also refuses to do (ADR 0004); failing open would lift the guard against password guessing
exactly when nobody is watching. In memory, each process still enforces every limit, so an
attacker gains at most a factor of the number of processes for the length of the outage. And
redis-py does not retry (its default backs off for seconds, holding the request): a call waits
at most RATE_LIMIT_REDIS_TIMEOUT_SECONDS on a Redis that does not answer.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from services.errors import RateLimited

log = structlog.get_logger("ratelimit")
T = TypeVar("T")
Limit = tuple[str | RateLimitItem, str]  # a rule ("10/minute") and the key it counts for


class RateLimiter:
    def __init__(
        self,
        redis_url: str | None,
        *,
        prefix: str,
        redis_timeout_seconds: float = 0.5,
        redis_retry_seconds: float = 5.0,
    ) -> None:
        self._memory = MovingWindowRateLimiter(MemoryStorage())
        self._redis: MovingWindowRateLimiter | None = None
        if redis_url:
            # Any: limits passes these through to redis-py, though it declares only scalars.
            options: dict[str, Any] = {
                "retry": Retry(NoBackoff(), 0),
                "socket_connect_timeout": redis_timeout_seconds,
                "socket_timeout": redis_timeout_seconds,
            }
            storage = RedisStorage(
                redis_url.replace("redis://", "async+redis://", 1),
                wrap_exceptions=True,  # every Redis failure is a StorageError
                implementation="redispy",
                key_prefix=f"{prefix}limits",  # every key of ours starts with REDIS_PREFIX
                **options,
            )
            self._redis = MovingWindowRateLimiter(storage)
        self._retry_seconds = redis_retry_seconds
        self._redis_down_until = 0.0  # time.monotonic(): memory until then

    async def reset(self) -> None:
        await self._memory.storage.reset()
        if self._redis is not None:
            await self._redis.storage.reset()

    async def hit(self, rule: str | RateLimitItem, *keys: str) -> None:
        """Counts one attempt against `rule` (e.g. "10/minute") for every key; refuses past it."""
        item = _item(rule)
        for key in keys:
            if not await self._hit(item, key):
                await self._refuse(item, key)

    async def check(self, limits: list[Limit]) -> None:
        """Refuses if any of these windows is full, without counting anything (a sign-in
        counts only its failures: see `count`)."""
        for rule, key in limits:
            item = _item(rule)
            if not await self._test(item, key):
                await self._refuse(item, key)

    async def count(self, limits: list[Limit]) -> None:
        """Counts one attempt in each window (a full window stays full)."""
        for rule, key in limits:
            await self._hit(_item(rule), key)

    async def _refuse(self, item: RateLimitItem, key: str) -> None:
        stats = await self._run(lambda limiter: limiter.get_window_stats(item, key))
        until = datetime.fromtimestamp(stats.reset_time, UTC)
        raise RateLimited("too many attempts, try again later", until=until)

    async def _hit(self, item: RateLimitItem, key: str) -> bool:
        return await self._run(lambda limiter: limiter.hit(item, key))

    async def _test(self, item: RateLimitItem, key: str) -> bool:
        return await self._run(lambda limiter: limiter.test(item, key))

    async def _run(self, call: Callable[[MovingWindowRateLimiter], Awaitable[T]]) -> T:
        """`call` on Redis, or on this process's memory while Redis is failing."""
        if self._redis is None or time.monotonic() < self._redis_down_until:
            return await call(self._memory)
        try:
            return await call(self._redis)
        except StorageError as exc:
            log.warning(  # once per retry period at most: memory is used until then
                "rate limits: Redis failed, counting in this process's memory meanwhile",
                error=type(exc.storage_error).__name__,
                retry_seconds=self._retry_seconds,
            )
            self._redis_down_until = time.monotonic() + self._retry_seconds
            return await call(self._memory)


def _item(rule: str | RateLimitItem) -> RateLimitItem:
    return parse(rule) if isinstance(rule, str) else rule
