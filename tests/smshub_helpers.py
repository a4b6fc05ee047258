"""SMSHub agents in tests: the reference agent (tests/smshub_agent.py) served and registered by
the admin, as an operator connects one (README, "Suppliers")."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from models import Country
from suppliers.smshub import names
from tests import supplier_helpers as sh
from tests.api import Api
from tests.smshub_agent import SmsHubAgent
from tests.test_catalog import fictional_e164, offers

WAIT_LIMIT_SECONDS = 10.0


@dataclass
class Registered:
    simulator: SmsHubAgent
    supplier: dict[str, Any]  # as the admin's `suppliers` shows it
    url: str  # the agent's, where we call it

    @property
    def code(self) -> str:
        return str(self.supplier["code"])

    def hub_url(self, server_url: str) -> str:
        """Where the agent pushes its SMS (PUSH_SMS)."""
        return f"{server_url}/suppliers/{self.code}/smshub"


def stocked(simulator: SmsHubAgent, country: Country, service: str, count: int) -> SmsHubAgent:
    """`count` SIMs of the country (fictional numbers) offered for the service."""
    name = names.name_of(country)
    simulator.numbers[name] = [int(fictional_e164().removeprefix("+")) for _ in range(count)]
    simulator.stock[name] = {"any": {service: count}}
    return simulator


@asynccontextmanager
async def registered(api: Api, simulator: SmsHubAgent, **fields: Any) -> AsyncIterator[Registered]:
    """The simulator served and registered as an SMSHub agent, expecting the key we were shown;
    switched off afterwards, so that no later test routes to it."""
    async with simulator.serving() as url:
        supplier, simulator.key = await sh.smshub_agent(api, url, **fields)
        try:
            yield Registered(simulator, supplier, url)
        finally:
            await sh.switch_off(api, supplier["id"])


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Waits (bounded) until `check()` is true: the app's poller and outbox run on their own."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_LIMIT_SECONDS
    while not await check():
        assert loop.time() < deadline, f"not within {WAIT_LIMIT_SECONDS} s: {what}"
        await asyncio.sleep(0.05)


async def until_available(api: Api, country: str, service: str, count: int) -> None:
    """Until `prices` shows exactly `count` numbers of the offer (the app's poller has read the
    agent's GET_SERVICES)."""

    async def shown() -> bool:
        return [o["available"] for o in await offers(api, country, service)] == [count]

    await until(shown, f"{count} numbers of {country}/{service} in prices")
