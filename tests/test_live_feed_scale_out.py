"""Scale-out and outages (PostgreSQL + Redis): several processes, one feed, no code lost."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests import backends, live
from tests.api import Api
from tests.app_processes import app_process, process_env, shared_bus_env

pytestmark = pytest.mark.backends("postgres")


async def next_sms(feed: live.Events, timeout: float = 5.0) -> dict[str, object]:
    """The next SMS_RECEIVED event (status changes of the same activation are passed over)."""
    while True:
        event = await feed.next(timeout)
        if event["kind"] == "SMS_RECEIVED":
            return event


async def test_code_delivered_to_process_b_reaches_subscriber_on_process_a(api: Api) -> None:
    env = shared_bus_env(api.server)
    user = await api.funded_user()
    activation = await api.bought(user)
    async with (
        app_process(env) as process_b,
        httpx.AsyncClient(base_url=process_b) as client_b,
        live.events(api.server.url, user.token, activationId=activation["id"]) as feed,
    ):
        await live.wait_subscribed(api.rt.bus, user.id)
        api_b = Api(client_b, api.server)  # same secret, other process's webhook
        answer = await api_b.deliver_sms(activation["phoneNumber"], "Telegram code: 31337")
        assert answer.json() == {"status": "delivered"}
        event = await feed.next(timeout=5)
    assert event["sms"]["code"] == "31337"


@pytest.mark.slow
async def test_redis_outage_of_ten_seconds_loses_no_code(api: Api) -> None:
    """Both processes use a redis-server of this test's own; it dies for 10 s mid-stream."""
    async with backends.redis_server() as redis:
        env = process_env(api.server, redis.url, "outage:")
        async with (
            app_process(env) as process_a,
            app_process(env) as process_b,
            httpx.AsyncClient(base_url=process_a) as client_a,
            httpx.AsyncClient(base_url=process_b) as client_b,
        ):
            api_a, api_b = Api(client_a, api.server), Api(client_b, api.server)
            user = await api_a.funded_user()
            activation = await api_a.bought(user)
            async with live.events(process_a, user.token, activationId=activation["id"]) as feed:
                # The feed lives in another process: its first SMS arrives live or by replay,
                # and either way the subscription is established once it is here.
                await api_b.deliver_sms(activation["phoneNumber"], "Telegram code: 10001")
                assert (await next_sms(feed))["sms"]["code"] == "10001"

                await redis.stop()
                assert (await client_a.get("/readyz")).status_code in (200, 503)
                for code in ("10002", "10003"):  # delivered while Redis is down
                    answer = await api_b.deliver_sms(
                        activation["phoneNumber"], f"Telegram code: {code}"
                    )
                    assert answer.json() == {"status": "delivered"}
                await asyncio.sleep(10)
                await redis.start()  # same port: the processes find it again by themselves

                codes = [(await next_sms(feed, timeout=15))["sms"]["code"] for _ in range(2)]
                assert codes == ["10002", "10003"]
                # And the feed is live again afterwards.
                await api_b.deliver_sms(activation["phoneNumber"], "Telegram code: 10004")
                assert (await next_sms(feed))["sms"]["code"] == "10004"
                assert await feed.nothing_more(0.5)
