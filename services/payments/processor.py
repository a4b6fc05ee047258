"""What every payment processor does for us, and what its notifications tell us.

A processor module turns our request into a hosted checkout page, and turns the processor's
signed notification (raw bytes and headers, verified with its own scheme) into one of the
updates below. Amounts in updates are integer minor units of `currency`; the settlement code
(settlement.py) checks them against the top-up and moves the money.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

PaymentStatus = Literal["pending", "paid", "failed", "expired"]


class BadSignature(Exception):
    """The notification's signature is missing, wrong or stale: answered 401."""


class BadNotification(Exception):
    """Signed, but not something we can read (malformed, amounts not in whole cents): 400."""


class ProcessorUnavailable(Exception):
    """The processor's API could not be reached or refused the request."""


@dataclass(frozen=True)
class CheckoutRequest:
    top_up_id: int
    amount_minor: int
    currency: str  # ISO 4217, upper case
    description: str
    success_url: str
    cancel_url: str
    notify_url: str
    expires_at: datetime


@dataclass(frozen=True)
class Checkout:
    reference: str  # the processor's id of this checkout
    url: str  # where the user pays


@dataclass(frozen=True)
class PaymentUpdate:
    """A checkout's payment changed: `paid_minor` is everything paid so far (not a delta)."""

    event_key: str
    reference: str
    status: PaymentStatus
    amount_minor: int  # the amount the processor was asked for: must equal the top-up's
    currency: str
    paid_minor: int = 0
    payment_reference: str | None = None


@dataclass(frozen=True)
class ChargebackUpdate:
    """The processor took money back: a refund (`total_minor` is all refunded so far for the
    payment) or a dispute (`total_minor` is that dispute's amount, `dispute_id` names it)."""

    event_key: str
    payment_reference: str
    total_minor: int
    currency: str
    dispute_id: str | None = None


@dataclass(frozen=True)
class Ignored:
    """A verified notification that needs no action (an event type we do not act on)."""

    event_key: str
    kind: str


Update = PaymentUpdate | ChargebackUpdate | Ignored


class Processor(Protocol):
    code: str
    name: str
    #: Whether `refund` can pay a refund request back through this processor (R15).
    refunds: bool

    async def create_checkout(self, request: CheckoutRequest) -> Checkout: ...

    async def fetch(self, reference: str, payment_reference: str | None) -> PaymentUpdate:
        """The checkout's state as the processor knows it now (reconciliation), by the ids the
        top-up holds: its checkout's and, once known, its payment's."""
        ...

    async def refund(self, payment_reference: str, amount_minor: int, key: str) -> str:
        """Refunds part of a payment; returns the processor's refund id. `key` makes retries
        safe (the processor's idempotency key)."""
        ...

    def parse(self, headers: Mapping[str, str], body: bytes) -> Update:
        """Verifies the signature (BadSignature) and reads the notification (BadNotification)."""
        ...
