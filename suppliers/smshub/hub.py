"""This app's side of the SMSHub protocol, made once per app (create_app): one HTTP client for
every call to agents, the NumberSource of kind SMSHUB_AGENT, the outbox's FINISH_ACTIVATION
handler, and the GET_SERVICES poller that runs in the app's lifespan."""

from __future__ import annotations

from typing import TYPE_CHECKING

from models import Supplier, SupplierKind
from suppliers.smshub import availability, client, finish
from suppliers.smshub.agents import Agent
from suppliers.smshub.poller import Poller
from suppliers.smshub.source import AgentSource

if TYPE_CHECKING:
    from services.runtime import Runtime


class Hub:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.http = client.http_client(rt.settings)
        rt.sources.register(SupplierKind.SMSHUB_AGENT, self.source)
        rt.outbox_handlers[finish.KIND] = finish.handler(rt, self.http)

    def source(self, rt: Runtime, supplier: Supplier) -> AgentSource:
        return AgentSource(rt, supplier, self.http)

    async def poll(self) -> None:
        """GET_SERVICES of every ACTIVE agent, the list read again every
        SMSHUB_POLL_MIN_SECONDS, until cancelled."""
        await Poller(
            self.rt, self.http, list_agents=self._agents, write=availability.Writer(self.rt)
        ).run()

    async def _agents(self) -> list[Agent]:
        return await availability.active_agents(self.rt.settings)

    async def close(self) -> None:
        await self.http.aclose()
