"""Which supplier is an SMSHub agent, with its protocol key and URL: the one seam that the
supplier registry (issue 8, item 1) replaces.

Until the registry stores each supplier's kind, endpoint and credentials, every active supplier
may act as an agent, with its `webhook_secret` as the protocol key (checked on PUSH_SMS, sent
on every call to it). No URL is stored anywhere yet, so `url` is None: a call that must reach
the agent (FINISH_ACTIVATION) waits in the outbox, retried, until the registry provides one.
"""

from __future__ import annotations

from dataclasses import dataclass

from models import Supplier
from services import suppliers


@dataclass(frozen=True)
class Agent:
    supplier: Supplier
    key: str  # the protocol's `key`, the same both ways
    url: str | None  # e.g. "http://agent.example:8000/smshub"; None while unknown


async def find(code: str) -> Agent | None:
    """The agent of this code if it may deliver (PUSH_SMS): a paused one is unknown."""
    supplier = await suppliers.active(code)
    return None if supplier is None else _agent(supplier)


async def find_any(code: str) -> Agent | None:
    """The agent of this code, paused or not: it is still told how its activations ended."""
    supplier = await Supplier.get_or_none(code=code)
    return None if supplier is None else _agent(supplier)


def _agent(supplier: Supplier) -> Agent:
    return Agent(supplier=supplier, key=supplier.webhook_secret, url=None)
