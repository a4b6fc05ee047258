"""Which bus the app uses, how channels are named, and publishing the services' notices."""

from __future__ import annotations

import json
from collections.abc import Sequence

from services.events import Notice
from subscriptions import sockets
from subscriptions.bus import EventBus

_bus: EventBus | None = None


def install(bus: EventBus | None) -> None:
    global _bus
    _bus = bus


def bus() -> EventBus:
    assert _bus is not None, "the event bus is not connected (app lifespan not started)"
    return _bus


def user_channel(user_id: int) -> str:
    return f"user:{user_id}"


async def publish(notices: Sequence[Notice]) -> None:
    """The services' publisher: one wake-up per user concerned, after the commit."""
    by_user: dict[int, list[int]] = {}
    for notice in notices:
        by_user.setdefault(notice.user_id, []).append(notice.event_id)
    for user_id, event_ids in by_user.items():
        await bus().publish(user_channel(user_id), json.dumps({"events": event_ids}))


async def publish_revocation(credential_id: int) -> None:
    """Wakes every process's socket watcher (subscriptions/sockets.py) to close revoked sockets."""
    await bus().publish(sockets.CHANNEL, str(credential_id))
