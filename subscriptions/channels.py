"""How channels are named, and publishing the services' notices on an app's bus."""

from __future__ import annotations

import json
from collections.abc import Sequence

from services.events import Notice
from subscriptions.bus import EventBus

REVOCATIONS = "credentials"  # wakes every process's socket watcher (subscriptions/sockets.py)
# Wakes the webhook workers of `smsrooms webhook-worker` processes (ADR 0018).
WEBHOOKS = "webhooks"


def user_channel(user_id: int) -> str:
    return f"user:{user_id}"


async def publish(bus: EventBus, notices: Sequence[Notice]) -> None:
    """The services' publisher: one wake-up per user concerned, after the commit."""
    by_user: dict[int, list[int]] = {}
    for notice in notices:
        by_user.setdefault(notice.user_id, []).append(notice.event_id)
    for user_id, event_ids in by_user.items():
        await bus.publish(user_channel(user_id), json.dumps({"events": event_ids}))


async def publish_revocation(bus: EventBus, credential_id: int) -> None:
    await bus.publish(REVOCATIONS, str(credential_id))


async def wake_webhook_workers(bus: EventBus) -> None:
    await bus.publish(WEBHOOKS, "")
