"""An SMSHub agent served by two app processes (PostgreSQL + Redis): both poll its GET_SERVICES,
either sells its numbers and takes its pushes, and although both run outbox workers, racing for
the same messages, the agent is told how each activation ended exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from models import OutboxMessage, Service
from settings import Settings
from suppliers.smshub import finish
from tests import live
from tests.api import Api
from tests.app_processes import app_process, shared_bus_env
from tests.conftest import SECRETS_KEY
from tests.smshub_agent import SmsHubAgent
from tests.smshub_helpers import registered, stocked, until, until_available
from tests.test_catalog import fresh_country, set_price

pytestmark = pytest.mark.backends("postgres")
BUYERS = 3
FAST = {"outbox_poll_seconds": 0.02, "smshub_poll_min_seconds": 0.2, "smshub_poll_max_seconds": 0.4}


async def test_two_processes_sell_an_agents_numbers_and_tell_it_each_ending_once(
    api: Api, override_settings: Callable[..., Settings]
) -> None:
    override_settings(**FAST)
    country = await fresh_country()
    await set_price(country, await Service.get(code="tg"))
    env = shared_bus_env(api.server, secrets_key=SECRETS_KEY, price_cache_seconds=0, **FAST)
    simulator = stocked(SmsHubAgent(), country, "tg", BUYERS)
    async with (
        app_process(env) as url_b,
        httpx.AsyncClient(base_url=url_b, timeout=30) as client_b,
        registered(api, simulator) as agent,
    ):
        api_b = Api(client_b, api.server)
        await until_available(api_b, country.code, "tg", BUYERS)  # process B polls it too
        sold = []
        for i in range(BUYERS):
            user = await api.funded_user("5.00")
            activation = await api_b.bought(user, country.code, "tg")  # GET_NUMBER from B
            feed_a = live.events(api.server.url, user.token, activationId=activation["id"])
            async with feed_a as feed:
                await live.wait_subscribed(api.rt.bus, user.id)
                await simulator.push_sms(  # to process B; the buyer listens on A
                    agent.hub_url(url_b),
                    sms_id=9100 + i,
                    phone=int(activation["phoneNumber"].removeprefix("+")),
                    text=f"Telegram code 5500{i}",
                )
                while (event := await feed.next())["kind"] != "SMS_RECEIVED":
                    pass
            assert event["sms"]["code"] == f"5500{i}"
            sold.append((user, activation))

        # Both processes' workers poll the outbox every 20 ms while the endings are written.
        finished = await asyncio.gather(
            *(api.act(user, "finishActivation", activation["id"]) for user, activation in sold)
        )
        assert [f["errors"] for f in finished] == [[]] * BUYERS

        async def all_sent() -> bool:
            rows = OutboxMessage.filter(kind=finish.KIND, key__startswith=f"{agent.code}:")
            return await rows.count() == BUYERS and not await rows.filter(sent_at__isnull=True)

        await until(all_sent, "every FINISH_ACTIVATION sent")
        await asyncio.sleep(0.5)  # many more rounds of both workers: nothing is sent again
        assert sorted(simulator.finish_calls) == sorted((a, 3) for a in simulator.activations)
        assert len(simulator.finish_calls) == BUYERS
