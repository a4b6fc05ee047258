"""Rate limits (R13 login attempts, the compatible API per key) on the `limits` package.

A moving window per key, kept in Redis when REDIS_URL is set (so every process shares it) and
in this runtime's memory otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from services.errors import RateLimited


class RateLimiter:
    def __init__(self, redis_url: str | None, *, prefix: str) -> None:
        self._storage: Storage = (
            RedisStorage(
                redis_url.replace("redis://", "async+redis://", 1),
                implementation="redispy",
                key_prefix=f"{prefix}limits",  # every key of ours starts with REDIS_PREFIX
            )
            if redis_url
            else MemoryStorage()
        )
        self._limiter = MovingWindowRateLimiter(self._storage)

    async def reset(self) -> None:
        await self._storage.reset()

    async def hit(self, rule: str | RateLimitItem, *keys: str) -> None:
        """Counts one attempt against `rule` (e.g. "10/minute") for every key; refuses past it."""
        item = parse(rule) if isinstance(rule, str) else rule
        for key in keys:
            if not await self._limiter.hit(item, key):
                stats = await self._limiter.get_window_stats(item, key)
                until = datetime.fromtimestamp(stats.reset_time, UTC)
                raise RateLimited("too many attempts, try again later", until=until)
