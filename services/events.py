"""Activation events: written in the transaction that causes them, published after it commits.

The event row is the truth and its id the cursor of the live feed; what goes on the bus is only
a wake-up call carrying that id (DESIGN.md, "Data flow of a code"), published after the commit
by `Runtime.publish` through the bus the app plugged in.
"""

from __future__ import annotations

from dataclasses import dataclass

from models import Activation, ActivationEvent, EventKind
from services.db import Connection


@dataclass(frozen=True)
class Notice:
    """What the bus carries: enough to route the wake-up, nothing that must be trusted."""

    event_id: int
    activation_id: int
    user_id: int
    kind: str


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
