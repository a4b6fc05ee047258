"""GET_SERVICES per agent, every SMSHUB_POLL_MIN_SECONDS to SMSHUB_POLL_MAX_SECONDS (a random
interval each time, so that agents polled together drift apart), into availability.

Each agent has a task of its own: an agent that answers slowly or not at all delays only its
own next poll, never another agent's. What is done with an answer is injected (`write`): the
supplier registry stores the stock (and the agent's health, from failures too); purchases read
that store, never an agent, so nothing on the purchase path waits on GET_SERVICES.

    poller = Poller(rt, http, list_agents=active_agents, write=availability.Writer(rt))
    await poller.run()   # until cancelled; follows agents added, removed or re-keyed
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import structlog

from services.db import log_failure
from settings import Settings
from suppliers.smshub.agents import Agent
from suppliers.smshub.client import AgentClient, AgentHttp
from suppliers.smshub.protocol import Failure, FailureKind, Services

if TYPE_CHECKING:
    from services.runtime import Runtime

log = structlog.get_logger("smshub.poller")
ListAgents = Callable[[], Awaitable[list[Agent]]]
# Called with every poll's outcome: the stock, or why there is none this time.
WriteAvailability = Callable[[Agent, Services | Failure], Awaitable[None]]
_random = random.SystemRandom()


def next_interval(settings: Settings) -> float:
    return _random.uniform(settings.smshub_poll_min_seconds, settings.smshub_poll_max_seconds)


async def poll_once(
    rt: Runtime, http: AgentHttp, agent: Agent, write: WriteAvailability
) -> Services | Failure:
    if agent.url is None:
        found: Services | Failure = Failure(FailureKind.UNREACHABLE, "no URL known")
    else:
        found = await AgentClient(http, agent.url, agent.key, rt.settings).get_services()
    try:
        await write(agent, found)
    except Exception as error:  # one bad write must not end the agent's polling
        log_failure(log, "writing availability failed", error, supplier=agent.supplier.code)
    return found


class Poller:
    def __init__(
        self,
        rt: Runtime,
        http: AgentHttp,
        *,
        list_agents: ListAgents,
        write: WriteAvailability,
    ) -> None:
        self.rt = rt
        self.http = http
        self.list_agents = list_agents
        self.write = write
        # (supplier code, url, key) -> its polling task: a new URL or key is a new task.
        self._tasks: dict[tuple[str, str | None, str], asyncio.Task[None]] = {}

    @property
    def polling(self) -> set[str]:
        return {code for code, _, _ in self._tasks}

    async def run(self) -> None:
        """Until cancelled: looks for added or removed agents every SMSHUB_POLL_MIN_SECONDS."""
        try:
            while True:
                try:
                    self.follow(await self.list_agents())
                except Exception as error:  # the registry may be away for a moment; keep polling
                    log_failure(log, "listing SMSHub agents failed", error)
                await asyncio.sleep(self.rt.settings.smshub_poll_min_seconds)
        finally:
            await self.stop()

    def follow(self, agents: list[Agent]) -> None:
        """Polls exactly these agents: starts the new ones, stops those gone or changed."""
        wanted = {(a.supplier.code, a.url, a.key): a for a in agents}
        for identity in set(self._tasks) - set(wanted):
            self._tasks.pop(identity).cancel()
        for identity, agent in wanted.items():
            if identity not in self._tasks:
                self._tasks[identity] = asyncio.create_task(self._poll_forever(agent))

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _poll_forever(self, agent: Agent) -> None:
        while True:
            await poll_once(self.rt, self.http, agent, self.write)
            await asyncio.sleep(next_interval(self.rt.settings))
