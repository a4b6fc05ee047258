"""Errors the services raise when a rule refuses an operation.

    ServiceError                   every refusal; carries an ErrorCode of the public contract
    ├── InvalidInput               INVALID_INPUT: malformed or out-of-range arguments
    ├── NotFound                   NOT_FOUND: absent, or someone else's (indistinguishable)
    ├── InvalidState               INVALID_STATE: the object's state does not allow it (R4)
    ├── InsufficientBalance        INSUFFICIENT_BALANCE (R1)
    └── ... one code per rule, see ErrorCode

The GraphQL layer turns a ServiceError into a `UserError` in the payload's `errors`, the
compatible API into its protocol token. Anything that is not a ServiceError is a bug.
frontend-contract/README.md documents each code once, with the rule behind it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_INPUT = "INVALID_INPUT"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    INVALID_TOKEN = "INVALID_TOKEN"  # noqa: S105 (an error code, not a secret)
    EMAIL_NOT_VERIFIED = "EMAIL_NOT_VERIFIED"
    ACCOUNT_BLOCKED = "ACCOUNT_BLOCKED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    INVALID_STATE = "INVALID_STATE"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    NO_NUMBERS = "NO_NUMBERS"
    PRICE_ABOVE_MAX = "PRICE_ABOVE_MAX"
    COUNTRY_UNAVAILABLE = "COUNTRY_UNAVAILABLE"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    MAINTENANCE = "MAINTENANCE"
    BUSY = "BUSY"  # a lock was not granted in time: retry (services/locks.py)
    PAYMENT_PROVIDER_UNAVAILABLE = "PAYMENT_PROVIDER_UNAVAILABLE"
    AMOUNT_OUT_OF_RANGE = "AMOUNT_OUT_OF_RANGE"


class ServiceError(Exception):
    code: ErrorCode = ErrorCode.INVALID_INPUT

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _error(name: str, code: ErrorCode) -> type[ServiceError]:
    return type(name, (ServiceError,), {"code": code, "__module__": __name__})


InvalidInput = _error("InvalidInput", ErrorCode.INVALID_INPUT)
EmailTaken = _error("EmailTaken", ErrorCode.EMAIL_TAKEN)
InvalidCredentials = _error("InvalidCredentials", ErrorCode.INVALID_CREDENTIALS)
InvalidToken = _error("InvalidToken", ErrorCode.INVALID_TOKEN)
EmailNotVerified = _error("EmailNotVerified", ErrorCode.EMAIL_NOT_VERIFIED)
Unauthenticated = _error("Unauthenticated", ErrorCode.UNAUTHENTICATED)
Forbidden = _error("Forbidden", ErrorCode.FORBIDDEN)
NotFound = _error("NotFound", ErrorCode.NOT_FOUND)
InvalidState = _error("InvalidState", ErrorCode.INVALID_STATE)
InsufficientBalance = _error("InsufficientBalance", ErrorCode.INSUFFICIENT_BALANCE)
NoNumbers = _error("NoNumbers", ErrorCode.NO_NUMBERS)
CountryUnavailable = _error("CountryUnavailable", ErrorCode.COUNTRY_UNAVAILABLE)
ServiceUnavailable = _error("ServiceUnavailable", ErrorCode.SERVICE_UNAVAILABLE)
IdempotencyConflict = _error("IdempotencyConflict", ErrorCode.IDEMPOTENCY_CONFLICT)
Maintenance = _error("Maintenance", ErrorCode.MAINTENANCE)
PaymentProviderUnavailable = _error(
    "PaymentProviderUnavailable", ErrorCode.PAYMENT_PROVIDER_UNAVAILABLE
)
AmountOutOfRange = _error("AmountOutOfRange", ErrorCode.AMOUNT_OUT_OF_RANGE)


class AccountBlocked(ServiceError):
    code = ErrorCode.ACCOUNT_BLOCKED


class RateLimited(ServiceError):
    """Too many attempts; `until` says when the next one may succeed (compat: BANNED:<until>)."""

    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, until: datetime | None = None) -> None:
        super().__init__(message)
        self.until = until


class PriceAboveMax(ServiceError):
    """The offer costs more than the buyer's maxPrice; `price_minor` is the current price."""

    code = ErrorCode.PRICE_ABOVE_MAX

    def __init__(self, message: str, *, price_minor: int) -> None:
        super().__init__(message, field="maxPrice")
        self.price_minor = price_minor


class Busy(ServiceError):
    """A lock was not granted within LOCK_TIMEOUT_MS (nothing changed), or the database
    connection was lost (services/db.py `unavailable`: a write whose commit was under way may
    have happened); a retry may succeed, with the same idempotency key."""

    code = ErrorCode.BUSY
