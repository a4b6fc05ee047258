"""The NumberSource of SMSHub agents (services/routing.py): a purchase routed to an agent asks it
for a number with GET_NUMBER, and the activation's end is told back with FINISH_ACTIVATION.

- `acquire` runs under routing's deadline for the supplier (GET_NUMBER's own deadline is the
  shorter of the two). `exceptionPhoneSet` holds the prefixes never sold (R11) and the agent's
  numbers already sold for this service here (R6: a number is sold once per service), so that
  the agent does not offer them. NO_NUMBERS is "no numbers"; any failure is raised, for routing
  to count against the agent and move on.
- A number the agent gave but we will not use (one under `exceptionPhoneSet`, or one the
  purchase could not take) is released with FINISH_ACTIVATION 4, so that the agent may offer it
  again; `release` writes it, like every ending, to the outbox in the caller's transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from models import ActivationStatus, NumberUse, Supplier
from services.db import Connection, atomic
from services.routing import Acquired, Ending, NumberSource, Want
from suppliers.smshub import agents, finish, names
from suppliers.smshub.client import AgentClient, AgentHttp
from suppliers.smshub.protocol import Failure, FailureKind, FinishStatus, NoNumbers, NumberOrder

if TYPE_CHECKING:
    from services.runtime import Runtime

# The agent's numbers already sold for a service, newest first, sent in exceptionPhoneSet at most:
# past this, a number sold long ago that comes back is refused by the purchase and released (4).
MAX_EXCLUDED_NUMBERS = 2000
# How each ending is told to the agent. BANNED (R6: the number is unusable for the service) is 1,
# "do not offer this number for this service again"; a code received and the activation closed
# is 3, the agent is paid; a cancel is 4; an expiry without a code is refunded to the buyer, 5.
FINISH_STATUS = {
    ActivationStatus.FINISHED: FinishStatus.SOLD,
    ActivationStatus.CANCELLED: FinishStatus.CANCELLED,
    ActivationStatus.EXPIRED: FinishStatus.REFUNDED,
    ActivationStatus.BANNED: FinishStatus.NEVER_AGAIN,
}


class AgentFailed(Exception):
    """The agent's answer to GET_NUMBER was no number and no "no numbers" (routing counts it)."""


class AgentSource(NumberSource):
    def __init__(self, rt: Runtime, supplier: Supplier, http: AgentHttp) -> None:
        super().__init__(rt, supplier)
        self.http = http

    async def acquire(self, want: Want) -> Acquired | None:
        settings = self.rt.settings
        agent = agents.of(settings, self.supplier)
        if agent.url is None:
            raise AgentFailed("no URL known for this agent")
        sold = await sold_numbers(self.supplier.id, want.country.id, want.service.id)
        order = NumberOrder(
            country=names.name_of(want.country),
            operator=names.ANY_OPERATOR,
            service=want.service.code,
            sum_minor=want.cost_minor,
            currency=self.supplier.currency,
            excluded_prefixes=(*(p.removeprefix("+") for p in want.excluded_prefixes), *sold),
        )
        deadline = min(
            settings.smshub_get_number_deadline_seconds, settings.supplier_acquire_timeout_seconds
        )
        client = AgentClient(self.http, agent.url, agent.key, settings)
        answer = await client.get_number(order, deadline)
        if isinstance(answer, NoNumbers):
            return None
        if isinstance(answer, Failure):
            if answer.kind == FailureKind.EXCLUDED_NUMBER and answer.activation_id is not None:
                async with atomic() as conn:
                    await self._finish(conn, answer.activation_id, FinishStatus.CANCELLED)
            raise AgentFailed(f"GET_NUMBER {answer.kind.value}: {answer.detail}")
        return Acquired(e164=answer.e164, supplier_activation_id=str(answer.activation_id))

    async def release(self, conn: Connection, ending: Ending) -> None:
        status = FINISH_STATUS.get(ending.status)
        if status is None or ending.supplier_activation_id is None:
            return
        await self._finish(conn, int(ending.supplier_activation_id), status)

    async def _finish(self, conn: Connection, activation_id: int, status: FinishStatus) -> None:
        await finish.enqueue(conn, self.rt, self.supplier.code, activation_id, status)


async def sold_numbers(supplier_id: int, country_id: int, service_id: int) -> list[str]:
    """The agent's numbers in this country already sold for this service, as prefixes of
    exceptionPhoneSet (digits with the country code, no "+")."""
    rows: list[str] = await (
        NumberUse.filter(
            service_id=service_id, number__supplier_id=supplier_id, number__country_id=country_id
        )
        .order_by("-id")
        .limit(MAX_EXCLUDED_NUMBERS)
        .values_list("number__e164", flat=True)
    )  # type: ignore[assignment]
    return [e164.removeprefix("+") for e164 in rows]
