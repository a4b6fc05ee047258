"""Hot reads written out as SQL once per shape, their rows made into tortoise's models.

tortoise's query builder spends more CPU building a joined SELECT than the database spends
answering it: the feed's read of each event (docs/adr/0017), and authenticating a socket and
opening its subscription (issue 11: 45 % of the server's CPU in a connect storm). A joined read
selects every column of each model under an alias, in a fixed order (`select_list`), and
`objects` turns a row back into the models tortoise would have made (`_init_from_db`), so the
code that reads them is unchanged. `table` names a model's table for any written statement.

A model's columns are known only once tortoise has initialised the models (its foreign keys'
`*_id` columns are added then): statements are built on first use, never at import, and
`columns` refuses to run earlier rather than cache a short list.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from tortoise.models import Model

# The models of a read by alias, in the order their columns are selected.
Tables = dict[str, type[Model]]


@functools.cache
def columns(model: type[Model]) -> tuple[str, ...]:
    """The model's columns, in the order `select_list` selects and `objects` reads them."""
    if not model._meta._inited:
        raise RuntimeError(f"the columns of {model.__name__} are read before tortoise's init")
    return tuple(sorted(model._meta.db_fields))


def select_list(tables: Tables) -> str:
    """Every column of each model under its alias: `e."id", e."kind", ..., a."id", ...`."""
    return ", ".join(
        f'{alias}."{column}"' for alias, model in tables.items() for column in columns(model)
    )


def table(model: type[Model]) -> str:
    """The model's table, quoted (`user` is a reserved word in PostgreSQL)."""
    return f'"{model._meta.db_table}"'


def objects(tables: Tables, row: Sequence[Any]) -> dict[str, Model | None]:
    """The models of one row by alias; None for an alias whose id is NULL (an outer join)."""
    values = iter(row)
    found: dict[str, Model | None] = {}
    for alias, model in tables.items():
        fields = {column: next(values) for column in columns(model)}
        found[alias] = model._init_from_db(**fields) if fields["id"] is not None else None
    return found


def attach(parent: Model, attribute: str, child: Model | None) -> None:
    """Sets a related object where tortoise keeps one it has fetched (as select_related)."""
    object.__setattr__(parent, f"_{attribute}", child)
