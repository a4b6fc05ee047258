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
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from graphql import FieldNode, GraphQLError, OperationDefinitionNode, OperationType, parse
from strawberry.types import ExecutionResult

PUBLIC_ROOT_FIELDS = frozenset({"prices", "countries", "services", "__typename"})


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


Key = tuple[str, str, str | None]


class Entry:
    """One cached answer: the result, and its JSON body once it has been encoded."""

    __slots__ = ("body", "result", "version")

    def __init__(self, version: object, result: ExecutionResult) -> None:
        self.version = version
        self.result = result
        self.body: str | bytes | None = None


class CatalogResponseCache:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Key, Entry] = OrderedDict()
        self._by_result: dict[int, Entry] = {}  # id(result) -> entry, to reuse the encoded body

    @staticmethod
    def key(
        query: str | None, variables: dict[str, Any] | None, operation_name: str | None
    ) -> Key | None:
        # The request is not validated yet: a query or operation name of another JSON type is
        # strawberry's to refuse, never a key here (the check below is cached by its arguments).
        if not isinstance(query, str) or not isinstance(operation_name, str | None):
            return None
        if not query or not is_public_catalog_query(query, operation_name):
            return None
        try:
            encoded = json.dumps(variables or {}, sort_keys=True)
        except (TypeError, ValueError):
            return None
        return query, encoded, operation_name

    def get(self, key: Key, version: object) -> ExecutionResult | None:
        entry = self._entries.get(key)
        if entry is None or entry.version is not version:
            return None
        self._entries.move_to_end(key)
        return entry.result

    def entry_of(self, result: object) -> Entry | None:
        """The entry a result came from (so that its encoded body can be served again)."""
        entry = self._by_result.get(id(result))
        return entry if entry is not None and entry.result is result else None

    def put(self, key: Key, version: object, result: ExecutionResult) -> None:
        if result.errors:
            return  # only clean results; errors are cheap to recompute and may be transient
        self._discard(self._entries.pop(key, None))
        entry = self._entries[key] = Entry(version, result)
        self._by_result[id(result)] = entry
        while len(self._entries) > self.max_entries:
            self._discard(self._entries.popitem(last=False)[1])

    def _discard(self, entry: Entry | None) -> None:
        if entry is not None:
            self._by_result.pop(id(entry.result), None)


class PreEncoded(dict[str, Any]):
    """A processed result whose JSON body the cache keeps: encoded once, then reused."""

    def __init__(self, data: Mapping[str, object], entry: Entry) -> None:
        super().__init__(data)
        self.entry = entry
