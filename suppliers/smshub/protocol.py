"""The SMSHub agent protocol's messages (contract/suppliers.md, section 1), as data.

Requests are built here; answers are parsed here, strictly: whatever an agent sends back (HTML
from a proxy, a truncated body, a string where a number belongs, a `true` where a count
belongs) becomes a `Failure` with its `FailureKind`, never an exception. The protocol's numbers
(`number`, `activationId`, `phone`, `smsId`, counts) are JSON integers and nothing else: a
float, a numeric string or a boolean is refused, as SMSHub's own acceptance tests refuse them.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any, TypeVar

from services import money

T = TypeVar("T")
MAX_ID = 2**63 - 1  # ids are stored in BIGINT columns
MAX_NAME_LENGTH = 40  # country, operator and service names
MAX_SENDER_LENGTH = 100
MAX_TEXT_LENGTH = 2000
PHONE_DIGITS = range(7, 16)  # E.164 without "+": country code included


class Action(StrEnum):
    GET_SERVICES = "GET_SERVICES"
    GET_NUMBER = "GET_NUMBER"
    FINISH_ACTIVATION = "FINISH_ACTIVATION"
    PUSH_SMS = "PUSH_SMS"


class FinishStatus(IntEnum):
    """FINISH_ACTIVATION `status`: how an activation ended, as the agent is told."""

    NEVER_AGAIN = 1  # do not offer this number for this service again
    SOLD = 3  # the agent is paid
    CANCELLED = 4  # the number may be offered again
    REFUNDED = 5


class FailureKind(StrEnum):
    TIMEOUT = "timeout"  # no whole answer within the call's deadline
    UNREACHABLE = "unreachable"  # no connection, or it broke
    HTTP_STATUS = "http_status"  # an HTTP status other than 200
    TOO_LARGE = "too_large"  # an answer above the size bound
    NOT_JSON = "not_json"  # HTML, plain text, a truncated or empty body
    BAD_SHAPE = "bad_shape"  # JSON, but a field is missing or of the wrong type
    REFUSED = "refused"  # `{"status":"ERROR"}`, or a status this call does not expect
    EXCLUDED_NUMBER = "excluded_number"  # GET_NUMBER gave a number under exceptionPhoneSet


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    detail: str
    # GET_NUMBER only: the agent's activation behind an EXCLUDED_NUMBER, for the caller to
    # release (FINISH_ACTIVATION 4) since it will not be used.
    activation_id: int | None = None


@dataclass(frozen=True)
class Stock:
    """One line of GET_SERVICES: SIMs usable right now for a service, in SMSHub's names."""

    country: str
    operator: str
    service: str
    count: int


@dataclass(frozen=True)
class Services:
    stock: tuple[Stock, ...]


@dataclass(frozen=True)
class Number:
    number: int  # country code included, no "+"
    activation_id: int  # the agent's

    @property
    def e164(self) -> str:
        return f"+{self.number}"


@dataclass(frozen=True)
class NoNumbers:
    pass


@dataclass(frozen=True)
class Acknowledged:
    pass


@dataclass(frozen=True)
class NumberOrder:
    """What GET_NUMBER asks for. `sum_minor` is what the hub pays, in `currency`'s minor units."""

    country: str
    operator: str
    service: str
    sum_minor: int
    currency: str  # ISO 4217 alphabetic: converted to its numeric code on the wire
    excluded_prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PushedSms:
    sms_id: int
    phone: int
    sender: str | None
    text: str

    @property
    def e164(self) -> str:
        return f"+{self.phone}"


class _Invalid(ValueError):
    """Internal: raised by the field readers, turned into a Failure before leaving this module."""


# -- requests -----------------------------------------------------------------------------------
def get_services(key: str) -> dict[str, Any]:
    return {"action": Action.GET_SERVICES.value, "key": key}


def get_number(key: str, order: NumberOrder) -> dict[str, Any]:
    assert order.sum_minor >= 0, "an agent is never charged"
    assert money.currency_number(order.currency), f"no ISO 4217 number for {order.currency}"
    assert all(p.isascii() and p.isdigit() for p in order.excluded_prefixes), "digit prefixes"
    return {
        "action": Action.GET_NUMBER.value,
        "key": key,
        "country": order.country,
        "operator": order.operator,
        "service": order.service,
        # The protocol's only float: a sum with two decimals (minor units stay integers here).
        "sum": round(order.sum_minor / 100, 2),
        "currency": money.currency_number(order.currency),
        "exceptionPhoneSet": list(order.excluded_prefixes),
    }


def finish_activation(key: str, activation_id: int, status: FinishStatus) -> dict[str, Any]:
    return {
        "action": Action.FINISH_ACTIVATION.value,
        "key": key,
        "activationId": activation_id,
        "status": int(status),
    }


# -- answers ------------------------------------------------------------------------------------
def parse_services(body: bytes, *, max_lines: int) -> Services | Failure:
    def read(data: dict[str, Any]) -> Services:
        countries = _field(data, "countryList", list)
        stock: list[Stock] = []
        for entry in countries:
            if not isinstance(entry, dict):
                raise _Invalid("'countryList' holds a non-object")
            country = _name(entry, "country")
            for operator, services in _field(entry, "operatorMap", dict).items():
                if not isinstance(services, dict):
                    raise _Invalid(f"operator {operator!r} does not map services to counts")
                for service, count in services.items():
                    stock.append(Stock(country, _short(operator), _short(service), _count(count)))
                    if len(stock) > max_lines:
                        raise _Invalid(f"more than {max_lines} stock lines")
        return Services(tuple(stock))

    return _answer(body, read)


def parse_number(
    body: bytes, excluded_prefixes: Sequence[str] = ()
) -> Number | NoNumbers | Failure:
    def read(data: dict[str, Any]) -> Number | NoNumbers:
        if data.get("status") == "NO_NUMBERS":
            return NoNumbers()
        return Number(_phone(data, "number"), _id(data, "activationId"))

    found = _answer(body, read, also=("NO_NUMBERS",))
    if isinstance(found, Number) and str(found.number).startswith(tuple(excluded_prefixes)):
        return Failure(
            FailureKind.EXCLUDED_NUMBER,
            f"{found.number} starts with a prefix of exceptionPhoneSet",
            activation_id=found.activation_id,
        )
    return found


def parse_acknowledgement(body: bytes) -> Acknowledged | Failure:
    return _answer(body, lambda data: Acknowledged())


def parse_push(data: dict[str, Any]) -> PushedSms | Failure:
    """PUSH_SMS's fields (after its action and key were checked by the caller)."""
    try:
        sender = data.get("phoneFrom")
        if sender is not None and not (
            isinstance(sender, str) and len(sender) <= MAX_SENDER_LENGTH
        ):
            raise _Invalid(
                f"'phoneFrom' must be a string of at most {MAX_SENDER_LENGTH} characters"
            )
        text = _field(data, "text", str)
        if len(text) > MAX_TEXT_LENGTH:
            raise _Invalid(f"'text' is longer than {MAX_TEXT_LENGTH} characters")
        return PushedSms(_id(data, "smsId"), _phone(data, "phone"), sender or None, text)
    except _Invalid as bad:
        return Failure(FailureKind.BAD_SHAPE, str(bad))


def gunzip(body: bytes, limit: int) -> bytes | None:
    """A gzip body decoded, or None if it is not gzip or decodes to more than `limit` bytes
    (read at most `limit + 1` bytes: a small compressed body cannot grow without bound)."""
    inflate = zlib.decompressobj(wbits=31)  # 31: gzip framing
    try:
        decoded = inflate.decompress(body, limit + 1)
    except zlib.error:
        return None
    if len(decoded) > limit or not inflate.eof:
        return None
    return decoded


def decode(body: bytes) -> dict[str, Any] | Failure:
    """A JSON object, or NOT_JSON: HTML, text, NaN, an array, an empty or truncated body."""
    try:
        data = json.loads(body, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return Failure(FailureKind.NOT_JSON, f"not JSON: {_preview(body)}")
    if not isinstance(data, dict):
        return Failure(FailureKind.NOT_JSON, f"not a JSON object: {_preview(body)}")
    return data


def _answer(
    body: bytes, read: Callable[[dict[str, Any]], T], also: tuple[str, ...] = ()
) -> T | Failure:
    data = decode(body)
    if isinstance(data, Failure):
        return data
    status = data.get("status")
    if status == "ERROR":
        error = data.get("error")
        return Failure(FailureKind.REFUSED, str(error)[:200] if error else "ERROR")
    if status != "SUCCESS" and status not in also:
        return Failure(FailureKind.REFUSED, f"unexpected status {str(status)[:50]!r}")
    try:
        return read(data)
    except _Invalid as bad:
        return Failure(FailureKind.BAD_SHAPE, str(bad))


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _preview(body: bytes) -> str:
    return repr(body[:80].decode("utf-8", "replace"))


def _field(data: dict[str, Any], name: str, kind: type) -> Any:
    value = data.get(name)
    if not isinstance(value, kind):
        raise _Invalid(f"'{name}' must be a JSON {kind.__name__}, got {type(value).__name__}")
    return value


def _integer(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if type(value) is not int:  # bool is an int subclass; a float or "123" is not a number here
        raise _Invalid(f"'{name}' must be a JSON integer, got {value!r:.40}")
    return value


def _id(data: dict[str, Any], name: str) -> int:
    value = _integer(data, name)
    if not 0 < value <= MAX_ID:
        raise _Invalid(f"'{name}' must be a positive 64-bit integer")
    return value


def _phone(data: dict[str, Any], name: str) -> int:
    value = _integer(data, name)
    if value <= 0 or len(str(value)) not in PHONE_DIGITS:
        raise _Invalid(f"'{name}' must be a phone number with its country code (7-15 digits)")
    return value


def _count(value: object) -> int:
    if type(value) is not int or not 0 <= value <= MAX_ID:
        raise _Invalid(f"a count must be a non-negative JSON integer, got {value!r:.40}")
    return value


def _short(value: str) -> str:
    if not value or len(value) > MAX_NAME_LENGTH:
        raise _Invalid(f"a name must have 1 to {MAX_NAME_LENGTH} characters")
    return value


def _name(data: dict[str, Any], name: str) -> str:
    return _short(_field(data, name, str))
