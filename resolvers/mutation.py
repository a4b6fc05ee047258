"""How every mutation answers a refusal: the service's error becomes a `UserError`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from schema.errors import UserError
from services.errors import ServiceError

P = TypeVar("P")


async def payload(call: Callable[[], Awaitable[P]], refused: Callable[[list[UserError]], P]) -> P:
    """Runs `call`; a ServiceError becomes `refused([UserError])`, anything else is a bug."""
    try:
        return await call()
    except ServiceError as error:
        return refused([UserError.from_service(error)])
