"""Money is an integer number of minor units (cents); decimals exist only at the edges."""

from __future__ import annotations

import re
from decimal import Decimal

from services.errors import InvalidInput

MINOR_PER_MAJOR = 100
_CENT = Decimal("0.01")
# ISO 4217 numeric codes of the shop currencies we expect: the compatible API's getNumberV2
# "currency", and what an SMSHub agent is paid in (GET_NUMBER "currency").
CURRENCY_NUMBERS = {
    "USD": 840,
    "EUR": 978,
    "GBP": 826,
    "RUB": 643,
    "KZT": 398,
    "UAH": 980,
    "INR": 356,
    "IDR": 360,
    "CNY": 156,
    "TRY": 949,
    "BRL": 986,
    "PLN": 985,
}


# A decimal as a user writes it: ASCII digits, an optional minus, an optional fraction, nothing
# around. (`Decimal()` and `\d` also take "１２" and "٣" as 12 and 3, " 12 ", "1_0", "1e2".)
# An amount has at most two decimals: to_minor says so with a message of its own.
DECIMAL_TEXT = re.compile(r"-?[0-9]{1,20}(\.[0-9]{1,20})?")


def to_minor(amount: Decimal | str | int, *, field: str, limit_minor: int) -> int:
    r"""Parses an amount given by a user, `-?[0-9]+(\.[0-9]{1,2})?` as text or as the Decimal
    parsed from such text; refuses more decimals (even "12.500"), NaN and absurd sizes."""
    if isinstance(amount, str) and not DECIMAL_TEXT.fullmatch(amount):
        raise InvalidInput(f'{field} is not a decimal amount such as "12.50"', field=field)
    value = amount if isinstance(amount, Decimal) else Decimal(amount)
    if not value.is_finite():
        raise InvalidInput(f"{field} must be a finite amount", field=field)
    if abs(value) > Decimal(limit_minor) / MINOR_PER_MAJOR:
        raise InvalidInput(f"{field} is out of range", field=field)
    if int(value.as_tuple().exponent) < -2:
        raise InvalidInput(f"{field} has more than two decimals", field=field)
    return int(value * MINOR_PER_MAJOR)


def to_decimal(minor: int) -> Decimal:
    return (Decimal(minor) / MINOR_PER_MAJOR).quantize(_CENT)


def format_minor(minor: int) -> str:
    """`1250` -> `"12.50"`, as both APIs print amounts."""
    return str(to_decimal(minor))


def currency_number(code: str) -> int:
    """The ISO 4217 numeric code; 0 for a currency missing from the table above."""
    return CURRENCY_NUMBERS.get(code.upper(), 0)
