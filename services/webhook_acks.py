"""Delivered webhook POSTs recorded a batch at a time (PostgreSQL; ADR 0018).

A delivered POST is logged (its webhook_delivery row) and acknowledged (its outbox message)
by one statement; here one statement does that for every POST delivered within FLUSH_SECONDS
of the first, up to MAX_BATCH of them: at a thousand POSTs a second, a few dozen statements
instead of a thousand. Each sender waits for its batch to be written, so a sender that returns
has its outcome stored. A crash before the write leaves those messages claimed: their lease
ends and they are sent again, as after any crash mid-POST (delivery is at least once, and the
Idempotency-Key lets the receiver see it).
"""

from __future__ import annotations

import asyncio
from dataclasses import astuple, dataclass
from datetime import datetime

from tortoise import connections

from models import DeliveryStatus
from services.db import text_array

MAX_BATCH = 100
FLUSH_SECONDS = 0.005

_PENDING = f"'{DeliveryStatus.PENDING.value}'"

# One row per POST, as parallel arrays: $1 delivery, $2 the attempt's start, $3 when it ended,
# $4 status code, $5 excerpt, $6 outbox message, $7 the message's claim token. Each is sent as
# text[] and cast here (services/db.py text_array: no type introspection per connection).
DELIVERED = f"""
WITH done AS (
  SELECT * FROM unnest($1::text[]::bigint[], $2::text[]::timestamptz[],
    $3::text[]::timestamptz[], $4::text[]::int[], $5::text[], $6::text[]::bigint[], $7::text[])
    AS t(delivery_id, started, finished, status_code, excerpt, message_id, token)
), logged AS (
  UPDATE webhook_delivery AS d SET status = '{DeliveryStatus.DELIVERED.value}',
    attempts = d.attempts + 1, last_attempt_at = done.started, delivered_at = done.finished,
    last_status_code = done.status_code, response_excerpt = done.excerpt, last_error = NULL
  FROM done WHERE d.id = done.delivery_id AND d.status = {_PENDING}
  RETURNING d.id
)
UPDATE outbox_message AS m SET sent_at = done.finished, claimed_until = NULL,
  claim_token = NULL, last_error = NULL
FROM done WHERE m.id = done.message_id AND m.claim_token = done.token AND m.sent_at IS NULL
"""  # noqa: S608 (constants only; every value is a parameter)


@dataclass(frozen=True)
class Delivered:
    delivery_id: int
    started: datetime
    finished: datetime
    status_code: int
    excerpt: str
    message_id: int
    claim_token: str


class Acknowledgements:
    """The batches of one webhook worker."""

    def __init__(self) -> None:
        self._batch: list[tuple[Delivered, asyncio.Future[None]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._writing: set[asyncio.Task[None]] = set()

    async def record(self, delivered: Delivered) -> None:
        """Returns once its row is written; raises what writing it raised."""
        loop = asyncio.get_running_loop()
        written: asyncio.Future[None] = loop.create_future()
        written.add_done_callback(_retrieved)
        if not self._batch:
            self._timer = loop.call_later(FLUSH_SECONDS, self._flush)
        self._batch.append((delivered, written))
        if len(self._batch) >= MAX_BATCH:
            self._flush()
        # Shielded: a sender cancelled meanwhile (shutdown) leaves its row to be written.
        await asyncio.shield(written)

    def _flush(self) -> None:
        batch, self._batch = self._batch, []
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not batch:
            return
        task = asyncio.create_task(_write(batch))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    async def close(self) -> None:
        """Writes what is pending and waits for the writes in progress."""
        self._flush()
        await asyncio.gather(*self._writing, return_exceptions=True)


async def _write(batch: list[tuple[Delivered, asyncio.Future[None]]]) -> None:
    """The batch in one statement; if that fails, each row in one of its own, so that a row
    the database refuses fails its own sender only (the others are not left claimed, to be
    POSTed again when their lease ends)."""
    try:
        try:
            await _execute([row for row, _ in batch])
        except Exception:
            if len(batch) == 1:
                raise
            for row, written in batch:
                await _write([(row, written)])
            return
    except BaseException as error:  # the sender sees it (and logs it); cancelled: shut down
        for _, written in batch:
            if written.done():
                continue
            if isinstance(error, asyncio.CancelledError):
                written.cancel()
            else:
                written.set_exception(error)
        if not isinstance(error, Exception):
            raise
    else:
        for _, written in batch:
            if not written.done():
                written.set_result(None)


async def _execute(rows: list[Delivered]) -> None:
    columns = [text_array(column) for column in zip(*(astuple(row) for row in rows), strict=True)]
    await connections.get("default").execute_query(DELIVERED, columns)


def _retrieved(future: asyncio.Future[None]) -> None:
    """A failed write whose sender was cancelled is not an 'exception never retrieved' (it
    logged nothing; the message's lease ends and it is sent again)."""
    if not future.cancelled():
        future.exception()
