"""Every refusal of the compatible API is a plain-text token answered with HTTP 200.

A service's refusal (services.errors.ServiceError) maps to one token; the choices are explained
in docs/adr/0003-compat-protocol.md. Refusals of the protocol layer itself (a missing or
malformed parameter) raise `Refused` with their token directly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum

from services import money
from services.errors import (
    AccountBlocked,
    CountryUnavailable,
    EmailNotVerified,
    Forbidden,
    InsufficientBalance,
    InvalidState,
    Maintenance,
    NoNumbers,
    NotFound,
    PriceAboveMax,
    RateLimited,
    ServiceError,
    ServiceUnavailable,
    Unauthenticated,
)


class Token(StrEnum):
    BAD_KEY = "BAD_KEY"
    BAD_ACTION = "BAD_ACTION"
    BAD_SERVICE = "BAD_SERVICE"
    BAD_STATUS = "BAD_STATUS"
    WRONG_COUNTRY_ID = "WRONG_COUNTRY_ID"
    NO_NUMBERS = "NO_NUMBERS"
    NO_BALANCE = "NO_BALANCE"
    NO_ACTIVATION = "NO_ACTIVATION"
    NO_ACTIVATIONS = "NO_ACTIVATIONS"
    ACCOUNT_INACTIVE = "ACCOUNT_INACTIVE"  # R12: buying needs a verified email
    NO_CONNECTION = "NO_CONNECTION"  # R14: maintenance, try again later
    # sms-activate's answer to a bad parameter value and to its own internal errors alike.
    ERROR_SQL = "ERROR_SQL"


# A blocked account (R14) has no end date; the protocol's BANNED needs one.
BLOCKED_FOREVER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)

_TOKENS: tuple[tuple[type[ServiceError], Token], ...] = (
    (NotFound, Token.NO_ACTIVATION),  # someone else's activation reads as a missing one
    (InvalidState, Token.BAD_STATUS),  # e.g. cancel after the code (R4)
    (InsufficientBalance, Token.NO_BALANCE),  # R1
    (NoNumbers, Token.NO_NUMBERS),
    (CountryUnavailable, Token.WRONG_COUNTRY_ID),  # R11
    (ServiceUnavailable, Token.BAD_SERVICE),  # R9
    (EmailNotVerified, Token.ACCOUNT_INACTIVE),  # R12
    (Unauthenticated, Token.BAD_KEY),
    (Forbidden, Token.BAD_KEY),
    (Maintenance, Token.NO_CONNECTION),  # R14
)


class Refused(Exception):
    """A refusal answered with `token` (and nothing changed)."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def wrong_max_price(price_minor: int) -> str:
    return f"WRONG_MAX_PRICE:{money.format_minor(price_minor)}"


def banned(until: datetime) -> str:
    """`BANNED:YYYY-MM-DD HH:MM:SS` in UTC, rounded up: retrying at that second succeeds."""
    until = until.astimezone(UTC)
    if until.microsecond:
        until = until.replace(microsecond=0) + timedelta(seconds=1)
    return f"BANNED:{until:%Y-%m-%d %H:%M:%S}"


def token_for(error: ServiceError) -> str:
    """The protocol's token for a service's refusal; ERROR_SQL for one it has no word for."""
    if isinstance(error, PriceAboveMax):
        return wrong_max_price(error.price_minor)
    if isinstance(error, RateLimited):  # R5 cool-down, or this key's requests per second
        return banned(error.until or BLOCKED_FOREVER)
    if isinstance(error, AccountBlocked):  # R14
        return banned(BLOCKED_FOREVER)
    for kind, token in _TOKENS:
        if isinstance(error, kind):
            return token
    return Token.ERROR_SQL
