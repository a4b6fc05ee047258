"""`smsrooms webhook-worker` (ADR 0018): with WEBHOOK_WORKER_IN_APP off, the app sends no user
webhook itself; a worker process apart sends them, signed as the app's own worker does. On
PostgreSQL + Redis the app wakes it over the event bus after each commit (the worker polls
only every 30 s here, so a POST within a second proves the wake-up); on the in-process bus,
which does not cross processes, it polls."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from models import DeliveryStatus, WebhookDelivery
from tests import backends
from tests.api import Api
from tests.conftest import SECRETS_KEY, Server, running, settings_for
from tests.test_cli import SMSROOMS, environment
from tests.test_user_webhooks import (
    assert_signed,
    delivery_when,
    sms_to_new_activation,
    webhook_user,
)
from tests.webhook_receiver import Receiver, receiving

WORKER_POLL_SECONDS = {"postgres": "30", "sqlite": "0.2"}
APP_POLL_SECONDS = 0.05  # the app's outbox worker: it would have sent within this, were it on
STOP_SECONDS = 15.0


@dataclass
class Apart:
    api: Api
    server: Server
    receiver: Receiver
    worker_env: dict[str, str]
    cwd: Path


@pytest.fixture
async def apart(backend: backends.Backend, tmp_path: Path) -> AsyncIterator[Apart]:
    """An app with its webhook worker off, on a database of its own (the session's server
    would send these deliveries with its own worker), and a receiver on loopback."""
    async with backends.own_database(backend, tmp_path, "hooks") as url:
        prefix = f"{backend.redis_prefix}hooks:"
        settings = settings_for(
            backend,
            database_url=url,
            redis_prefix=prefix,
            webhooks_allow_private=True,
            webhook_worker_in_app=False,
            outbox_poll_seconds=APP_POLL_SECONDS,
        )
        worker_env = environment(
            backend,
            url,
            REDIS_PREFIX=prefix,
            SECRETS_KEY=SECRETS_KEY,
            WEBHOOKS_ALLOW_PRIVATE="on",
            OUTBOX_POLL_SECONDS=WORKER_POLL_SECONDS[backend.name],
        )
        async with (
            running(settings) as server,
            httpx.AsyncClient(base_url=server.url, timeout=30) as client,
            receiving(Receiver()) as receiver,
        ):
            with server.runtime.database.activate():  # the stored state read is this app's
                yield Apart(Api(client, server), server, receiver, worker_env, tmp_path)


@dataclass
class Worker:
    process: asyncio.subprocess.Process
    output: list[str]

    async def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), STOP_SECONDS)


async def started_worker(apart: Apart) -> Worker:
    """`smsrooms webhook-worker`, once it says it is up (subscribed to the bus)."""
    process = await asyncio.create_subprocess_exec(
        str(SMSROOMS),
        "webhook-worker",
        env=apart.worker_env,
        cwd=apart.cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    worker = Worker(process, [])
    assert process.stdout is not None
    async with asyncio.timeout(60):
        while "webhook worker is up" not in (worker.output[-1] if worker.output else ""):
            line = await process.stdout.readline()
            assert line, "the worker ended before it was up:\n" + "".join(worker.output)
            worker.output.append(line.decode())
    return worker


async def test_the_app_sends_nothing_and_a_worker_apart_sends_each_sms_signed(
    apart: Apart,
) -> None:
    user, secret = await webhook_user(apart.api, apart.receiver.url)
    first = await sms_to_new_activation(apart.api, user, "48213")
    await asyncio.sleep(20 * APP_POLL_SECONDS)  # the app's own worker would have sent it by now
    waiting = await WebhookDelivery.get(activation_id=int(first["id"]))
    assert (waiting.status, waiting.attempts) == (DeliveryStatus.PENDING, 0)
    assert apart.receiver.received.empty()

    worker = await started_worker(apart)
    try:
        received = await apart.receiver.next()  # the one queued before it started
        assert_signed(received, secret)
        assert received.json["activationId"] == int(first["id"])
        sent = await delivery_when(first["id"], lambda d: d.status == DeliveryStatus.DELIVERED)
        assert (sent.attempts, received.headers["idempotency-key"]) == (1, sent.idempotency_key)

        # A new SMS now: woken over Redis (PostgreSQL), or at its next poll (SQLite).
        second = await sms_to_new_activation(apart.api, user, "55120")
        async with asyncio.timeout(1.0 if apart.server.backend == "postgres" else 5.0):
            received = await apart.receiver.next()
        assert_signed(received, secret)
        assert (received.json["activationId"], received.json["code"]) == (
            int(second["id"]),
            "55120",
        )
    finally:
        status = await worker.stop()
    rest = await worker.process.stdout.read() if worker.process.stdout else b""
    output = "".join(worker.output) + rest.decode()
    assert status == 0, output
    assert "webhook worker stopped" in output
    assert "Traceback" not in output, output
