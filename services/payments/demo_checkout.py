"""The demo processor's checkout page: what it shows, and what its Pay button does.

Pay makes the demo processor's signed notification and hands it to `notifications.receive`, the
path every real processor's webhook takes: the page proves the whole flow without real money.
"""

from __future__ import annotations

from models import TopUp
from services.payments import notifications, registry
from services.payments.demo import SIGNATURE_HEADER, DemoProcessor
from services.payments.settlement import Outcome
from services.runtime import Runtime


class NoDemoCheckout(Exception):
    """The demo processor is off, or no demo top-up has this reference: 404."""


async def checkout(rt: Runtime, reference: str) -> TopUp:
    _processor(rt)
    top_up = await TopUp.get_or_none(provider="demo", reference=reference[:100])
    if top_up is None:
        raise NoDemoCheckout("no such checkout")
    return top_up


async def pay(rt: Runtime, reference: str) -> tuple[TopUp, Outcome]:
    top_up = await checkout(rt, reference)
    assert top_up.reference is not None
    body, signature = _processor(rt).notification(
        top_up.reference, top_up.amount_minor, top_up.currency
    )
    outcome = await notifications.receive(rt, "demo", {SIGNATURE_HEADER: signature}, body)
    return await TopUp.get(id=top_up.id), outcome


def _processor(rt: Runtime) -> DemoProcessor:
    processor = registry.configured(rt.settings).get("demo")
    if not isinstance(processor, DemoProcessor):
        raise NoDemoCheckout("the demo processor is off (DEMO_PAYMENTS)")
    return processor
