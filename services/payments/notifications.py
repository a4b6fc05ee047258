"""A processor's notification, from raw bytes to settled money: the one path every processor's
webhook (and the demo checkout's Pay button) goes through.

    bytes + headers -> processor.parse (signature, shape) -> settlement -> wake the user's page
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from services.events import Notice
from services.payments import registry, settlement
from services.payments.processor import ChargebackUpdate, Ignored, PaymentUpdate
from services.runtime import Runtime

log = structlog.get_logger("payments")


class UnknownProvider(Exception):
    """No processor of this name is configured here: 404."""


async def receive(
    rt: Runtime, provider: str, headers: Mapping[str, str], body: bytes
) -> settlement.Outcome:
    """Verifies and applies one notification. Raises BadSignature, BadNotification,
    UnknownPayment, AmountMismatch, TopUpClosed (each a refusal that changed nothing)."""
    processor = registry.configured(rt.settings).get(provider)
    if processor is None:
        raise UnknownProvider(provider)
    update = processor.parse(headers, body)
    if isinstance(update, Ignored):
        return settlement.Outcome("ignored")
    if isinstance(update, PaymentUpdate):
        outcome = await settlement.settle_payment(rt, provider, update)
    else:
        assert isinstance(update, ChargebackUpdate)
        outcome = await settlement.settle_chargeback(rt, provider, update)
    if outcome.status in ("credited", "charged_back"):
        log.info("payment settled", provider=provider, outcome=outcome.status)
        await wake(rt, outcome.user_id)
    return outcome


async def wake(rt: Runtime, user_id: int | None) -> None:
    """After the commit: the user's open pages re-read their balance (`balanceChanges`). The
    bus carries only a wake-up to the user's channel; event id 0 names no activation event."""
    if user_id is not None:
        await rt.publish([Notice(event_id=0, activation_id=0, user_id=user_id, kind="balance")])
