"""The sms-activate protocol's answers, read strictly (contract/compat.md, "Actions").

Upstreams answer plain-text tokens with HTTP 200, errors included, and some wrap them in HTML
error pages when they are down. Every parser here returns a typed value or raises
`UpstreamError`; an answer we do not know is a failure of that upstream, never a success.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

MAX_ANSWER = 1_000_000  # bytes of one answer we are willing to read (getPrices is the largest)
_MINOR_PER_MAJOR = 100
_CODE = re.compile(r"[0-9A-Za-z-]{1,20}")


class UpstreamError(Exception):
    """The upstream refused, failed or answered something we cannot read. `refusal` is its
    protocol token when it sent one (NO_NUMBERS, NO_BALANCE, BAD_KEY, ...)."""

    def __init__(self, message: str, refusal: str | None = None) -> None:
        super().__init__(message)
        self.refusal = refusal

    @property
    def no_numbers(self) -> bool:
        return self.refusal == NO_NUMBERS


@dataclass(frozen=True)
class Offer:
    country_id: int  # the protocol's numeric country id
    service: str
    cost_minor: int  # in the upstream's currency
    count: int


@dataclass(frozen=True)
class Bought:
    activation_id: str
    phone: str  # E.164
    cost_minor: int


class State(StrEnum):
    WAITING = "waiting"  # STATUS_WAIT_CODE, STATUS_WAIT_RESEND
    WAITING_RETRY = "waiting_retry"  # STATUS_WAIT_RETRY:<last code>, after status 3
    CODE = "code"  # STATUS_OK:<code>
    CANCELLED = "cancelled"  # STATUS_CANCEL


@dataclass(frozen=True)
class Status:
    state: State
    code: str | None = None


NO_NUMBERS = "NO_NUMBERS"
WAITING_WORDS = frozenset({"STATUS_WAIT_CODE", "STATUS_WAIT_RESEND"})
CODE_WORDS = {"STATUS_OK": State.CODE, "STATUS_WAIT_RETRY": State.WAITING_RETRY}
CANCELLED_WORD = "STATUS_CANCEL"

# What setStatus answers for each status we send (the protocol's acknowledgements).
SET_STATUS_ACK = {3: "ACCESS_RETRY_GET", 6: "ACCESS_ACTIVATION", 8: "ACCESS_CANCEL"}
KNOWN_REFUSALS = frozenset(
    {
        "NO_NUMBERS",
        "NO_BALANCE",
        "BAD_KEY",
        "BAD_ACTION",
        "BAD_SERVICE",
        "BAD_STATUS",
        "WRONG_COUNTRY_ID",
        "NO_ACTIVATION",
        "WRONG_MAX_PRICE",
        "BANNED",
        "ERROR_SQL",
        "WRONG_SERVICE",
        "WRONG_ACTIVATION_ID",
        "EARLY_CANCEL_DENIED",
    }
)


def text(body: str) -> str:
    """The answer as one token line; an error token is raised as UpstreamError."""
    answer = body.strip()
    if not answer or len(answer) > 10_000 or "<" in answer[:100]:
        raise UpstreamError("the upstream answered something that is not the protocol")
    word = answer.split(":", 1)[0]
    if word in KNOWN_REFUSALS:
        raise UpstreamError(f"the upstream refused: {answer[:100]}", refusal=word)
    return answer


def balance(body: str) -> int:
    answer = text(body)
    prefix = "ACCESS_BALANCE:"
    if not answer.startswith(prefix):
        raise _unknown(answer)
    return _minor(answer.removeprefix(prefix))


def bought(body: str) -> Bought:
    """getNumberV2's JSON answer (or its error token)."""
    data = _json_object(body)
    activation_id, phone = data.get("activationId"), data.get("phoneNumber")
    if isinstance(activation_id, bool) or not isinstance(activation_id, int | str):
        raise UpstreamError("getNumberV2 answered without an activationId")
    if not isinstance(phone, str | int) or not str(phone).lstrip("+").isdigit():
        raise UpstreamError("getNumberV2 answered without a phone number")
    digits = str(phone).lstrip("+")
    if not 7 <= len(digits) <= 15:
        raise UpstreamError("getNumberV2 answered a phone number that is not E.164")
    return Bought(
        activation_id=str(activation_id)[:100],
        phone=f"+{digits}",
        cost_minor=_minor(data.get("activationCost")),
    )


def status(body: str) -> Status:
    answer = text(body)
    word, _, rest = answer.partition(":")
    if word in WAITING_WORDS:
        return Status(State.WAITING)
    if word == CANCELLED_WORD:
        return Status(State.CANCELLED)
    if word in CODE_WORDS and _CODE.fullmatch(rest):
        return Status(CODE_WORDS[word], rest)
    raise _unknown(answer)


def status_set(body: str, status_sent: int) -> None:
    answer = text(body)
    if answer != SET_STATUS_ACK[status_sent]:
        raise _unknown(answer)


def prices(body: str) -> list[Offer]:
    """getPrices: `{"<countryId>": {"<service>": {"cost": number, "count": int}}}`. An entry we
    cannot read is left out (one odd offer must not hide the others); the shape itself must hold."""
    offers = []
    for country, services in _json_object(body).items():
        if not (country.isascii() and country.isdigit()) or not isinstance(services, dict):
            continue
        for service, offer in services.items():
            if not isinstance(offer, dict) or not _CODE.fullmatch(service):
                continue
            count = offer.get("count")
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                continue
            try:
                cost = _minor(offer.get("cost"))
            except UpstreamError:
                continue
            offers.append(Offer(int(country), service, cost, count))
    return offers


def _json_object(body: str) -> dict[str, Any]:
    stripped = body.strip()
    if not stripped.startswith("{"):
        text(stripped)  # an error token raises with its token
        raise _unknown(stripped)
    try:
        data = json.loads(stripped)
    except (ValueError, RecursionError):
        raise UpstreamError("the upstream answered malformed JSON") from None
    if not isinstance(data, dict):
        raise UpstreamError("the upstream answered JSON that is not an object")
    return data


def _minor(value: object) -> int:
    """An amount (number or numeric string, at most two decimals) as minor units."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise UpstreamError("the upstream answered an amount that is not a number")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise UpstreamError("the upstream answered an amount that is not a number") from None
    if not amount.is_finite() or amount < 0 or amount > 1_000_000:
        raise UpstreamError("the upstream answered an impossible amount")
    # Rounded up: an upstream may price in tenths of a cent, and what we pay must never be
    # understated (the margin we book would be money we do not have).
    return int((amount * _MINOR_PER_MAJOR).to_integral_value(rounding=ROUND_CEILING))


def _unknown(answer: str) -> UpstreamError:
    return UpstreamError(f"the upstream answered an unknown token: {answer[:100]}")
