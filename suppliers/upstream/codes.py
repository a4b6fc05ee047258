"""Codes from upstreams: getStatus for each live activation bought upstream, with backoff, until
it ends (contract/suppliers.md, 3).

The schedule is a row per activation (`UpstreamPoll`), so that it is shared by every process
of the app and survives restarts: a process claims due rows with a lease (a conditional update
only one process can win, on both databases), asks the upstream, and writes the next due time.
A process that dies mid-poll leaves its rows to be claimed again when the lease ends. (Only the
process that bought polling would lose the codes of a process that stops, and would not spread
the work.) Rows are made by the poller itself for the live upstream activations that have none,
so no purchase waits for it and none is missed after a crash.

The first poll comes UPSTREAM_STATUS_FIRST_SECONDS after the purchase, each next one half as
long again later, up to UPSTREAM_STATUS_MAX_SECONDS; a request for another SMS starts over.
- STATUS_OK:<code> is ingested as an SMS of the upstream supplier for that activation, with the
  message id "<upstream activation id>:<code>:<n>" (n-th code of it): a poll repeated after a
  crash finds the same id and the ingest ignores it; the code reaches the buyer's live feed as
  any supplier's SMS does.
- STATUS_CANCEL (the upstream cancelled, banned or expired it) ends ours with a refund, as an
  expiry does; the upstream is not told to cancel it again.
- A failed getStatus is logged and tried again at the next step: a dead upstream delays only
  its own codes, and our sweeper still ends the activation (and refunds) at its deadline.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

import structlog
from tortoise.expressions import Q, Subquery

from models import Activation, ActivationStatus, Service, SupplierKind, UpstreamPoll
from models.activations import LIVE_STATUSES
from services import activations, sms
from services.db import log_failure
from suppliers.upstream import upstreams
from suppliers.upstream.protocol import State, Status, UpstreamError

if TYPE_CHECKING:
    from services.runtime import Runtime

log = structlog.get_logger("upstream.codes")
BATCH = 100  # polls claimed per round by one process (sent at once)
GROWTH = 1.5


def delay_seconds(rt: Runtime, polls: int) -> float:
    settings = rt.settings
    exponent = min(polls, 64)  # bounded: past the cap long before
    return min(
        settings.upstream_status_max_seconds,
        settings.upstream_status_first_seconds * GROWTH**exponent,
    )


async def discover(rt: Runtime) -> int:
    """A schedule row for each live upstream activation without one; how many were made."""
    found: list[Any] = (
        await Activation.filter(
            status__in=LIVE_STATUSES,
            supplier_activation_id__isnull=False,
            number__supplier__kind=SupplierKind.UPSTREAM,
        )
        .exclude(id__in=Subquery(UpstreamPoll.all().values("activation_id")))
        .limit(BATCH)
        .values_list("id", "created_at")
    )
    first = timedelta(seconds=rt.settings.upstream_status_first_seconds)
    rows = [UpstreamPoll(activation_id=i, due_at=created + first) for i, created in found]
    await UpstreamPoll.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _claimable(now: Any) -> Q:
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    return Q(free, due_at__lte=now)


async def claim(rt: Runtime) -> tuple[str, list[UpstreamPoll]]:
    now = rt.clock.now()
    token = secrets.token_hex(16)
    lease_end = now + timedelta(seconds=rt.settings.upstream_status_lease_seconds)
    due = UpstreamPoll.filter(_claimable(now)).order_by("due_at").limit(BATCH)
    won = []
    for poll_id in cast("list[int]", await due.values_list("id", flat=True)):
        # The same conditions in the update itself: of two processes, one wins the row.
        if await UpstreamPoll.filter(_claimable(now), id=poll_id).update(
            claimed_until=lease_end, claim_token=token
        ):
            won.append(poll_id)
    return token, await UpstreamPoll.filter(id__in=won, claim_token=token)


async def poll_once(rt: Runtime) -> int:
    """One round: schedule new activations, claim the due polls, ask, record. How many asked."""
    await discover(rt)
    token, polls = await claim(rt)
    await asyncio.gather(*(_poll(rt, token, p) for p in polls))
    return len(polls)


async def run(rt: Runtime) -> None:
    """Until cancelled."""
    pause = min(1.0, rt.settings.upstream_status_first_seconds / 2)
    while True:
        try:
            await poll_once(rt)
        except Exception as error:  # the database may be away for a moment; keep polling
            log_failure(log, "upstream status round failed", error)
        await asyncio.sleep(pause)


async def _poll(rt: Runtime, token: str, poll: UpstreamPoll) -> None:
    try:
        await _ask(rt, token, poll)
    except Exception as error:  # one activation's trouble must not stop the others'
        log_failure(log, "upstream status poll failed", error, activation=poll.activation_id)
        await _schedule(rt, token, poll)


async def _ask(rt: Runtime, token: str, poll: UpstreamPoll) -> None:
    activation = await Activation.get(id=poll.activation_id).select_related("number__supplier")
    if activation.status not in LIVE_STATUSES:
        await UpstreamPoll.filter(id=poll.id, claim_token=token).delete()
        return
    assert activation.supplier_activation_id is not None  # discover() takes only those
    supplier = activation.number.supplier
    try:
        async with upstreams.connected(rt, supplier) as client:
            status = await client.status(activation.supplier_activation_id)
    except UpstreamError as error:
        log.info("upstream getStatus failed", supplier=supplier.code, error=str(error))
        await _schedule(rt, token, poll)
        return
    await _act_on(rt, token, poll, activation, status)


async def _act_on(
    rt: Runtime, token: str, poll: UpstreamPoll, activation: Activation, status: Status
) -> None:
    if status.state == State.WAITING_RETRY:
        await _schedule(rt, token, poll, retry_seen=True)
    elif status.state == State.CODE and status.code is not None:
        if status.code == poll.last_code and not poll.retry_seen:
            await _schedule(rt, token, poll)  # the code we already have
            return
        n = poll.codes + 1
        await _ingest(rt, activation, status.code, n)
        await _schedule(rt, token, poll, codes=n, last_code=status.code, retry_seen=False)
    elif status.state == State.CANCELLED:
        # Recorded first: the ending's release reads it and tells the upstream nothing.
        await UpstreamPoll.filter(id=poll.id).update(ended_upstream=True)
        if activation.status == ActivationStatus.WAITING_SMS:
            await activations.end_by_supplier(rt, activation)
        await _schedule(rt, token, poll)
    else:
        await _schedule(rt, token, poll)


async def _ingest(rt: Runtime, activation: Activation, code: str, n: int) -> None:
    service = await Service.get(id=activation.service_id)
    message = sms.IncomingSms(
        supplier=activation.number.supplier,
        message_id=f"{activation.supplier_activation_id}:{code}:{n}",
        to=activation.number.e164,
        sender=service.name,
        # The protocol's getStatus reports the code, not the text: the text says so.
        text=f"{service.name} code: {code}",
        received_at=rt.clock.now(),
        for_activation_id=activation.id,
        code=code,
    )
    outcome = await sms.ingest(rt, message)
    log.info("upstream code", activation=activation.id, outcome=outcome.value)


async def _schedule(rt: Runtime, token: str, poll: UpstreamPoll, **changes: Any) -> None:
    due = rt.clock.now() + timedelta(seconds=delay_seconds(rt, poll.polls))
    await UpstreamPoll.filter(id=poll.id, claim_token=token).update(
        due_at=due, polls=poll.polls + 1, claimed_until=None, claim_token=None, **changes
    )
