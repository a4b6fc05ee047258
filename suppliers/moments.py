"""When a supplier says it received an SMS: an ISO-8601 date-time with its offset, as UTC."""

from __future__ import annotations

from datetime import UTC, datetime


class BadMoment(ValueError):
    pass


def utc_moment(raw: object, name: str = "receivedAt") -> datetime:
    """A time without an offset is refused: the sender's zone is unknown to us, and hours of
    error would break R4's windows (services/sms.py judges the date itself)."""
    if not isinstance(raw, str) or len(raw) > 40:
        raise BadMoment(f"'{name}' must be an ISO-8601 date-time")
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadMoment(f"'{name}' must be an ISO-8601 date-time") from None
    if value.tzinfo is None:
        raise BadMoment(f"'{name}' needs a time zone offset")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # year 1 east of Greenwich, 9999 west of it: no date in UTC
        raise BadMoment(f"'{name}' is out of range") from None
