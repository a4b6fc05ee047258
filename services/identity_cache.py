"""A short-lived, bounded, per-process cache of who a bearer secret belongs to.

Authenticating is the first thing nearly every request does; reading the credential and its
user each time would be most of a small query's cost. A cached identity lives at most
AUTH_CACHE_SECONDS and is dropped at once when a credential is revoked in this process, and on
the revocation wake-up that every other process receives over the event bus (a revocation is
therefore effective everywhere at once, or within AUTH_CACHE_SECONDS if the bus is down).
Only identity is cached (user id, email, role, credential): anything that may change, like the
email verification or the balance, is always read from the database.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


class IdentityCache(Generic[V]):
    def __init__(self, *, ttl_seconds: float, max_entries: int) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def get(self, key: str) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: str, value: V) -> None:
        if self.ttl_seconds <= 0:
            return
        self._entries[key] = (time.monotonic() + self.ttl_seconds, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)  # the oldest entry goes first

    def clear(self) -> None:
        self._entries.clear()
