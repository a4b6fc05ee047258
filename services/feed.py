"""Reading the event log for live feeds: what happened after a cursor, for one user."""

from __future__ import annotations

from typing import cast

from tortoise.queryset import QuerySet

from models import ActivationEvent, EventKind


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
    newest = _scope(user_id, activation_id).order_by("-id").first().values_list("id", flat=True)
    # tortoise types this as a tuple; with flat=True after first() it is the bare id, or None.
    row = cast("int | None", await newest)
    return int(row) if row else 0


async def sms_before(activation_id: int, user_id: int, until_id: int) -> list[ActivationEvent]:
    """The SMS an activation received up to `until_id`: the replay of a fresh subscription."""
    return await (
        _scope(user_id, activation_id)
        .filter(kind=EventKind.SMS_RECEIVED, id__lte=until_id)
        .order_by("id")
        .select_related("activation__number", "sms")
    )
