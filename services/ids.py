"""Ids as the APIs send them (strings of digits), turned into integers or refused as unknown."""

from __future__ import annotations

import re

from services.errors import NotFound

_DIGITS = re.compile(r"[0-9]{1,10}", re.ASCII)
MAX_ID = 2**31 - 1  # integer columns


def parse_id(raw: int | str, *, what: str, field: str) -> int:
    """A malformed id is answered like a missing one: NOT_FOUND, so nothing can be probed."""
    text = str(raw).strip()
    if not _DIGITS.fullmatch(text) or not 0 < int(text) <= MAX_ID:
        raise NotFound(f"no such {what}", field=field)
    return int(text)
