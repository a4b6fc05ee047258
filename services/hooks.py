"""Callbacks that run after a service's transaction has committed.

Suppliers learn about activations here (after a purchase, when another SMS is asked for: the
demo supplier's auto-SMS), and the app learns about revoked credentials (to close their
websockets); the services never import a supplier or the web layer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from models import Activation

log = structlog.get_logger("hooks")
T = TypeVar("T")

after_purchase: list[Callable[[Activation], Awaitable[None]]] = []
after_another_sms_requested: list[Callable[[Activation], Awaitable[None]]] = []
after_credential_revoked: list[Callable[[int], Awaitable[None]]] = []


async def run(hooks: list[Callable[[T], Awaitable[None]]], value: T) -> None:
    for hook in hooks:
        try:
            await hook(value)
        except Exception:  # what committed stays committed; a hook's failure is only logged
            log.exception("hook failed", hook=getattr(hook, "__name__", repr(hook)))
