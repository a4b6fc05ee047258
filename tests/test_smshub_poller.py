"""GET_SERVICES polled per agent (suppliers/smshub/poller.py) from reference SMSHub agents
(tests/smshub_agent.py), each outcome handed to the injected writer.

The poller touches no database (the writer is the registry's), so these tests run on one
backend pair only: the second would test the same code again.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import pytest

from models import Supplier
from settings import Settings
from suppliers.smshub.agents import Agent
from suppliers.smshub.client import http_client
from suppliers.smshub.poller import Poller, next_interval, poll_once
from suppliers.smshub.protocol import Failure, FailureKind, Services, Stock
from tests import supplier_helpers as sh
from tests.api import Api
from tests.conftest import Server
from tests.smshub_agent import SmsHubAgent

pytestmark = pytest.mark.backends("sqlite")
POLL_LIMIT_SECONDS = 10.0


class Writes:
    """The writer the registry will provide: here, every outcome by supplier code."""

    def __init__(self) -> None:
        self.by_code: dict[str, list[Services | Failure]] = defaultdict(list)

    async def __call__(self, agent: Agent, found: Services | Failure) -> None:
        self.by_code[agent.supplier.code].append(found)

    async def until(self, code: str, count: int) -> list[Services | Failure]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + POLL_LIMIT_SECONDS
        while len(self.by_code[code]) < count:
            assert loop.time() < deadline, f"{code} was polled {len(self.by_code[code])} times"
            await asyncio.sleep(0.01)
        return self.by_code[code]


@pytest.fixture
def fast(override_settings: Callable[..., Settings]) -> Settings:
    return override_settings(smshub_poll_min_seconds=0.01, smshub_poll_max_seconds=0.02)


NOWHERE = "http://127.0.0.1:9/smshub"  # the discard port: nothing answers there


async def a_registered_agent(api: Api) -> tuple[Supplier, str]:
    """A supplier of the registry (kind SMSHUB_AGENT) and its key, switched off at once: these
    tests poll it through a poller of their own, and the app's poller polls ACTIVE agents only."""
    created, key = await sh.smshub_agent(api, NOWHERE)
    await sh.switch_off(api, created["id"])
    return await Supplier.get(id=int(created["id"])), key


@asynccontextmanager
async def agents(api: Api, *simulators: SmsHubAgent) -> AsyncIterator[list[Agent]]:
    """Each simulator served, as the agent of a new supplier whose key it expects."""
    async with AsyncExitStack() as stack:
        found = []
        for simulator in simulators:
            supplier, simulator.key = await a_registered_agent(api)
            url = await stack.enter_async_context(simulator.serving())
            found.append(Agent(supplier, simulator.key, url))
        yield found


@asynccontextmanager
async def polling(server: Server, writes: Writes) -> AsyncIterator[Poller]:
    async with http_client(server.settings) as http:
        poller = Poller(server.runtime, http, list_agents=_none, write=writes)
        try:
            yield poller
        finally:
            await poller.stop()


async def _none() -> list[Agent]:
    return []


@asynccontextmanager
async def polled(
    api: Api, writes: Writes, *simulators: SmsHubAgent
) -> AsyncIterator[tuple[Poller, list[Agent]]]:
    """A poller following an agent of each simulator."""
    async with agents(api, *simulators) as found, polling(api.server, writes) as poller:
        poller.follow(found)
        yield poller, found


def stocked(service: str, count: int) -> SmsHubAgent:
    return SmsHubAgent(stock={"russia": {"any": {service: count}}})


async def test_each_agent_is_polled_again_and_again(api: Api, fast: Settings) -> None:
    writes = Writes()
    async with polled(api, writes, stocked("tg", 10), stocked("wa", 4)) as (poller, found):
        one, two = found
        assert poller.polling == {one.supplier.code, two.supplier.code}
        first = await writes.until(one.supplier.code, 3)
        second = await writes.until(two.supplier.code, 3)
    assert set(first) == {Services((Stock("russia", "any", "tg", 10),))}
    assert set(second) == {Services((Stock("russia", "any", "wa", 4),))}


async def test_a_silent_agent_delays_only_its_own_polls(api: Api, fast: Settings) -> None:
    silent = stocked("tg", 1)
    silent.services_answer = "silent"
    writes = Writes()
    async with polled(api, writes, stocked("tg", 10), silent) as (_, found):
        talking, quiet = found
        await writes.until(talking.supplier.code, 5)
        # Its first call is still waiting for its deadline: no outcome, and no other call.
        assert writes.by_code[quiet.supplier.code] == []
        assert [r["action"] for r in silent.requests] == ["GET_SERVICES"]


async def test_bad_answers_reach_the_writer_as_failures(api: Api, fast: Settings) -> None:
    broken = stocked("tg", 1)
    broken.services_answer = "html"
    writes = Writes()
    async with polled(api, writes, broken) as (_, [agent]):
        outcomes = await writes.until(agent.supplier.code, 2)
    assert {o.kind for o in outcomes if isinstance(o, Failure)} == {FailureKind.NOT_JSON}
    assert all(isinstance(o, Failure) for o in outcomes)


async def test_a_rotated_key_is_used_from_the_next_poll(api: Api, fast: Settings) -> None:
    writes = Writes()
    async with agents(api, stocked("tg", 2)) as (agent,), polling(api.server, writes) as poller:
        stale = Agent(agent.supplier, "the-old-key", agent.url)
        poller.follow([stale])
        [refused] = (await writes.until(agent.supplier.code, 1))[:1]
        assert refused == Failure(FailureKind.HTTP_STATUS, "HTTP 401")
        poller.follow([agent])
        writes.by_code.clear()
        outcomes = await writes.until(agent.supplier.code, 2)
    assert outcomes[-1] == Services((Stock("russia", "any", "tg", 2),))


async def test_follow_stops_polling_agents_no_longer_listed(api: Api, fast: Settings) -> None:
    writes = Writes()
    async with polled(api, writes, stocked("tg", 1), stocked("wa", 1)) as (poller, found):
        one, two = found
        await writes.until(two.supplier.code, 1)
        poller.follow([one])
        assert poller.polling == {one.supplier.code}
        before = len(writes.by_code[two.supplier.code])
        await writes.until(one.supplier.code, len(writes.by_code[one.supplier.code]) + 3)
        assert len(writes.by_code[two.supplier.code]) == before


async def test_run_follows_the_listed_agents_until_cancelled(api: Api, fast: Settings) -> None:
    writes = Writes()
    async with agents(api, stocked("tg", 1)) as (agent,), http_client(api.rt.settings) as http:

        async def listed() -> list[Agent]:
            return [agent]

        poller = Poller(api.rt, http, list_agents=listed, write=writes)
        running = asyncio.create_task(poller.run())
        await writes.until(agent.supplier.code, 2)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        assert poller.polling == set()


@pytest.mark.logs_errors("the writer fails on purpose; each failure is logged")
async def test_a_writer_that_fails_does_not_stop_the_polling(api: Api, fast: Settings) -> None:
    class FailingWrites(Writes):
        async def __call__(self, agent: Agent, found: Services | Failure) -> None:
            await super().__call__(agent, found)
            raise RuntimeError("the registry is away")

    writes = FailingWrites()
    async with polled(api, writes, stocked("tg", 1)) as (_, [agent]):
        await writes.until(agent.supplier.code, 3)


async def test_an_agent_without_a_url_is_not_called(api: Api) -> None:
    supplier, _ = await a_registered_agent(api)
    writes = Writes()
    async with http_client(api.rt.settings) as http:
        found = await poll_once(api.rt, http, Agent(supplier, "k", None), writes)
    assert found == Failure(FailureKind.UNREACHABLE, "no URL known")
    assert writes.by_code[supplier.code] == [found]


def test_the_interval_is_random_between_its_bounds() -> None:
    settings = Settings(smshub_poll_min_seconds=10.0, smshub_poll_max_seconds=20.0)
    intervals = {next_interval(settings) for _ in range(50)}
    assert all(10.0 <= i <= 20.0 for i in intervals)
    assert len(intervals) > 1
