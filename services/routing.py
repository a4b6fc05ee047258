"""Routing (issue 8; docs/adr/0009): which supplier a purchase takes its number from.

For each purchase the candidates are the ACTIVE suppliers with stock of that offer
(services/stock.py: one query, no network), cheapest first, then the best measured success rate.
Each is asked through the `NumberSource` of its kind under its own deadline; "no numbers", a
time-out or an error moves on to the next, so a dead supplier costs a buyer a few seconds, never
an error while another has stock. A supplier failing SUPPLIER_FAILURES_TO_PAUSE times in a row
is paused with the reason shown to admins.

A source is registered per supplier kind on the runtime (`rt.sources`); the pools of our own
database (services/pool.py) are there from the start, protocol clients (suppliers/) are
registered by the app, test doubles by the tests, all the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, ClassVar

import structlog
from tortoise.expressions import F, Q

from models import (
    Activation,
    ActivationStatus,
    Country,
    PhoneNumber,
    Service,
    Supplier,
    SupplierKind,
    SupplierState,
)
from services import metrics, policy, stock
from services.db import Connection, atomic

if TYPE_CHECKING:
    from services.runtime import Runtime

log = structlog.get_logger("routing")
UNKNOWN_SUCCESS_RATE = 0.5  # a supplier not yet measured ranks between good and bad ones


@dataclass(frozen=True)
class Want:
    """What a purchase asks one supplier for."""

    supplier: Supplier
    country: Country
    service: Service
    cost_minor: int  # what we will pay it (SMSHub's `sum`)
    excluded_prefixes: tuple[str, ...]  # numbers never to take (SMSHub's exceptionPhoneSet)


@dataclass(frozen=True)
class Acquired:
    """A number a supplier gave. `e164` None: one of the supplier's own pool, picked inside
    the purchase transaction (services/pool.py), where a concurrent buyer cannot take it too."""

    e164: str | None = None
    supplier_activation_id: str | None = None  # the supplier's id of it (SMSHub activationId)
    cost_minor: int | None = None  # what the supplier says it costs, when it says


@dataclass(frozen=True)
class Ending:
    """How an activation of the supplier ended (or CANCELLED for a number acquired for a
    purchase that failed): what the supplier's protocol is told (SMSHub FINISH_ACTIVATION)."""

    supplier: Supplier
    activation_id: int | None
    e164: str
    supplier_activation_id: str | None
    status: ActivationStatus


class NumberSource(ABC):
    """One supplier's way of giving numbers, made per supplier by its kind's factory."""

    #: False for sources that never leave the database: no deadline, no health bookkeeping.
    reaches_network: ClassVar[bool] = True

    def __init__(self, rt: Runtime, supplier: Supplier) -> None:
        self.rt = rt
        self.supplier = supplier

    @abstractmethod
    async def acquire(self, want: Want) -> Acquired | None:
        """A number for `want`, or None for "no numbers". Called outside any transaction and
        cancelled at the supplier's deadline; raising anything counts as a failure."""

    async def release(self, conn: Connection, ending: Ending) -> None:  # noqa: B027
        """Inside the transaction that ended the activation: record what the supplier must be
        told (an outbox row), never call it from here. Nothing to do by default."""

    async def another_sms(self, conn: Connection, activation: Activation) -> None:  # noqa: B027
        """Inside the transaction that records a buyer's request for another SMS (R3): what
        the supplier must be told, as `release`. Nothing to do by default."""


SourceFactory = Callable[["Runtime", Supplier], NumberSource]


class Sources:
    """The NumberSource factory of each supplier kind, one registry per runtime."""

    def __init__(self) -> None:
        self._factories: dict[SupplierKind, SourceFactory] = {}

    def register(self, kind: SupplierKind, factory: SourceFactory) -> SourceFactory | None:
        """Returns the factory it replaces, if any."""
        previous = self._factories.get(kind)
        self._factories[kind] = factory
        return previous

    @contextlib.contextmanager
    def registered(self, kind: SupplierKind, factory: SourceFactory) -> Iterator[None]:
        """`factory` for the block, then what was there before (tests' doubles)."""
        previous = self.register(kind, factory)
        try:
            yield
        finally:
            if previous is None:
                self._factories.pop(kind, None)
            else:
                self._factories[kind] = previous

    def source(self, rt: Runtime, supplier: Supplier) -> NumberSource | None:
        factory = self._factories.get(supplier.kind)
        return None if factory is None else factory(rt, supplier)


@dataclass(frozen=True)
class Choice:
    supplier: Supplier
    source: NumberSource
    cost_minor: int


async def choices(
    rt: Runtime, country: Country, service: Service, offer_cost_minor: int
) -> list[Choice]:
    """The suppliers to ask, in order, at most ROUTING_MAX_CANDIDATES."""
    found = await stock.candidates(country.id, service.id)
    ranked = sorted(
        found,
        key=lambda c: (
            offer_cost_minor if c.cost_minor is None else c.cost_minor,
            -(UNKNOWN_SUCCESS_RATE if c.supplier.success_rate is None else c.supplier.success_rate),
            c.supplier.id,
        ),
    )
    picked: list[Choice] = []
    for candidate in ranked:
        source = rt.sources.source(rt, candidate.supplier)
        if source is None:
            continue  # a kind whose protocol this server does not speak (yet)
        cost = offer_cost_minor if candidate.cost_minor is None else candidate.cost_minor
        picked.append(Choice(candidate.supplier, source, cost))
    return picked[: rt.settings.routing_max_candidates]


async def acquire(
    rt: Runtime, choice: Choice, country: Country, service: Service
) -> Acquired | None:
    """Asks one supplier, within its deadline; None if it gave nothing, for whatever reason."""
    want = Want(choice.supplier, country, service, choice.cost_minor, policy.CRIMEAN_PREFIXES)
    if not choice.source.reaches_network:
        return await choice.source.acquire(want)
    deadline = rt.settings.supplier_acquire_timeout_seconds
    code = choice.supplier.code
    try:
        with metrics.SUPPLIER_LATENCY.labels(code).time():
            async with asyncio.timeout(deadline):
                acquired = await choice.source.acquire(want)
    except TimeoutError:
        metrics.SUPPLIER_ERRORS.labels(code, "timeout").inc()
        await _failed(rt, choice.supplier, f"no answer within {deadline:g} s")
        return None
    except Exception as exc:  # any failure of a supplier is that supplier's, never the buyer's
        metrics.SUPPLIER_ERRORS.labels(code, "error").inc()
        log.warning("supplier failed", supplier=code, error=repr(exc)[:200])
        await _failed(rt, choice.supplier, f"error: {exc!r}"[:120])
        return None
    await _answered(rt, choice.supplier)
    if acquired is None:
        await stock.sold_out(choice.supplier.id, country.id, service.id)
    return acquired


async def abandon(rt: Runtime, choice: Choice, acquired: Acquired) -> None:
    """A number acquired for a purchase that did not happen goes back to its supplier."""
    if acquired.e164 is None:
        return  # a pool number is picked inside the purchase transaction: nothing was taken
    ending = Ending(
        choice.supplier,
        None,
        acquired.e164,
        acquired.supplier_activation_id,
        ActivationStatus.CANCELLED,
    )
    async with atomic() as conn:
        await choice.source.release(conn, ending)


async def release(rt: Runtime, conn: Connection, activation: Activation) -> None:
    """Tells the activation's source how it ended, inside the transaction that ended it."""
    number = await PhoneNumber.get(id=activation.number_id, using_db=conn).select_related(
        "supplier"
    )
    await release_number(rt, conn, activation, number)


async def release_number(
    rt: Runtime, conn: Connection, activation: Activation, number: PhoneNumber
) -> None:
    """`release` with the activation's number and its supplier already read."""
    source = rt.sources.source(rt, number.supplier)
    if source is None:
        return
    # To its supplier an activation that got its code was sold, even when an admin then gave
    # the buyer the price back (revokeActivation, R14): the supplier is paid its cost, so it
    # is told FINISHED, never a cancel that would refund the shop for a delivered code.
    delivered = activation.first_sms_at is not None
    status = ActivationStatus.FINISHED if delivered else activation.status
    ending = Ending(
        number.supplier, activation.id, number.e164, activation.supplier_activation_id, status
    )
    await source.release(conn, ending)


async def another_sms(rt: Runtime, conn: Connection, activation: Activation) -> None:
    """Tells the activation's source that another SMS was asked for, inside that transaction."""
    number = await PhoneNumber.get(id=activation.number_id, using_db=conn).select_related(
        "supplier"
    )
    source = rt.sources.source(rt, number.supplier)
    if source is not None:
        await source.another_sms(conn, activation)


async def _failed(rt: Runtime, supplier: Supplier, reason: str) -> None:
    """One more failure in a row; at the threshold the supplier is paused, with the reason."""
    limit = rt.settings.supplier_failures_to_pause
    await Supplier.filter(id=supplier.id).update(consecutive_failures=F("consecutive_failures") + 1)
    paused = await Supplier.filter(
        id=supplier.id, state=SupplierState.ACTIVE, consecutive_failures__gte=limit
    ).update(
        state=SupplierState.PAUSED,
        paused_reason=f"paused automatically after {limit} failures in a row; last: {reason}"[:200],
    )
    if paused:
        log.warning("supplier paused", supplier=supplier.code, reason=reason)
        rt.catalog.invalidate()


async def _answered(rt: Runtime, supplier: Supplier) -> None:
    # `supplier` was read by this purchase's candidates query: most purchases find nothing to
    # write, and skip both round trips.
    if supplier.consecutive_failures:
        await Supplier.filter(id=supplier.id, consecutive_failures__gt=0).update(
            consecutive_failures=0
        )
    await touch(rt, supplier)


async def touch(rt: Runtime, supplier: Supplier) -> None:
    """Records that the supplier was heard from, at most every SUPPLIER_CONTACT_WRITE_SECONDS
    (a conditional update: usually no row matches, and no row is locked; none is sent when the
    row as read shows a recent contact)."""
    now = rt.clock.now()
    stale = now - timedelta(seconds=rt.settings.supplier_contact_write_seconds)
    if supplier.last_contact_at is not None and supplier.last_contact_at >= stale:
        return
    await Supplier.filter(
        Q(last_contact_at__isnull=True) | Q(last_contact_at__lt=stale), id=supplier.id
    ).update(last_contact_at=now)
