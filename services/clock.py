"""The one source of "now" for business rules: a clock per runtime, so that tests can move one
app's time (R4 deadlines) without touching another's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> None:
        """Moves this clock forward. For tests only: deadlines are computed from `now()`."""
        self._offset += timedelta(seconds=seconds)

    def reset(self) -> None:
        self._offset = timedelta(0)
