"""A price rule saved through one process reaches the price list and the purchases of another
(PostgreSQL + Redis: SQLite is for one process): no process keeps prices but in its cache,
which expires after PRICE_CACHE_SECONDS."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from models import Activation
from tests.api import Api
from tests.app_processes import app_process, shared_bus_env
from tests.test_pricing import fresh_offer, price_of, set_rule

pytestmark = pytest.mark.backends("postgres")
POLL_SECONDS = 0.1
CACHE_SECONDS = 0.5  # process B's PRICE_CACHE_SECONDS


async def test_a_rule_saved_in_one_process_prices_the_purchases_of_another(api: Api) -> None:
    country, service = await fresh_offer(price_minor=10)  # cost 0.05
    async with (
        app_process(shared_bus_env(api.server, price_cache_seconds=CACHE_SECONDS)) as process_b,
        httpx.AsyncClient(base_url=process_b) as client_b,
    ):
        api_b = Api(client_b, api.server)
        assert await price_of(api_b, country, service) == "0.10"  # now cached in process B
        saved = await set_rule(api, country=country, markupPercent="200", minMargin="0")
        assert saved["errors"] == []
        assert await price_of(api, country, service) == "0.15"  # the saving process: at once
        # The other process: once its cache has expired. Polled for many times
        # PRICE_CACHE_SECONDS: what is checked is that it gets there, not how fast.
        polls = int(20 * CACHE_SECONDS / POLL_SECONDS)
        for _ in range(polls):
            if await price_of(api_b, country, service) == "0.15":
                break
            await asyncio.sleep(POLL_SECONDS)
        assert await price_of(api_b, country, service) == "0.15"
        buyer = await api.funded_user("1.00")
        activation = await api_b.bought(buyer, country, service)
    row = await Activation.get(id=int(activation["id"]))
    assert (activation["price"]["amount"], row.price_minor, row.cost_minor) == ("0.15", 15, 5)
