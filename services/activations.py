"""Activations: buy a number, cancel, ban, finish, ask for another SMS (R1, R3, R4, R6).

Every state change is one conditional UPDATE (`WHERE status = <expected>`) in the transaction
that also moves the money, so that of two concurrent requests (a cancel and an incoming SMS,
two sweepers, a retried request) exactly one wins and the other sees INVALID_STATE.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from models import (
    Activation,
    ActivationStatus,
    Country,
    EventKind,
    NumberUse,
    PhoneNumber,
    Service,
    Supplier,
    Transfer,
    TransferKind,
    User,
    UserState,
)
from models.activations import LIVE_STATUSES
from services import (
    abuse,
    activation_writes,
    activity,
    catalog,
    events,
    geo,
    hooks,
    joined,
    ledger,
    locks,
    metrics,
    money,
    policy,
    pool,
    pricing,
    routing,
    text,
)
from services.accounts import Viewer
from services.db import Connection, IntegrityError, atomic, fetch_value, is_postgres
from services.errors import (
    AccountBlocked,
    EmailNotVerified,
    IdempotencyConflict,
    InsufficientBalance,
    InvalidInput,
    InvalidState,
    NoNumbers,
    NotFound,
    PriceAboveMax,
)
from services.ids import parse_id
from settings import Settings

if TYPE_CHECKING:
    from services.runtime import Runtime

REFUNDED_ENDINGS = (ActivationStatus.CANCELLED, ActivationStatus.EXPIRED, ActivationStatus.BANNED)


class Progress(StrEnum):
    """Where an activation stands for a client waiting on it (the compatible API's getStatus)."""

    WAITING_CODE = "waiting_code"
    WAITING_RETRY = "waiting_retry"  # another SMS was asked for and has not come yet (R3)
    CODE_RECEIVED = "code_received"
    REFUNDED = "refunded"  # cancelled, banned or expired without a code (R4, R6)


def progress(activation: Activation) -> Progress:
    if activation.status == ActivationStatus.WAITING_SMS:
        return Progress.WAITING_CODE
    if activation.status in REFUNDED_ENDINGS:
        return Progress.REFUNDED
    if (
        activation.status == ActivationStatus.RECEIVED
        and activation.another_sms_requested_at is not None
    ):
        return Progress.WAITING_RETRY  # set by requestAnotherSms, cleared by the next SMS
    return Progress.CODE_RECEIVED


@dataclass(frozen=True)
class BuyRequest:
    country: str
    service: str
    max_price: Decimal | str | None = None
    idempotency_key: str | None = None

    def fingerprint(self) -> str:
        """What "the same input" means for an idempotent retry."""
        max_price = "" if self.max_price is None else str(Decimal(str(self.max_price)).normalize())
        raw = f"{self.country.strip().upper()}|{self.service.strip().lower()}|{max_price}"
        return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class Purchase:
    """One buyNumber call, as checked: who buys what at which price."""

    user: User
    service: Service
    price: pricing.OfferPrice
    key: str | None
    request: BuyRequest
    ip: str | None


async def buy(rt: Runtime, viewer: Viewer, request: BuyRequest, *, ip: str | None) -> Activation:
    """R1: assigns a number and holds its price in one transaction, or changes nothing."""
    settings = rt.settings
    key = _idempotency_key(request.idempotency_key)
    if key is not None:
        existing = await _replay(viewer.user_id, key, request)
        if existing is not None:
            return existing
    geo.refuse_sanctioned(ip)
    user, cancelled = await abuse.buyer(rt, viewer.user_id)
    _check_may_buy(settings, user)
    country = await rt.catalog.country_for_sale(request.country)
    service = await rt.catalog.service_for_sale(request.service)
    await abuse.check_may_buy(rt, user, cancelled=cancelled)
    price, choices = await _priced(rt, country, service)
    if request.max_price is not None:
        max_minor = money.to_minor(
            request.max_price, field="maxPrice", limit_minor=settings.max_price_minor
        )
        if max_minor <= 0:
            raise InvalidInput("maxPrice must be positive", field="maxPrice")
        if price.price_minor > max_minor:
            raise PriceAboveMax(
                f"the price is {money.format_minor(price.price_minor)}",
                price_minor=price.price_minor,
            )
    purchase = Purchase(user, service, price, key, request, ip)
    # Do not take a supplier's number (and make it wait for a cancel) for a buyer who cannot
    # pay: the hold's conditional update stays the real guard (R1).
    remote = any(c.source.reaches_network for c in choices)
    if remote and await ledger.balance_minor(user.id) < price.price_minor:
        raise InsufficientBalance("the balance is too low")
    for choice in choices:
        acquired = await routing.acquire(rt, choice, country, service)
        if acquired is None:
            continue
        try:
            bought = await _take(rt, purchase, choice, acquired)
        except BaseException:
            await routing.abandon(rt, choice, acquired)
            raise
        if bought is None:
            await routing.abandon(rt, choice, acquired)
            continue
        activation, notice = bought
        if notice is None:  # a concurrent retry of this idempotency key bought it first
            await routing.abandon(rt, choice, acquired)
            return activation
        await rt.publish([notice])
        metrics.PURCHASES.inc()
        await hooks.run(rt.hooks.after_purchase, activation)
        return activation
    raise NoNumbers("no free number right now, try again")


async def _take(
    rt: Runtime, purchase: Purchase, choice: routing.Choice, acquired: routing.Acquired
) -> tuple[Activation, events.Notice | None] | None:
    """The purchase with this supplier's number: the activation and its event; an earlier
    purchase of the same idempotency key (no event); or None if the number could not be
    taken (the pool had none left, or another buyer took it each time)."""
    attempts = rt.settings.buy_number_attempts if acquired.e164 is None else 1
    for _ in range(attempts):
        try:
            return await _assign_and_hold(rt, purchase, choice, acquired)
        except NoNumbers:
            return None
        except IntegrityError:
            # Either a concurrent buyer took the same number (try the next one), or a concurrent
            # retry with the same idempotency key won (return what it bought).
            key, user_id = purchase.key, purchase.user.id
            if key is not None and (existing := await _replay(user_id, key, purchase.request)):
                return existing, None
    return None


async def _priced(
    rt: Runtime, country: Country, service: Service
) -> tuple[pricing.OfferPrice, list[routing.Choice]]:
    """The offer's price over its live candidates (as the price list computes it, with the
    same cached rules), and the candidates to ask: never one whose cost the price does not
    cover (docs/adr/0011)."""
    listed = await catalog.current_price(country, service)
    choices = await routing.choices(rt, country, service, listed.cost_minor)
    price_minor = pricing.offer_price_minor(
        await rt.catalog.rules(),
        country.id,
        service.id,
        listed.price_minor,
        listed.cost_minor,
        [pricing.SupplierCost(c.supplier.id, c.cost_minor) for c in choices],
    )
    covered = [c for c in choices if c.cost_minor <= price_minor]
    return pricing.OfferPrice(country.id, service.id, price_minor), covered


def _idempotency_key(raw: str | None) -> str | None:
    if raw is None:
        return None
    return text.opaque(raw, field="idempotencyKey", max_length=100)


async def _replay(user_id: int, key: str, request: BuyRequest) -> Activation | None:
    existing = await Activation.get_or_none(user_id=user_id, idempotency_key=key).select_related(
        "number"
    )
    if existing is None:
        return None
    if existing.request_fingerprint != request.fingerprint():
        raise IdempotencyConflict(
            "this idempotency key was used with other arguments", field="idempotencyKey"
        )
    return existing


def _check_may_buy(settings: Settings, user: User) -> None:
    if user.state in (UserState.BLOCKED, UserState.DELETED):
        raise AccountBlocked("this account is blocked")
    if settings.email_verification == "required" and user.email_verified_at is None:
        raise EmailNotVerified("confirm your email address before buying (R12)")


async def _assign_and_hold(
    rt: Runtime, purchase: Purchase, choice: routing.Choice, acquired: routing.Acquired
) -> tuple[Activation, events.Notice]:
    if is_postgres():
        return await _hold_in_statements(rt, purchase, choice, acquired)
    settings = rt.settings
    user, service, price = purchase.user, purchase.service, purchase.price
    async with atomic() as conn:
        await locks.user_events(conn, user.id)
        number = await _number(conn, choice.supplier, price.country_id, service.id, acquired)
        if number is None:
            raise NoNumbers("no free number for this service in this country")
        # The unique (number, service) pair is the real guard against selling a number twice.
        await NumberUse.create(number_id=number.id, service_id=service.id, using_db=conn)
        now = rt.clock.now()
        activation = await Activation.create(
            user_id=user.id,
            number_id=number.id,
            country_id=price.country_id,
            service_id=service.id,
            price_minor=price.price_minor,  # the buyer pays the offer's price...
            # ... and the supplier is owed what it asked, once the code arrives (settlement).
            cost_minor=choice.cost_minor if acquired.cost_minor is None else acquired.cost_minor,
            supplier_activation_id=acquired.supplier_activation_id,
            currency=settings.currency,
            created_at=now,
            sms_deadline_at=now + timedelta(seconds=settings.sms_wait_seconds),
            expires_at=now + timedelta(seconds=settings.activation_window_seconds),
            idempotency_key=purchase.key,
            request_fingerprint=purchase.request.fingerprint(),
            using_db=conn,
        )
        activation.number = number
        await ledger.post(
            conn,
            kind=TransferKind.HOLD,
            debit=await ledger.user_account(user.id, conn),
            credit=await ledger.escrow_account(user.id, conn),
            amount_minor=price.price_minor,
            description=f"{service.name} number {number.e164}",
            activation_id=activation.id,
        )
        notice = await events.record(conn, activation, EventKind.STATUS_CHANGED)
        await activity.record(
            conn, "purchase", user_id=user.id, ip=purchase.ip, detail=str(activation.id)
        )
    return activation, notice


async def _hold_in_statements(
    rt: Runtime, purchase: Purchase, choice: routing.Choice, acquired: routing.Acquired
) -> tuple[Activation, events.Notice]:
    """_assign_and_hold on PostgreSQL: the same rows, written by one statement, for a pool's
    number or the one the supplier gave (services/activation_writes.py, docs/adr/0012)."""
    settings, price, now = rt.settings, purchase.price, rt.clock.now()
    sale = activation_writes.Sale(
        user_id=purchase.user.id,
        supplier_id=choice.supplier.id,
        country_id=price.country_id,
        service_id=purchase.service.id,
        service_name=purchase.service.name,
        price_minor=price.price_minor,
        # The buyer pays the offer's price; the supplier is owed what it asked, once the code
        # arrives (settlement).
        cost_minor=choice.cost_minor if acquired.cost_minor is None else acquired.cost_minor,
        currency=settings.currency,
        now=now,
        sms_deadline_at=now + timedelta(seconds=settings.sms_wait_seconds),
        expires_at=now + timedelta(seconds=settings.activation_window_seconds),
        idempotency_key=purchase.key,
        fingerprint=purchase.request.fingerprint(),
        ip=purchase.ip,
    )
    if acquired.e164 is None:
        written = await activation_writes.buy_from_pool(sale)
    elif policy.number_on_sale(acquired.e164):
        written = await activation_writes.buy_given_number(
            sale, acquired.e164, acquired.supplier_activation_id
        )
    else:
        written = None  # R11: whoever gave it, a Crimean number is not sold
    if written is None:
        raise NoNumbers("no free number for this service in this country")
    return written.activation, _status_changed(written)


def _status_changed(written: activation_writes.Written) -> events.Notice:
    """The wake-up of the event a statement of services/activation_writes.py wrote."""
    activation = written.activation
    assert written.event_id is not None, "a written change has its event"
    return events.Notice(
        written.event_id, activation.id, activation.user_id, EventKind.STATUS_CHANGED.value
    )


async def _number(
    conn: Connection,
    supplier: Supplier,
    country_id: int,
    service_id: int,
    acquired: routing.Acquired,
) -> PhoneNumber | None:
    """The number to sell: one of the supplier's pool, or the one it gave (kept as a row of
    its own, so that its SMS find it and it is never sold twice for a service)."""
    if acquired.e164 is None:
        return await pool.free_number(conn, supplier.id, country_id, service_id)
    if not policy.number_on_sale(acquired.e164):
        return None  # R11: whoever gave it, a Crimean number is not sold
    number = await PhoneNumber.get_or_none(e164=acquired.e164, using_db=conn)
    if number is None:
        # Two round trips, not get_or_create's four (its savepoint): a concurrent insert of the
        # same number fails this purchase's transaction on the unique e164 (IntegrityError),
        # which _take answers as a number not taken.
        return await PhoneNumber.create(
            e164=acquired.e164, country_id=country_id, supplier_id=supplier.id, using_db=conn
        )
    return number if number.supplier_id == supplier.id else None


_OWNED = f"SELECT id FROM {joined.table(Activation)} WHERE id = $1 AND user_id = $2"  # noqa: S608


async def owned_id(viewer: Viewer, activation_id: int | str) -> int:
    """The id of the viewer's activation, as `get` finds it, without loading it (a live feed
    opened on it checks only that it is the viewer's)."""
    found = await fetch_value(
        _OWNED, parse_id(activation_id, what="activation", field="id"), viewer.user_id
    )
    if found is None:
        raise NotFound("no such activation", field="id")
    return int(found)


async def get(viewer: Viewer, activation_id: int | str) -> Activation:
    """The viewer's activation; someone else's is indistinguishable from a missing one."""
    activation = await Activation.get_or_none(
        id=parse_id(activation_id, what="activation", field="id"), user_id=viewer.user_id
    ).select_related("number")
    if activation is None:
        raise NotFound("no such activation", field="id")
    return activation


async def confirm_sms_sent(viewer: Viewer, activation_id: int | str) -> Activation:
    """The user says the service has sent its SMS: nothing to change, but only while the
    activation is live (INVALID_STATE after it ended)."""
    activation = await get(viewer, activation_id)
    if activation.status not in LIVE_STATUSES:
        raise InvalidState("this activation has ended")
    return activation


async def fetch(activation_id: int, conn: Connection | None = None) -> Activation:
    """An activation with its number, as every API shows it."""
    return await Activation.get(id=activation_id, using_db=conn).select_related("number")


async def cancel(
    rt: Runtime, viewer: Viewer, activation_id: int | str, *, ip: str | None
) -> Activation:
    """R4: a full refund while no SMS has arrived; refused after the first SMS."""
    activation = await get(viewer, activation_id)
    return await _end_waiting(rt, activation, ActivationStatus.CANCELLED, ip=ip)


async def ban(
    rt: Runtime, viewer: Viewer, activation_id: int | str, *, ip: str | None
) -> Activation:
    """R6: refund, and the (number, service) pair is marked banned; it is never sold again."""
    activation = await get(viewer, activation_id)
    return await _end_waiting(rt, activation, ActivationStatus.BANNED, ip=ip)


async def revoke(rt: Runtime, activation_id: int, *, ip: str | None) -> Activation:
    """R14: the shop ends a live activation with a full refund (who may ask is
    services/moderation.py's concern): a waiting one as a cancel does, one with a code by
    reversing its captured price. Either way it ends CANCELLED; an ended one: INVALID_STATE."""
    activation = await Activation.get_or_none(id=activation_id)
    if activation is None:
        raise NotFound("no such activation", field="id")
    if activation.status == ActivationStatus.WAITING_SMS:
        try:
            return await _end_waiting(rt, activation, ActivationStatus.CANCELLED, ip=ip)
        except InvalidState:
            pass  # a code arrived meanwhile: revoke it as received, or it has ended
    return await _revoke_received(rt, activation, ip=ip)


async def _revoke_received(rt: Runtime, activation: Activation, *, ip: str | None) -> Activation:
    """RECEIVED -> CANCELLED with the captured price given back (REVERSAL); the supplier keeps
    its cost, it delivered the code."""
    status = ActivationStatus.CANCELLED
    async with atomic() as conn:
        await locks.user_events(conn, activation.user_id)
        changed = (
            await Activation.filter(id=activation.id, status=ActivationStatus.RECEIVED)
            .using_db(conn)
            .update(
                status=status, ended_at=rt.clock.now(), refunded=True, another_sms_requested_at=None
            )
        )
        if changed != 1:
            raise InvalidState("the activation has ended: nothing to revoke")
        capture = await Transfer.get(
            activation_id=activation.id, kind=TransferKind.CAPTURE, using_db=conn
        )
        await ledger.reverse_capture(conn, capture, user_id=activation.user_id)
        activation, notice = await _ended(rt, conn, activation.id, status, ip=ip)
    await rt.publish([notice])
    metrics.REFUNDS.labels(status.value).inc()
    return activation


async def expire(rt: Runtime, activation: Activation) -> bool:
    """R4: no SMS by the deadline -> EXPIRED and refunded. False if something else won."""
    try:
        await _end_waiting(rt, activation, ActivationStatus.EXPIRED, ip=None, due=True)
    except InvalidState:
        return False
    return True


async def end_by_supplier(rt: Runtime, activation: Activation) -> bool:
    """The supplier ended it before any SMS (an upstream's STATUS_CANCEL): refunded as an
    expiry is (R4). False if something else ended it first."""
    try:
        await _end_waiting(rt, activation, ActivationStatus.EXPIRED, ip=None)
    except InvalidState:
        return False
    return True


async def _end_waiting(
    rt: Runtime,
    activation: Activation,
    status: ActivationStatus,
    *,
    ip: str | None,
    due: bool = False,
) -> Activation:
    assert status in REFUNDED_ENDINGS
    if is_postgres():
        return await _end_waiting_in_one_statement(
            rt, activation.user_id, activation.id, status, ip=ip, due=due
        )
    now = rt.clock.now()
    async with atomic() as conn:
        await locks.user_events(conn, activation.user_id)
        query = Activation.filter(id=activation.id, status=ActivationStatus.WAITING_SMS)
        if due:
            query = query.filter(sms_deadline_at__lte=now)
        changed = await query.using_db(conn).update(status=status, ended_at=now, refunded=True)
        if changed != 1:
            raise InvalidState("an SMS has arrived or the activation has ended: no refund (R4)")
        hold = await Transfer.get(
            activation_id=activation.id, kind=TransferKind.HOLD, using_db=conn
        )
        await ledger.resolve_hold(
            conn,
            hold,
            kind=TransferKind.VOID,
            user_id=activation.user_id,
            description=f"refund: activation {activation.id} {status.value.lower()}",
        )
        if status == ActivationStatus.BANNED:
            await (
                NumberUse.filter(
                    number_id=activation.number_id,
                    service_id=activation.service_id,
                )
                .using_db(conn)
                .update(banned=True)
            )
        activation, notice = await _ended(rt, conn, activation.id, status, ip=ip)
    await rt.publish([notice])
    metrics.REFUNDS.labels(status.value).inc()
    return activation


async def _end_waiting_in_one_statement(
    rt: Runtime,
    user_id: int,
    activation_id: int,
    status: ActivationStatus,
    *,
    ip: str | None,
    due: bool,
) -> Activation:
    """_end_waiting on PostgreSQL: the same rows, written by one statement
    (services/activation_writes.py, docs/adr/0012), then the supplier's release."""
    ending = activation_writes.Ending(
        user_id=user_id,
        activation_id=activation_id,
        status=status,
        now=rt.clock.now(),
        due=due,
        description=f"refund: activation {activation_id} {status.value.lower()}",
        action=None if status == ActivationStatus.EXPIRED else status.value.lower(),
        ip=ip,
    )
    async with atomic() as conn:
        written = await activation_writes.end_waiting(conn, ending)
        if written is None:
            raise InvalidState("an SMS has arrived or the activation has ended: no refund (R4)")
        if written.event_id is None:  # no hold to void: never so; raising rolls it back
            raise InvalidState("this activation's hold has already been resolved")
        activation = written.activation
        await routing.release_number(rt, conn, activation, activation.number)
    await rt.publish([_status_changed(written)])
    metrics.REFUNDS.labels(status.value).inc()
    return activation


async def _ended(
    rt: Runtime, conn: Connection, activation_id: int, status: ActivationStatus, *, ip: str | None
) -> tuple[Activation, events.Notice]:
    """What follows a refunded ending in its transaction: the supplier learns how it ended,
    the live feed gets the event (published after the commit), the activity log the action."""
    activation = await fetch(activation_id, conn)
    await routing.release(rt, conn, activation)
    notice = await events.record(conn, activation, EventKind.STATUS_CHANGED)
    if status != ActivationStatus.EXPIRED:
        await activity.record(
            conn,
            status.value.lower(),
            user_id=activation.user_id,
            ip=ip,
            detail=str(activation.id),
        )
    return activation, notice


async def finish(rt: Runtime, viewer: Viewer, activation_id: int | str) -> Activation:
    """Ends an activation that has its code; the charge stays final (R4)."""
    activation = await get(viewer, activation_id)
    finished = await close_received(rt, activation)
    if finished is None:
        raise InvalidState("only an activation that received a code can be finished")
    return finished


async def close_received(rt: Runtime, activation: Activation) -> Activation | None:
    """RECEIVED -> FINISHED, by the user or when the window closes (R3); None if it was not
    RECEIVED any more."""
    now = rt.clock.now()
    async with atomic() as conn:
        await locks.user_events(conn, activation.user_id)
        changed = (
            await Activation.filter(id=activation.id, status=ActivationStatus.RECEIVED)
            .using_db(conn)
            .update(status=ActivationStatus.FINISHED, ended_at=now)
        )
        if changed != 1:
            return None
        activation = await fetch(activation.id, conn)
        await routing.release(rt, conn, activation)
        notice = await events.record(conn, activation, EventKind.STATUS_CHANGED)
    await rt.publish([notice])
    return activation


async def request_another_sms(rt: Runtime, viewer: Viewer, activation_id: int | str) -> Activation:
    """R3: after the first code, more may come until the window closes; tell the supplier."""
    activation = await get(viewer, activation_id)
    async with atomic() as conn:
        changed = (
            await Activation.filter(
                id=activation.id, status=ActivationStatus.RECEIVED, expires_at__gt=rt.clock.now()
            )
            .using_db(conn)
            .update(another_sms_requested_at=rt.clock.now())
        )
        if changed != 1:
            raise InvalidState(
                "another SMS can be asked for only after the first, within the window"
            )
        activation = await fetch(activation.id, conn)
        await routing.another_sms(rt, conn, activation)  # the supplier is told (an outbox row)
    await hooks.run(rt.hooks.after_another_sms_requested, activation)
    return activation


async def page(
    viewer: Viewer, *, first: int, after: int | None, statuses: list[ActivationStatus] | None
) -> tuple[list[Activation], bool]:
    """Newest first; `after` is the id of the last activation of the previous page."""
    query = Activation.filter(user_id=viewer.user_id)
    if after is not None:
        query = query.filter(id__lt=after)
    if statuses:
        query = query.filter(status__in=statuses)
    rows = await query.order_by("-id").limit(first + 1).select_related("number")
    return rows[:first], len(rows) > first
