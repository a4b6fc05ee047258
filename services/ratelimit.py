"""Rate limits (R13 login attempts, the compatible API per key) on the `limits` package.

A moving window per key, kept in Redis when REDIS_URL is set (so every process shares it) and
in this process's memory otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from services import config
from services.errors import RateLimited

_limiter: MovingWindowRateLimiter | None = None
_storage: Storage | None = None


def configure(redis_url: str | None) -> None:
    global _limiter, _storage
    _storage = (
        RedisStorage(redis_url.replace("redis://", "async+redis://", 1), implementation="redispy")
        if redis_url
        else MemoryStorage()
    )
    _limiter = MovingWindowRateLimiter(_storage)


async def reset() -> None:
    if _storage is not None:
        await _storage.reset()


async def hit(rule: str | RateLimitItem, *keys: str) -> None:
    """Counts one attempt against `rule` (e.g. "10/minute") for every key; refuses past it."""
    if _limiter is None:
        configure(None)
    assert _limiter is not None
    item = parse(rule) if isinstance(rule, str) else rule
    prefix = config.get().redis_prefix
    for key in keys:
        if not await _limiter.hit(item, prefix, key):
            stats = await _limiter.get_window_stats(item, prefix, key)
            until = datetime.fromtimestamp(stats.reset_time, UTC)
            raise RateLimited("too many attempts, try again later", until=until)
