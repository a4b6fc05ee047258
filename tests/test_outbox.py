"""The outbox (services/outbox.py): a message exists exactly when its transaction commits, is
sent by the app's worker, retried with backoff until it succeeds, never sent again after, and
never sent by two workers at once. FINISH_ACTIVATION reaches the reference SMSHub agent of
tests/smshub_agent.py through it.

Each test uses a message kind of its own: the app's worker claims only the kinds it has a
handler for, so a test's messages are handled by the test's handlers alone.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager

import pytest

from models import OutboxMessage
from services import outbox
from services.clock import Clock
from services.db import atomic
from services.runtime import Runtime
from settings import Settings
from suppliers.smshub import finish
from suppliers.smshub.protocol import FinishStatus
from tests import backends, supplier_helpers
from tests.api import Api
from tests.conftest import Server, settings_for
from tests.smshub_agent import Activation, SmsHubAgent

POLL_LIMIT_SECONDS = 10.0
FAST = {  # the app's worker, polling and retrying at once
    "outbox_poll_seconds": 0.01,
    "outbox_backoff_base_seconds": 0.01,
    "outbox_backoff_max_seconds": 0.02,
}


def a_kind() -> str:
    return f"test.{uuid.uuid4().hex[:12]}"


async def sent(kind: str, key: str | None = None) -> bool:
    """Every message of this kind (and key) is sent."""
    rows = OutboxMessage.filter(kind=kind, **({"key": key} if key else {}))
    return await rows.exists() and not await rows.filter(sent_at__isnull=True).exists()


async def enqueued(rt: Runtime, kind: str, key: str, payload: outbox.Payload) -> None:
    async with atomic() as conn:
        await outbox.enqueue(conn, rt, kind, key, payload)


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    """Waits (bounded) until `check()` is true: the app's worker runs on its own schedule."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + POLL_LIMIT_SECONDS
    while not await check():
        assert loop.time() < deadline, "the outbox worker did not get there"
        await asyncio.sleep(0.02)


@pytest.fixture
def clock(server: Server) -> Iterator[Clock]:
    """The app's clock, for a test to move; set back afterwards."""
    yield server.runtime.clock
    server.runtime.clock.reset()


@pytest.fixture
def handlers(server: Server) -> Iterator[dict[str, outbox.Handler]]:
    """The app's own handlers: what a test adds (or replaces) here the app's worker uses."""
    registered = server.runtime.outbox_handlers
    before = dict(registered)
    yield registered
    registered.clear()
    registered.update(before)


async def test_a_message_is_sent_by_the_app_after_its_transaction_commits(
    server: Server,
    handlers: dict[str, outbox.Handler],
    override_settings: Callable[..., Settings],
) -> None:
    override_settings(**FAST)
    received: list[outbox.Payload] = []

    async def record(payload: outbox.Payload) -> None:
        received.append(payload)

    kind = a_kind()
    handlers[kind] = record
    await enqueued(server.runtime, kind, "k1", {"activationId": 7, "status": 3})
    await until(lambda: sent(kind))
    assert received == [{"activationId": 7, "status": 3}]
    [row] = await OutboxMessage.filter(kind=kind)
    assert (row.attempts, row.last_error, row.claim_token) == (1, None, None)
    assert row.sent_at is not None


async def test_a_worker_asleep_for_its_poll_starts_a_round_when_woken(
    server: Server,
    handlers: dict[str, outbox.Handler],
    override_settings: Callable[..., Settings],
) -> None:
    """A worker sleeps OUTBOX_POLL_SECONDS between rounds, unless `rt.outbox_wakeup` is set
    (restoring a test's overridden settings sets it, so that no worker outlives a long poll)."""
    override_settings(outbox_poll_seconds=60.0)
    await asyncio.sleep(0.5)  # the round under the previous poll ends; the worker sleeps 60 s
    received: list[outbox.Payload] = []

    async def record(payload: outbox.Payload) -> None:
        received.append(payload)

    kind = a_kind()
    handlers[kind] = record
    await enqueued(server.runtime, kind, "k1", {"n": 1})
    await asyncio.sleep(0.5)
    assert received == [], "the worker ran a round during its 60 s poll"
    server.runtime.outbox_wakeup.set()
    await until(lambda: sent(kind))
    assert received == [{"n": 1}]


async def test_a_message_of_a_rolled_back_transaction_does_not_exist(server: Server) -> None:
    kind = a_kind()

    async def decide_then_fail() -> None:
        async with atomic() as conn:
            await outbox.enqueue(conn, server.runtime, kind, "k1", {})
            raise RuntimeError("the decision failed")

    with pytest.raises(RuntimeError, match="the decision failed"):
        await decide_then_fail()
    assert not await OutboxMessage.exists(kind=kind)


async def test_the_same_kind_and_key_twice_is_one_message(server: Server) -> None:
    kind = a_kind()
    await enqueued(server.runtime, kind, "k1", {"n": 1})
    async with atomic() as conn:  # a replayed decision, in one transaction with another
        await outbox.enqueue(conn, server.runtime, kind, "k1", {"n": 2})
        await outbox.enqueue(conn, server.runtime, kind, "k2", {"n": 3})
    rows = await OutboxMessage.filter(kind=kind).order_by("key").values_list("key", "payload")
    assert rows == [("k1", '{"n": 1}'), ("k2", '{"n": 3}')]


async def test_a_failure_is_recorded_and_retried_later(server: Server, clock: Clock) -> None:
    rt = server.runtime
    kind = a_kind()

    async def agent_down(payload: outbox.Payload) -> None:
        raise outbox.Retry("agent down")

    await enqueued(rt, kind, "k1", {})
    assert await outbox.run_once(rt, {kind: agent_down}) == 1
    [row] = await OutboxMessage.filter(kind=kind)
    assert (row.attempts, row.last_error, row.sent_at) == (1, "Retry: agent down", None)
    base = rt.settings.outbox_backoff_base_seconds
    assert row.due_at > rt.clock.now()
    assert (row.due_at - rt.clock.now()).total_seconds() <= base
    # Not due yet: the next round leaves it alone; once due, it is tried again.
    assert await outbox.run_once(rt, {kind: agent_down}) == 0
    clock.advance(base)
    assert await outbox.run_once(rt, {kind: agent_down}) == 1
    await row.refresh_from_db()
    assert row.attempts == 2


async def test_a_handler_that_hangs_is_given_up_and_retried(
    server: Server, override_settings: Callable[..., Settings]
) -> None:
    """A handler is bounded by half the lease, so a worker is never stuck on one message."""
    override_settings(outbox_lease_seconds=0.2)
    kind = a_kind()

    async def hangs(payload: outbox.Payload) -> None:
        await asyncio.Event().wait()

    await enqueued(server.runtime, kind, "k1", {})
    assert await outbox.run_once(server.runtime, {kind: hangs}) == 1
    [row] = await OutboxMessage.filter(kind=kind)
    assert (row.attempts, row.last_error, row.claim_token, row.sent_at) == (
        1,
        "TimeoutError",
        None,
        None,
    )


async def test_a_handler_that_crashes_is_retried_like_any_failure(server: Server) -> None:
    kind = a_kind()

    async def crashes(payload: outbox.Payload) -> None:
        raise KeyError(payload["missing"])

    await enqueued(server.runtime, kind, "k1", {})
    assert await outbox.run_once(server.runtime, {kind: crashes}) == 1
    [row] = await OutboxMessage.filter(kind=kind)
    assert (row.attempts, row.last_error, row.sent_at) == (1, "KeyError: 'missing'", None)


def test_backoff_doubles_up_to_its_cap_with_jitter() -> None:
    settings = Settings(outbox_backoff_base_seconds=2.0, outbox_backoff_max_seconds=60.0)
    for attempts, ceiling in [(1, 2.0), (2, 4.0), (3, 8.0), (5, 32.0), (6, 60.0), (500, 60.0)]:
        waits = {outbox.backoff_seconds(settings, attempts) for _ in range(20)}
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
        assert len(waits) > 1  # jittered: messages failing together come back apart


# -- FINISH_ACTIVATION to an SMSHub agent ---------------------------------------------------------
@asynccontextmanager
async def finishing_to(api: Api, agent: SmsHubAgent) -> AsyncIterator[str]:
    """The agent served and registered (its URL, the key it is shown), so that the app's own
    FINISH_ACTIVATION handler finds it in the registry; yields its supplier's code. Switched
    off afterwards: no later test routes to it."""
    async with agent.serving() as url:
        supplier, agent.key = await supplier_helpers.smshub_agent(api, url)
        try:
            yield supplier["code"]
        finally:
            await supplier_helpers.switch_off(api, supplier["id"])


@pytest.mark.parametrize("failure", ["error", "http_500", "html", "silent"])
async def test_finish_activation_is_retried_until_success_and_never_sent_again(
    api: Api,
    handlers: dict[str, outbox.Handler],
    override_settings: Callable[..., Settings],
    clock: Clock,
    failure: str,
) -> None:
    override_settings(**FAST, smshub_call_deadline_seconds=0.2)  # "silent" costs this, no more
    rt = api.rt
    agent = SmsHubAgent(numbers={"russia": [79281234567]}, finish_failures=3)
    agent.finish_failure = failure  # type: ignore[assignment]
    async with finishing_to(api, agent) as supplier_code:
        got = agent_activation(agent)
        async with atomic() as conn:
            await finish.enqueue(conn, rt, supplier_code, got, FinishStatus.SOLD)
        key = f"{supplier_code}:{got}"
        await until(lambda: sent(finish.KIND, key))
        [row] = await OutboxMessage.filter(kind=finish.KIND, key=key)
        assert agent.finish_calls == [(got, 3)] * 4  # three failures, then SUCCESS
        assert (row.attempts, row.last_error) == (4, None)
        assert row.sent_at is not None

        # Long after, with the worker running all along: nothing is sent again.
        clock.advance(rt.settings.outbox_lease_seconds * 10)
        for _ in range(3):
            await outbox.run_once(rt, handlers)
        assert agent.finish_calls == [(got, 3)] * 4
        assert agent.activations[got].finished_with == 3


def agent_activation(agent: SmsHubAgent) -> int:
    """An activation the agent has given (as its GET_NUMBER does)."""
    activation_id = 5000 + len(agent.activations)
    agent.activations[activation_id] = Activation(agent.numbers["russia"][0], "tg")
    return activation_id


# -- several workers ------------------------------------------------------------------------------
@asynccontextmanager
async def another_process(server: Server, backend: backends.Backend) -> AsyncIterator[Runtime]:
    """A second runtime on the same database, with connections of its own, as the worker of
    another app process has."""
    rt = Runtime(settings_for(backend, outbox_batch_size=server.settings.outbox_batch_size))
    with rt.database.activate():
        await rt.open()
    try:
        yield rt
    finally:
        await rt.close()


async def drain(rt: Runtime, handlers: dict[str, outbox.Handler]) -> None:
    with rt.database.activate():
        while await outbox.run_once(rt, handlers):
            pass


async def test_two_workers_never_both_send_a_message(
    server: Server, backend: backends.Backend, override_settings: Callable[..., Settings]
) -> None:
    """Worker A claims a batch and is held inside its sends; worker B, another process's,
    claims meanwhile and gets only the rest. Then both race over more messages, a few at a
    time. Every message is sent exactly once."""
    kind = a_kind()
    batch = server.settings.outbox_batch_size
    for i in range(batch + 10):
        await enqueued(server.runtime, kind, f"first-{i}", {"i": i})
    calls: Counter[int] = Counter()
    release = asyncio.Event()

    async def held(payload: outbox.Payload) -> None:
        calls[payload["i"]] += 1
        await release.wait()

    async def quick(payload: outbox.Payload) -> None:
        calls[payload["i"]] += 1

    async with another_process(server, backend) as other:
        worker_a = asyncio.create_task(outbox.run_once(server.runtime, {kind: held}))

        async def a_is_holding() -> bool:
            return len(calls) == batch

        await until(a_is_holding)
        with other.database.activate():
            assert await outbox.run_once(other, {kind: quick}) == 10
        release.set()
        assert await worker_a == batch
        assert sorted(calls) == list(range(batch + 10))
        assert set(calls.values()) == {1}

        override_settings(outbox_batch_size=3)
        other.settings = dataclasses.replace(other.settings, outbox_batch_size=3)
        for i in range(100, 160):
            await enqueued(server.runtime, kind, f"second-{i}", {"i": i})
        await asyncio.gather(drain(server.runtime, {kind: quick}), drain(other, {kind: quick}))
    assert sorted(calls) == [*range(batch + 10), *range(100, 160)]
    assert set(calls.values()) == {1}
    assert await sent(kind)
