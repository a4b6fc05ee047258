"""Activation events: written in the transaction that causes them, published after it commits.

The event row is the truth and its id the cursor of the live feed; what goes on the bus is only
a wake-up call carrying that id (DESIGN.md, "Data flow of a code"). The app plugs the event bus
in with `set_publisher`; without one (commands, some tests) publishing does nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog

from models import Activation, ActivationEvent, EventKind
from services.db import Connection

log = structlog.get_logger("events")


@dataclass(frozen=True)
class Notice:
    """What the bus carries: enough to route the wake-up, nothing that must be trusted."""

    event_id: int
    activation_id: int
    user_id: int
    kind: str


Publisher = Callable[[Sequence[Notice]], Awaitable[None]]
_publisher: Publisher | None = None


def set_publisher(publisher: Publisher | None) -> None:
    global _publisher
    _publisher = publisher


async def record(
    conn: Connection, activation: Activation, kind: EventKind, *, sms_id: int | None = None
) -> Notice:
    event = await ActivationEvent.create(
        activation_id=activation.id,
        user_id=activation.user_id,
        kind=kind,
        status=activation.status,
        sms_id=sms_id,
        using_db=conn,
    )
    return Notice(event.id, activation.id, activation.user_id, kind.value)


async def publish(notices: Sequence[Notice]) -> None:
    """Call after the transaction has committed. A failure here loses no event: subscribers
    resync from the database (issue 3), so it is logged, never raised into the request."""
    if not notices or _publisher is None:
        return
    try:
        await _publisher(notices)
    except Exception:  # the bus is a wake-up, not the truth: never fail the request for it
        log.exception("publishing events failed", events=[n.event_id for n in notices])
