"""Automatic persisted queries (APQ), as Apollo clients send them (ADR 0015).

A client sends `extensions.persistedQuery = {"version": 1, "sha256Hash": <hex>}` without the
query text, over GET or POST. A hash this process knows stands for its query; an unknown one
is answered `PersistedQueryNotFound` (extensions.code PERSISTED_QUERY_NOT_FOUND, Apollo
Server's words, which Apollo's persisted-queries link looks for), and the client sends the query
again with its hash, which registers it. The registry is a bounded LRU per process
(GRAPHQL_APQ_CACHE_ENTRIES; 0 turns APQ off: PersistedQueryNotSupported, and Apollo's link then
stops hashing). Behind several processes a client may be told "not found" once per process:
that costs one more round trip, never a wrong answer, since a hash is checked against its text
before it is stored. Only texts that parse and validate are stored, so junk cannot evict them.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from graphql import GraphQLError

NOT_FOUND = "PersistedQueryNotFound"
NOT_SUPPORTED = "PersistedQueryNotSupported"
HASH_MISMATCH = "provided sha does not match query"


@dataclass(frozen=True)
class Refusal:
    """What the client is answered instead of executing: the error, and the HTTP status of
    an application/json answer (a GraphQL-over-HTTP client gets 400 for every request error)."""

    error: GraphQLError
    status: int | None  # None: the endpoint's usual status for a request error


def _refusal(message: str, code: str, status: int | None = None) -> Refusal:
    return Refusal(GraphQLError(message, extensions={"code": code}), status)


class PersistedQueries:
    def __init__(self, max_entries: int, valid: Callable[[str], bool]) -> None:
        self.max_entries = max_entries
        self.valid = valid  # whether a text parses and validates (the schema's prepared cache)
        self._queries: OrderedDict[str, str] = OrderedDict()

    def resolve(
        self, query: str | None, extensions: dict[str, object] | None
    ) -> str | Refusal | None:
        """The query text to execute (the request's own when it persists nothing), or the
        refusal to answer with."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            return query
        if not isinstance(persisted, dict):
            return _refusal("`extensions.persistedQuery` must be an object", "INVALID_INPUT", 400)
        if self.max_entries <= 0:
            return _refusal(NOT_SUPPORTED, "PERSISTED_QUERY_NOT_SUPPORTED")
        if persisted.get("version") != 1:
            return _refusal("Unsupported persisted query version", "INVALID_INPUT", 400)
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str):
            return _refusal("`persistedQuery.sha256Hash` must be a string", "INVALID_INPUT", 400)
        digest = digest.lower()
        if query is None:
            known = self._queries.get(digest)
            if known is None:
                return _refusal(NOT_FOUND, "PERSISTED_QUERY_NOT_FOUND")
            self._queries.move_to_end(digest)
            return known
        # JSON can carry a lone surrogate, which UTF-8 cannot encode: hashed as it came, such a
        # text matches no client's hash (a 400 below), where a strict encode was a 500.
        if hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest() != digest:
            return _refusal(HASH_MISMATCH, "INVALID_INPUT", 400)
        if digest not in self._queries and self.valid(query):
            self._queries[digest] = query
            while len(self._queries) > self.max_entries:
                self._queries.popitem(last=False)
        return query
