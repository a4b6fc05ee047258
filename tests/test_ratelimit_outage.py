"""R13's limits through a Redis outage (services/ratelimit.py): while the Redis of REDIS_URL is
down or does not answer, sign-ins are answered at once and still limited, in the process's own
memory; when it is back, the counts go to Redis again. A redis-server of the test's own is
killed, frozen and restarted; the app is a server started from an operator's environment
(RATE_LIMIT_REDIS_TIMEOUT_SECONDS, RATE_LIMIT_REDIS_RETRY_SECONDS), on the SQLite pair.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from testkit.processes import RedisServer
from tests import backends
from tests.account_helpers import PASSWORD, login, single_error, unique_ip
from tests.api import Api
from tests.api import User as ApiUser
from tests.conftest import Server, running
from tests.snapshot import snapshot
from tests.test_settings import environment, settings_from

pytestmark = pytest.mark.backends("sqlite")

PREFIX = "outage-test:"


@dataclass
class Outage:
    api: Api
    redis: RedisServer
    user: ApiUser

    async def keys(self) -> set[bytes]:
        client = aioredis.from_url(self.redis.url)
        try:
            return {key async for key in client.scan_iter(match=f"{PREFIX}*")}
        finally:
            await client.aclose()


@pytest.fixture
async def outage(
    request: pytest.FixtureRequest, server: Server, backend: backends.Backend, tmp_path: Path
) -> AsyncIterator[Outage]:
    """A server whose rate limits live in a redis-server of this test (after the session's
    `server`: the first database opened is the one tests read through). Its
    RATE_LIMIT_REDIS_RETRY_SECONDS is the test's parameter, else 0: every call tries Redis."""
    async with backends.redis_server() as redis:
        env = environment(
            backend,
            f"sqlite://{tmp_path / 'outage.sqlite3'}",
            REDIS_URL=redis.url,
            REDIS_PREFIX=PREFIX,
            RATE_LIMIT_REDIS_TIMEOUT_SECONDS="0.2",
            RATE_LIMIT_REDIS_RETRY_SECONDS=getattr(request, "param", "0"),
        )
        # A client timeout far above the setting's bound, and far below redis-py's default
        # (no socket timeout at all): a request held by a frozen Redis fails the test.
        async with (
            running(settings_from(env)) as app_server,
            httpx.AsyncClient(base_url=app_server.url, timeout=10) as client,
        ):
            api = Api(client, app_server)
            yield Outage(api, redis, await api.register())


async def guess_until_limited(outage: Outage, ip: str) -> int:
    """Wrong passwords from `ip` until RATE_LIMITED; how many were refused as wrong first."""
    limit = outage.api.rt.settings.login_attempts_per_minute
    for wrong in range(limit + 1):
        answer = await login(outage.api, outage.user.email, "not the password", ip)
        if single_error(answer)["code"] == "RATE_LIMITED":
            return wrong
        assert single_error(answer)["code"] == "INVALID_CREDENTIALS"
    raise AssertionError(f"no limit after {limit + 1} wrong passwords")


async def test_r13_limits_hold_in_memory_while_redis_is_down(outage: Outage) -> None:
    api, limit = outage.api, outage.api.rt.settings.login_attempts_per_minute
    assert await guess_until_limited(outage, unique_ip()) == limit
    assert await outage.keys(), "the counts were not in Redis"
    with api.rt.database.activate():  # this server's database, not the session's
        before = await snapshot(outage.user)
    await outage.redis.stop()
    assert await guess_until_limited(outage, unique_ip()) == limit
    with api.rt.database.activate():
        assert await snapshot(outage.user) == before
    assert (await login(api, outage.user.email, PASSWORD, unique_ip()))["errors"] == []


@pytest.mark.parametrize("outage", ["60"], indirect=True)
async def test_r13_a_frozen_redis_holds_no_sign_in(outage: Outage) -> None:
    """A Redis that accepts connections and never answers (SIGSTOP) costs one call
    RATE_LIMIT_REDIS_TIMEOUT_SECONDS, the next ones nothing for RATE_LIMIT_REDIS_RETRY_SECONDS
    (60 here: Redis answers again, but is not asked yet); the limits keep holding."""
    assert outage.redis.process is not None
    keys = await outage.keys()  # the sign-up's
    outage.redis.process.send_signal(signal.SIGSTOP)
    try:
        assert await guess_until_limited(outage, unique_ip()) == (
            outage.api.rt.settings.login_attempts_per_minute
        )
    finally:
        outage.redis.process.send_signal(signal.SIGCONT)
    wrong = await login(outage.api, outage.user.email, "not the password", unique_ip())
    assert single_error(wrong)["code"] == "INVALID_CREDENTIALS"
    assert await outage.keys() == keys


async def test_r13_counts_go_back_to_redis_when_it_returns(outage: Outage) -> None:
    await outage.redis.stop()
    await guess_until_limited(outage, unique_ip())
    await outage.redis.start()  # empty: it keeps nothing on disk
    assert await outage.keys() == set()
    wrong = await login(outage.api, outage.user.email, "not the password", unique_ip())
    assert single_error(wrong)["code"] == "INVALID_CREDENTIALS"
    assert await outage.keys(), "the count after the outage is not in Redis"
