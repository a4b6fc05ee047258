"""Reading the event log for live feeds: what happened after a cursor, for one user."""

from __future__ import annotations

from tortoise.queryset import QuerySet

from models import ActivationEvent, EventKind
from services.db import newest_id


def _scope(user_id: int, activation_id: int | None) -> QuerySet[ActivationEvent]:
    query = ActivationEvent.filter(user_id=user_id)
    if activation_id is not None:
        query = query.filter(activation_id=activation_id)
    return query


async def events_after(
    user_id: int, activation_id: int | None, after_id: int, limit: int
) -> list[ActivationEvent]:
    """The user's events after `after_id`, oldest first, with their activation and SMS."""
    return await (
        _scope(user_id, activation_id)
        .filter(id__gt=after_id)
        .order_by("id")
        .limit(limit)
        .select_related("activation__number", "sms")
    )


async def latest_id(user_id: int, activation_id: int | None) -> int:
    return await newest_id(_scope(user_id, activation_id))


async def sms_before(activation_id: int, user_id: int, until_id: int) -> list[ActivationEvent]:
    """The SMS an activation received up to `until_id`: the replay of a fresh subscription."""
    return await (
        _scope(user_id, activation_id)
        .filter(kind=EventKind.SMS_RECEIVED, id__lte=until_id)
        .order_by("id")
        .select_related("activation__number", "sms")
    )
