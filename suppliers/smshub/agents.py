"""Which supplier is an SMSHub agent, with its protocol key and URL, from the supplier registry
(services/suppliers.py): a supplier of kind SMSHUB_AGENT, its sealed key opened for use."""

from __future__ import annotations

from dataclasses import dataclass

from models import Supplier, SupplierKind
from services import suppliers
from settings import Settings


@dataclass(frozen=True)
class Agent:
    supplier: Supplier
    key: str  # the protocol's `key`, the same both ways
    url: str | None  # e.g. "http://agent.example:8000/smshub"; None while unknown


async def find(settings: Settings, code: str) -> Agent | None:
    """The agent of this code if it may deliver (PUSH_SMS): a disabled one is unknown, a
    paused one still delivers to the numbers it has sold."""
    supplier = await suppliers.receiving(code, (SupplierKind.SMSHUB_AGENT,))
    return None if supplier is None else of(settings, supplier)


async def find_any(settings: Settings, code: str) -> Agent | None:
    """The agent of this code, whatever its state: it is still told how its activations ended."""
    supplier = await Supplier.get_or_none(code=code, kind=SupplierKind.SMSHUB_AGENT)
    return None if supplier is None else of(settings, supplier)


def of(settings: Settings, supplier: Supplier) -> Agent:
    """The agent of a supplier row of kind SMSHUB_AGENT."""
    return Agent(
        supplier=supplier, key=suppliers.secret_of(settings, supplier) or "", url=supplier.url
    )
