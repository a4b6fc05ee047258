"""Callbacks that run after a service's transaction has committed.

Suppliers learn about activations here (after a purchase, when another SMS is asked for: the
demo supplier's auto-SMS), and the app learns about revoked credentials (to close their
websockets); the services never import a supplier or the web layer. Each runtime has its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import structlog

from models import Activation
from services.db import log_failure

log = structlog.get_logger("hooks")
T = TypeVar("T")
Hook = Callable[[T], Awaitable[None]]


@dataclass(eq=False)
class Hooks:
    after_purchase: list[Hook[Activation]] = field(default_factory=list)
    after_another_sms_requested: list[Hook[Activation]] = field(default_factory=list)
    after_credential_revoked: list[Hook[int]] = field(default_factory=list)


async def run(hooks: list[Hook[T]], value: T) -> None:
    for hook in hooks:
        try:
            await hook(value)
        except Exception as error:  # what committed stays committed; a failure is only logged
            log_failure(log, "hook failed", error, hook=getattr(hook, "__name__", repr(hook)))
