"""The one source of "now" for business rules, so that tests can move time (R4 deadlines)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def now() -> datetime:
    return datetime.now(UTC) + _offset


def advance(seconds: float) -> None:
    """Moves this process's clock forward. For tests only: deadlines are computed from `now()`."""
    global _offset
    _offset += timedelta(seconds=seconds)


def reset() -> None:
    global _offset
    _offset = timedelta(0)
