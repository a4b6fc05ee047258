"""FINISH_ACTIVATION through the outbox: the agent learns how each of its activations ended
(3 sold, 4 cancelled, 5 refunded; 1 never again), once, however long it is away.

`enqueue` is called in the transaction that ends the activation; the outbox's workers call the
handler after the commit and retry it with backoff until the agent answers SUCCESS. One message
per agent activation (its key), so a replayed decision sends nothing more. The agent is looked
up when the message is sent, not when it is written: a key rotated meanwhile is the one used.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from services import outbox
from services.db import Connection
from settings import Settings
from suppliers.smshub import agents
from suppliers.smshub.agents import Agent
from suppliers.smshub.client import AgentClient, AgentHttp
from suppliers.smshub.protocol import Failure, FinishStatus

if TYPE_CHECKING:
    from services.runtime import Runtime

KIND = "smshub.finish_activation"
FindAgent = Callable[[Settings, str], Awaitable[Agent | None]]


async def enqueue(
    conn: Connection, rt: Runtime, supplier_code: str, activation_id: int, status: FinishStatus
) -> None:
    """`activation_id` is the agent's (GET_NUMBER's `activationId`), not ours."""
    payload = {"supplier": supplier_code, "activationId": activation_id, "status": int(status)}
    await outbox.enqueue(conn, rt, KIND, f"{supplier_code}:{activation_id}", payload)


def handler(rt: Runtime, http: AgentHttp, find: FindAgent = agents.find_any) -> outbox.Handler:
    async def send(payload: outbox.Payload) -> None:
        agent = await find(rt.settings, payload["supplier"])
        if agent is None:
            raise outbox.Retry(f"no supplier {payload['supplier']!r}")
        if agent.url is None:
            raise outbox.Retry(f"no URL known for agent {payload['supplier']!r}")
        client = AgentClient(http, agent.url, agent.key, rt.settings)
        answer = await client.finish_activation(
            payload["activationId"], FinishStatus(payload["status"])
        )
        if isinstance(answer, Failure):
            raise outbox.Retry(f"{answer.kind}: {answer.detail}")

    return send
