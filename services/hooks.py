"""Where suppliers learn about activations: after a purchase, and when another SMS is asked for.

Suppliers register callbacks here at start-up (the demo supplier's auto-SMS does), so that the
services never import a supplier. Callbacks run after the transaction has committed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog

from models import Activation

log = structlog.get_logger("hooks")
Hook = Callable[[Activation], Awaitable[None]]

after_purchase: list[Hook] = []
after_another_sms_requested: list[Hook] = []


async def run(hooks: list[Hook], activation: Activation) -> None:
    for hook in hooks:
        try:
            await hook(activation)
        except Exception:  # a supplier's trouble must not undo or fail the user's purchase
            log.exception("supplier hook failed", activation=activation.id)
