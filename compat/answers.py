"""How the compatible API prints things: exactly what the published clients parse.

- amounts with two decimals, in text (`ACCESS_BALANCE:100.00`) and JSON (`"cost":0.48`, `1.00`);
- phone numbers as digits with the country code, no `+`;
- times as `YYYY-MM-DD HH:MM:SS` in UTC;
- JSON compact and ASCII-only, as PHP's json_encode writes it (any client decodes it whatever
  charset it assumes).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from starlette.responses import PlainTextResponse, Response

from services import money

JsonValue = None | bool | int | str | Decimal | list["JsonValue"] | dict[str, "JsonValue"]
Answer = str | dict[str, JsonValue]  # a plain-text token, or a JSON object


def amount(minor: int) -> Decimal:
    return money.to_decimal(minor)


def phone(e164: str) -> str:
    return e164.lstrip("+")


def moment(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S}"


def dumps(value: JsonValue) -> str:
    """Compact ASCII JSON in which a Decimal is a number with exactly two decimals."""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value)


def render(answer: Answer) -> Response:
    """Always HTTP 200: the clients read the body, and several raise on any other status."""
    if isinstance(answer, str):
        return PlainTextResponse(answer)
    return Response(dumps(answer), media_type="application/json")
