"""Reading the event log for live feeds: what happened after a cursor, for one user.

Every live event is read here once per subscriber it reaches, so the read is one SQL statement
written out once per shape (docs/adr/0017): tortoise's query builder spent more CPU building
the same joined SELECT each time than the database spent answering it. The rows become the
same model objects tortoise would have made (`_init_from_db`), with their activation, number
and SMS attached, so what reads them (subscriptions/resolvers.py) is unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from tortoise import connections

from models import Activation, ActivationEvent, EventKind, PhoneNumber, Sms
from services import joined
from services.db import fetch_value, is_postgres

# The joined tables by alias, and where each related object is attached: (alias, the alias of
# the object it hangs on, the attribute it is).
_TABLES: joined.Tables = {
    "e": ActivationEvent,
    "a": Activation,
    "n": PhoneNumber,
    "s": Sms,
}
_ATTACHED = (("a", "e", "activation"), ("n", "a", "number"), ("s", "e", "sms"))


@functools.cache
def _statement(postgres: bool, one_activation: bool, replaying: bool) -> str:
    """The SELECT for one shape of read; parameters in order: user, [activation], after,
    [SMS kind, replay end], limit. Built from the models' own names; every value is a
    parameter."""
    params = iter(range(1, 7))

    def param() -> str:
        return f"${next(params)}" if postgres else "?"

    where = [f"e.user_id = {param()}"]
    if one_activation:
        where.append(f"e.activation_id = {param()}")
    where.append(f"e.id > {param()}")
    if replaying:
        where.append(f"(e.kind = {param()} OR e.id > {param()})")
    tables = {alias: joined.table(model) for alias, model in _TABLES.items()}
    return " ".join(
        [
            "SELECT",
            joined.select_list(_TABLES),
            f"FROM {tables['e']} e",
            f"JOIN {tables['a']} a ON a.id = e.activation_id",
            f"JOIN {tables['n']} n ON n.id = a.number_id",
            f"LEFT JOIN {tables['s']} s ON s.id = e.sms_id",
            f"WHERE {' AND '.join(where)} ORDER BY e.id LIMIT {param()}",
        ]
    )


def _objects(row: Sequence[Any]) -> ActivationEvent:
    """The event of one row, with its activation, number and SMS (None without one)."""
    found = joined.objects(_TABLES, row)
    for alias, parent, attribute in _ATTACHED:
        holder = found[parent]
        assert holder is not None  # the event and its activation are inner-joined
        joined.attach(holder, attribute, found[alias])
    event = found["e"]
    assert isinstance(event, ActivationEvent)
    return event


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
    replaying = replay_until is not None and after_id < replay_until
    values: list[Any] = [user_id]
    if activation_id is not None:
        values.append(activation_id)
    values.append(after_id)
    if replaying:
        values += [EventKind.SMS_RECEIVED.value, replay_until]
    values.append(limit)
    sql = _statement(is_postgres(), activation_id is not None, replaying)
    _, rows = await connections.get("default").execute_query(sql, values)
    return [_objects(row) for row in rows]


_EVENTS = joined.table(ActivationEvent)
_LATEST = f"SELECT id FROM {_EVENTS} WHERE user_id = $1 ORDER BY id DESC LIMIT 1"  # noqa: S608
_LATEST_OF_ONE = (
    f"SELECT id FROM {_EVENTS} WHERE user_id = $1 AND activation_id = $2 "  # noqa: S608
    "ORDER BY id DESC LIMIT 1"
)


async def latest_id(user_id: int, activation_id: int | None) -> int:
    """The id of the user's (or one activation's) newest event; 0 without one: where a fresh
    subscription starts."""
    if activation_id is None:
        newest = await fetch_value(_LATEST, user_id)
    else:
        newest = await fetch_value(_LATEST_OF_ONE, user_id, activation_id)
    return int(newest or 0)
