"""Reading the event log for live feeds: what happened after a cursor, for one user."""

from __future__ import annotations

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from models import ActivationEvent, EventKind
from services.db import newest_id


def _scope(user_id: int, activation_id: int | None) -> QuerySet[ActivationEvent]:
    query = ActivationEvent.filter(user_id=user_id)
    if activation_id is not None:
        query = query.filter(activation_id=activation_id)
    return query


async def events_after(
    user_id: int,
    activation_id: int | None,
    after_id: int,
    limit: int,
    *,
    replay_until: int | None = None,
) -> list[ActivationEvent]:
    """The user's events after `after_id`, oldest first, with their activation and SMS (one
    query: the event, its activation, number and SMS joined).

    With `replay_until`, of the events up to that id only the SMS: a fresh subscription's replay
    of what its activation already received and the live events after it, in one read."""
    query = _scope(user_id, activation_id).filter(id__gt=after_id)
    if replay_until is not None and after_id < replay_until:
        query = query.filter(Q(kind=EventKind.SMS_RECEIVED) | Q(id__gt=replay_until))
    return await query.order_by("id").limit(limit).select_related("activation__number", "sms")


async def latest_id(user_id: int, activation_id: int | None) -> int:
    return await newest_id(_scope(user_id, activation_id))
