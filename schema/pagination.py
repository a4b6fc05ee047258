"""Cursor pagination (Relay-style connections) shared by every list of the API.

A cursor is opaque to clients: base64 of "<kind>:<id>". Pages are ordered newest first by id,
so a cursor is the id of the last row seen and the next page is "id < cursor".
"""

from __future__ import annotations

import base64
import binascii
import re

import strawberry

from services.errors import InvalidInput


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


# Activation ids are 32-bit integers; transfers and events are 64-bit.
MAX_ROW_ID = {"activation": 2**31}
_ROW_ID = re.compile(r"[0-9]{1,19}")


def encode_cursor(kind: str, row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{row_id}".encode()).decode()


def decode_cursor(kind: str, cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        prefix, _, raw = base64.urlsafe_b64decode(cursor.encode()[:100]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput("not a valid cursor", field="after") from None
    # As encode_cursor writes it: int() alone would also take " 12" and "١٢".
    if prefix != kind or not _ROW_ID.fullmatch(raw):
        raise InvalidInput("not a valid cursor", field="after")
    row_id = int(raw)
    if not 0 < row_id < MAX_ROW_ID.get(kind, 2**63):
        raise InvalidInput("not a valid cursor", field="after")
    return row_id
