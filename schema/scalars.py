"""Strict `DateTime` and `Decimal` scalars, as the contract describes them.

strawberry's built-ins are lenient where money and deadlines need strictness: its Decimal takes
"NaN", "1e999999" and JSON floats and may answer "1E+2"; its DateTime takes a date-time with no
offset. These accept a plain decimal string and an ISO-8601 date-time with an offset, and refuse
anything else with a clear message, before a resolver runs.
"""

from __future__ import annotations

import datetime as dt
import decimal

import strawberry
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.types.scalar import ScalarDefinition

from services import money


def parse_decimal(value: object) -> decimal.Decimal:
    # ASCII digits and nothing around them; an amount's two decimals are checked where it is
    # used (services/money.py), so that its error names the argument.
    if not isinstance(value, str) or not money.DECIMAL_TEXT.fullmatch(value):
        raise StrawberryInputCoercionError(
            f'Decimal must be a string such as "12.50", not {str(value)[:40]!r}'
        )
    return decimal.Decimal(value)


def serialize_decimal(value: decimal.Decimal) -> str:
    if not value.is_finite():
        raise ValueError("a non-finite Decimal cannot be sent")
    return format(value, "f")  # never scientific notation


def parse_datetime(value: object) -> dt.datetime:
    parsed = None
    if isinstance(value, str) and "T" in value and len(value) <= 40:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise StrawberryInputCoercionError(
            f"DateTime must be ISO-8601 with an offset, not {str(value)[:40]!r}"
        )
    return parsed


def serialize_datetime(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("a naive datetime cannot be sent")
    return value.isoformat()


SCALARS: dict[object, ScalarDefinition] = {  # StrawberryConfig.scalar_map's type
    dt.datetime: strawberry.scalar(
        name="DateTime",
        description="ISO-8601 date-time with an offset, e.g. 2026-11-22T10:15:00+00:00",
        serialize=serialize_datetime,
        parse_value=parse_datetime,
    ),
    decimal.Decimal: strawberry.scalar(
        name="Decimal",
        description='A decimal number sent as a string, e.g. "12.50"',
        serialize=serialize_decimal,
        parse_value=parse_decimal,
    ),
}
