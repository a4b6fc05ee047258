"""The webhook worker of one process: sends users' webhook deliveries from the outbox
(services/outbox.py, kind user_webhooks.KIND) as soon as they are committed.

Unlike the outbox's own worker, which sends a claimed batch and waits for all of it, this one
starts each POST as a task of its own and claims more while they run: a receiver that never
answers holds one slot for WEBHOOK_TIMEOUT_SECONDS, not the others' deliveries. At most
WEBHOOK_MAX_IN_FLIGHT POSTs run at once, and at most WEBHOOK_MAX_IN_FLIGHT_PER_USER to one user
(a user whose slots are all taken waits for one; past WEBHOOK_TIMEOUT_SECONDS the delivery is
put back for a retry, so one user's flood cannot take the others' places). Ingest sets
`rt.webhook_wakeup` after a commit that wrote deliveries; the worker also polls, every
OUTBOX_POLL_SECONDS, for retries fallen due and for deliveries committed by other processes.
Claims are the outbox's: safe with any number of processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Coroutine
from typing import TYPE_CHECKING, Any

import structlog

from services import outbox, user_webhooks, webhook_acks, webhook_delivery, webhook_http
from services.db import is_postgres, log_failure

if TYPE_CHECKING:
    from services.runtime import Runtime

log = structlog.get_logger("user_webhooks")


class PerUserSlots:
    """At most `limit` holders per user at once, in this process."""

    def __init__(self, limit: int, wait_seconds: float) -> None:
        self.limit = limit
        self.wait_seconds = wait_seconds
        self._semaphores: dict[int, asyncio.Semaphore] = {}
        self._users: dict[int, int] = {}  # holders and waiters per user, to forget idle users

    @contextlib.asynccontextmanager
    async def slot(self, user_id: int) -> AsyncIterator[None]:
        semaphore = self._semaphores.setdefault(user_id, asyncio.Semaphore(self.limit))
        self._users[user_id] = self._users.get(user_id, 0) + 1
        try:
            try:
                async with asyncio.timeout(self.wait_seconds):
                    await semaphore.acquire()
            except TimeoutError:
                raise outbox.Retry(f"{self.limit} deliveries to this webhook in flight") from None
            try:
                yield
            finally:
                semaphore.release()
        finally:
            self._users[user_id] -= 1
            if not self._users[user_id]:
                del self._users[user_id], self._semaphores[user_id]


async def run(rt: Runtime, verify: ssl.SSLContext | bool = True) -> None:
    """Until cancelled. `verify`: the TLS trust of the POSTs (the system's by default)."""
    settings = rt.settings
    slots = PerUserSlots(settings.webhook_max_in_flight_per_user, settings.webhook_timeout_seconds)
    acks = webhook_acks.Acknowledgements()
    async with webhook_http.clients(settings, verify) as http:
        handlers = {user_webhooks.KIND: webhook_delivery.handler(rt, http, slots.slot)}
        in_flight: set[asyncio.Task[Any]] = set()
        try:
            while True:
                rt.webhook_wakeup.clear()
                if is_postgres():
                    claimed = await _claim_jobs_and_start(rt, http, slots, acks, in_flight)
                else:
                    claimed = await _claim_and_start(rt, handlers, in_flight)
                if claimed == rt.settings.outbox_batch_size:
                    continue  # more may be due at once
                await _wait(rt, in_flight)
        finally:
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
            await acks.close()  # what was delivered before the end is recorded


async def _claim_jobs_and_start(
    rt: Runtime,
    http: webhook_http.Clients,
    slots: PerUserSlots,
    acks: webhook_acks.Acknowledgements,
    in_flight: set[asyncio.Task[Any]],
) -> int:
    """PostgreSQL: one statement claims a batch with all its POSTs need (no query per POST
    before it is sent, docs/adr/0013)."""
    if len(in_flight) >= rt.settings.webhook_max_in_flight:
        return 0
    try:
        token, jobs = await webhook_delivery.claim_jobs(rt, user_webhooks.KIND)
    except Exception as error:  # the database may be away for a moment; keep the worker alive
        log_failure(log, "claiming webhook deliveries failed", error)
        return 0
    for job in jobs:
        sending = webhook_delivery.send_claimed_job(rt, http, slots.slot, acks, token, job)
        _start(in_flight, sending)
    return len(jobs)


async def _claim_and_start(
    rt: Runtime, handlers: dict[str, outbox.Handler], in_flight: set[asyncio.Task[Any]]
) -> int:
    if len(in_flight) >= rt.settings.webhook_max_in_flight:
        return 0
    try:
        taken = await outbox.claim(rt, [user_webhooks.KIND])
    except Exception as error:  # the database may be away for a moment; keep the worker alive
        log_failure(log, "claiming webhook deliveries failed", error)
        return 0
    for message in taken.messages:
        one = outbox.Claim(taken.token, [message])
        _start(in_flight, outbox.send_claimed(rt, one, handlers))
    return len(taken.messages)


def _start(in_flight: set[asyncio.Task[Any]], sending: Coroutine[Any, Any, Any]) -> None:
    """Each POST a task of its own: one slow receiver holds only its own slot."""
    task = asyncio.create_task(_logged(sending))
    in_flight.add(task)
    task.add_done_callback(in_flight.discard)


async def _logged(sending: Coroutine[Any, Any, Any]) -> None:
    try:
        await sending
    except Exception as error:  # recording the outcome failed; the lease ends and it is sent again
        log_failure(log, "sending a webhook delivery failed", error)


async def _wait(rt: Runtime, in_flight: set[asyncio.Task[Any]]) -> None:
    """Until a wake-up, the next poll, or (when full) a POST ends."""
    wakeup = asyncio.ensure_future(rt.webhook_wakeup.wait())
    waits: set[asyncio.Future[Any]] = {wakeup}
    if len(in_flight) >= rt.settings.webhook_max_in_flight:
        waits |= in_flight
    try:
        poll = rt.settings.outbox_poll_seconds
        await asyncio.wait(waits, timeout=poll, return_when=asyncio.FIRST_COMPLETED)
    finally:
        wakeup.cancel()
