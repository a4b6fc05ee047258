"""The outbox: calls to other systems that must happen, never lost and never repeated once
acknowledged (contract/suppliers.md, "Common rules").

    async with atomic() as conn:
        ...                                         # the decision (an activation ends)
        await outbox.enqueue(conn, rt, KIND, key, payload)   # in the same transaction
    # after the commit, some worker of some process sends it

A message is a row written in the caller's transaction, so it exists exactly when the decision
does. Workers (one per app process, started from the app's lifespan) claim due messages, call
the handler registered for their kind, and record the outcome:
- success (the handler returns): `sent_at` is set, and no claim ever takes the message again;
- failure (the handler raises): the error and the attempt are recorded and the message is due
  again after an exponential backoff with jitter, capped at OUTBOX_BACKOFF_MAX_SECONDS. It is
  retried until it succeeds: a message is never dropped.
A claim is a lease (OUTBOX_LEASE_SECONDS): a worker that dies mid-call leaves its messages to
be claimed again when the lease ends. Delivery is therefore at least once; a receiver must be
idempotent (SMSHub agents are, for FINISH_ACTIVATION). Claiming is safe with any number of
workers: on PostgreSQL one UPDATE over `FOR UPDATE SKIP LOCKED` rows (workers never wait for,
nor take, each other's rows); on SQLite, which has one writer at a time, a conditional update
per row that only one worker can win. A worker claims only the kinds it has handlers for, so a
process that does not know a kind leaves it to one that does.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import random
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import structlog
from tortoise import connections
from tortoise.expressions import F, Q

from models import OutboxMessage
from services.db import Connection, is_postgres, log_failure
from settings import Settings

if TYPE_CHECKING:
    from services.runtime import Runtime

log = structlog.get_logger("outbox")
Payload = dict[str, Any]
# Sends one message; returning is success, raising (any exception) is a failure to retry.
Handler = Callable[[Payload], Awaitable[None]]
MAX_ERROR_LENGTH = 500
_random = random.SystemRandom()

_CLAIM_POSTGRES = """
UPDATE outbox_message AS m
SET claimed_until = $1, claim_token = $2, attempts = m.attempts + 1
WHERE m.id IN (
    SELECT id FROM outbox_message
    WHERE sent_at IS NULL AND due_at <= $3 AND kind = ANY($4::text[])
      AND (claimed_until IS NULL OR claimed_until < $3)
    ORDER BY due_at, id
    LIMIT $5
    FOR UPDATE SKIP LOCKED
)
RETURNING m.id
"""


class Retry(Exception):
    """A handler's way to say "not sent, try again later" with a reason for the record."""


async def enqueue(conn: Connection, rt: Runtime, kind: str, key: str, payload: Payload) -> None:
    """Writes a message in the caller's transaction, due now. The same (kind, key) again is a
    no-op, so a decision replayed (a retried request, a second sweeper) sends one message."""
    assert kind, "a message has a kind"
    assert key, "a message has a key"
    message = OutboxMessage(kind=kind, key=key, payload=json.dumps(payload), due_at=rt.clock.now())
    await OutboxMessage.bulk_create([message], ignore_conflicts=True, using_db=conn)


@dataclass(frozen=True)
class Claim:
    token: str
    messages: list[OutboxMessage]


@dataclass(frozen=True)
class NewClaim:
    token: str
    lease_end: datetime


@dataclass(frozen=True)
class ClaimedMessage:
    """What recording a message's outcome needs of it (a claim that reads its messages with
    more than the outbox's columns: services/webhook_delivery.py)."""

    id: int
    kind: str
    attempts: int


def new_claim(rt: Runtime) -> NewClaim:
    """The token and lease end of a claim made now."""
    lease = timedelta(seconds=rt.settings.outbox_lease_seconds)
    return NewClaim(secrets.token_hex(16), rt.clock.now() + lease)


async def claim(rt: Runtime, kinds: list[str]) -> Claim:
    """Takes up to OUTBOX_BATCH_SIZE due messages of these kinds for this worker."""
    settings = rt.settings
    now = rt.clock.now()
    token, lease_end = dataclasses.astuple(new_claim(rt))
    if not kinds:
        return Claim(token, [])
    if is_postgres():
        # execute_query_dict: tortoise's execute_query drops what an UPDATE returns.
        rows = await connections.get("default").execute_query_dict(
            _CLAIM_POSTGRES, [lease_end, token, now, kinds, settings.outbox_batch_size]
        )
        ids = [row["id"] for row in rows]
    else:
        ids = await _claim_one_by_one(now, lease_end, token, kinds, settings.outbox_batch_size)
    messages = await OutboxMessage.filter(id__in=ids, claim_token=token).order_by("due_at", "id")
    return Claim(token, messages)


async def _claim_one_by_one(
    now: datetime, lease_end: datetime, token: str, kinds: list[str], limit: int
) -> list[int]:
    due = (
        OutboxMessage.filter(_claimable(now), kind__in=kinds)
        .order_by("due_at", "id")
        .limit(limit)
        .values_list("id", flat=True)
    )
    candidates = cast("list[int]", await due)  # tortoise types flat values as tuples
    won = []
    for message_id in candidates:
        # The same conditions again, in the update itself: of two workers, one wins the row.
        taken = await OutboxMessage.filter(_claimable(now), id=message_id).update(
            claimed_until=lease_end, claim_token=token, attempts=F("attempts") + 1
        )
        if taken:
            won.append(message_id)
    return won


def _claimable(now: datetime) -> Q:
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    return Q(free, sent_at__isnull=True, due_at__lte=now)


async def send_claimed(rt: Runtime, claim: Claim, handlers: Mapping[str, Handler]) -> int:
    """Sends every message of the claim at once; returns how many were acknowledged."""
    sent = await asyncio.gather(*(_send(rt, claim.token, m, handlers) for m in claim.messages))
    return sum(sent)


async def _send(
    rt: Runtime, token: str, message: OutboxMessage, handlers: Mapping[str, Handler]
) -> bool:
    try:
        async with handler_time_limit(rt):
            await handlers[message.kind](json.loads(message.payload))
    except Exception as failure:  # any failure of a handler is a retry, never a lost message
        await record_failure(rt, token, message, error_text(failure))
        return False
    await acknowledge(rt, message.id)
    return True


def handler_time_limit(rt: Runtime) -> asyncio.Timeout:
    """Half the lease: a handler that hangs is given up while the claim still holds, so that
    its failure is recorded before another worker may take the message."""
    return asyncio.timeout(rt.settings.outbox_lease_seconds / 2)


def error_text(failure: BaseException) -> str:
    return f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__


async def acknowledge(rt: Runtime, message_id: int) -> None:
    """Sent: no claim ever takes the message again."""
    await OutboxMessage.filter(id=message_id, sent_at__isnull=True).update(
        sent_at=rt.clock.now(), claimed_until=None, claim_token=None, last_error=None
    )


async def record_failure(
    rt: Runtime, token: str, message: OutboxMessage | ClaimedMessage, error: str
) -> None:
    delay = backoff_seconds(rt.settings, message.attempts)
    log.warning(
        "outbox message not sent; retrying later",
        kind=message.kind,
        id=message.id,
        attempts=message.attempts,
        retry_in_seconds=round(delay, 1),
        error=error,
    )
    await OutboxMessage.filter(id=message.id, claim_token=token, sent_at__isnull=True).update(
        due_at=rt.clock.now() + timedelta(seconds=delay),
        claimed_until=None,
        claim_token=None,
        last_error=error.replace("\x00", "\ufffd")[:MAX_ERROR_LENGTH],  # text refuses NUL
    )


def backoff_seconds(settings: Settings, attempts: int) -> float:
    """The wait after the `attempts`-th failure: doubling from OUTBOX_BACKOFF_BASE_SECONDS up
    to OUTBOX_BACKOFF_MAX_SECONDS, then a random half of it taken off, so that messages that
    failed together (an agent down) do not all come back at the same moment."""
    exponent = min(max(attempts - 1, 0), 32)  # bounded: 2**32 * base is past any cap
    ceiling = min(
        settings.outbox_backoff_max_seconds, settings.outbox_backoff_base_seconds * 2.0**exponent
    )
    return ceiling * _random.uniform(0.5, 1.0)


async def depth() -> int:
    """Messages not yet acknowledged (the /metrics gauge: a growing depth is a stuck handler)."""
    return await OutboxMessage.filter(sent_at__isnull=True).count()


async def run_once(rt: Runtime, handlers: Mapping[str, Handler]) -> int:
    """One round of a worker: claim, send, record. Returns how many messages were claimed."""
    taken = await claim(rt, sorted(handlers))
    await send_claimed(rt, taken, handlers)
    return len(taken.messages)


async def run(rt: Runtime, handlers: Mapping[str, Handler]) -> None:
    """A worker, until cancelled: a full batch is followed at once by the next round, else it
    waits OUTBOX_POLL_SECONDS or until `rt.outbox_wakeup` is set. `handlers` may gain kinds
    while it runs (read every round)."""
    while True:
        rt.outbox_wakeup.clear()
        try:
            claimed = await run_once(rt, handlers)
        except Exception as error:  # the database may be away for a moment; keep the worker alive
            log_failure(log, "outbox round failed", error)
            claimed = 0
        if claimed < rt.settings.outbox_batch_size:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(rt.settings.outbox_poll_seconds):
                    await rt.outbox_wakeup.wait()
