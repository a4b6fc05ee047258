"""A response cache for public catalog queries (`prices`, `countries`, `services`).

Bots poll the price list; executing 200 offers through GraphQL each time costs ~100x what
serving a stored result does. A query is cacheable when its operation selects nothing but those
public root fields (no viewer data, no mutation): its result then depends only on the query
text, the variables and the catalog snapshot (services/catalog.py), so it is kept until the
snapshot is rebuilt. Bounded in entries (LRU); the first request of a text is executed,
validated and limited like any other.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from functools import lru_cache
from typing import Any

from graphql import FieldNode, GraphQLError, OperationDefinitionNode, OperationType, parse
from strawberry.types import ExecutionResult

PUBLIC_ROOT_FIELDS = frozenset({"prices", "countries", "services", "__typename"})
MAX_ENTRIES = 256


@lru_cache(maxsize=512)
def is_public_catalog_query(query: str, operation_name: str | None) -> bool:
    try:
        document = parse(query, max_tokens=2000)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation != OperationType.QUERY:
        return False
    selections = operations[0].selection_set.selections
    return all(
        isinstance(s, FieldNode) and s.name.value in PUBLIC_ROOT_FIELDS and not s.directives
        for s in selections
    )


class CatalogResponseCache:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str, str | None], tuple[object, ExecutionResult]] = (
            OrderedDict()
        )

    @staticmethod
    def key(
        query: str | None, variables: dict[str, Any] | None, operation_name: str | None
    ) -> tuple[str, str, str | None] | None:
        if not query or not is_public_catalog_query(query, operation_name):
            return None
        try:
            encoded = json.dumps(variables or {}, sort_keys=True)
        except (TypeError, ValueError):
            return None
        return query, encoded, operation_name

    def get(self, key: tuple[str, str, str | None], version: object) -> ExecutionResult | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] is not version:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(
        self, key: tuple[str, str, str | None], version: object, result: ExecutionResult
    ) -> None:
        if result.errors:
            return  # only clean results; errors are cheap to recompute and may be transient
        self._entries[key] = (version, result)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
