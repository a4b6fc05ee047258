"""Pruning the outbox (services/outbox_pruning.py): a message sent more than
OUTBOX_KEEP_SENT_HOURS ago is deleted by the app's background job, in bounded batches, by any
number of processes at once; a message not sent yet is never deleted, however old, nor is a
recent one.

The app's own job prunes with the app's clock: a test that must not race it prunes from
another process whose clock alone is moved (the app's job then sees nothing old enough).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from models import OutboxMessage
from services import outbox
from services.outbox_pruning import prune_sent
from services.runtime import Runtime
from settings import Settings
from tests import backends
from tests.conftest import Server
from tests.test_outbox import a_kind, another_process, enqueued, until

HOUR = 3600.0


async def acknowledged(payload: outbox.Payload) -> None:
    """A handler that succeeds at once."""


async def refused(payload: outbox.Payload) -> None:
    raise outbox.Retry("agent down")


async def sent_messages(rt: Runtime, kind: str, keys: list[str]) -> None:
    for key in keys:
        await enqueued(rt, kind, key, {})
    while await outbox.run_once(rt, {kind: acknowledged}):
        pass


async def kept(kind: str) -> set[str]:
    """The keys of the messages of this kind still in the table."""
    return set(await OutboxMessage.filter(kind=kind).values_list("key", flat=True))


async def pruned_from(rt: Runtime, batch: int) -> int:
    with rt.database.activate():
        return await prune_sent(rt, batch)


async def test_the_app_prunes_sent_messages_past_the_setting_and_nothing_else(
    server: Server, override_settings: Callable[..., Settings]
) -> None:
    rt = server.runtime
    kind, recent_kind = a_kind(), a_kind()  # sending the recent one must not send the others
    await sent_messages(rt, kind, ["old"])
    await enqueued(rt, kind, "failing", {})
    assert await outbox.run_once(rt, {kind: refused}) == 1
    await enqueued(rt, kind, "waiting", {})  # never claimed: no handler of this app has its kind
    try:
        rt.clock.advance(3 * HOUR)
        await sent_messages(rt, recent_kind, ["recent"])
        # By default (72 h) three hours is not old enough: nothing goes.
        await prune_sent(rt)
        assert await kept(kind) == {"old", "failing", "waiting"}

        override_settings(outbox_keep_sent_hours=2.0)

        async def old_is_gone() -> bool:
            return "old" not in await kept(kind)

        await until(old_is_gone)  # the app's background job, with the setting changed
    finally:
        rt.clock.reset()
    assert await kept(kind) == {"failing", "waiting"}
    assert await kept(recent_kind) == {"recent"}
    failing = await OutboxMessage.get(kind=kind, key="failing")
    assert (failing.sent_at, failing.last_error) == (None, "Retry: agent down")


def test_the_setting_comes_from_the_environment_and_keeps_sent_messages_a_while(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While a sent message is kept, its (kind, key) enqueued again is a no-op: keeping none
    at all would be refused at start-up."""
    monkeypatch.setenv("OUTBOX_KEEP_SENT_HOURS", "12.5")
    assert Settings.from_env(env_file=None).outbox_keep_sent_hours == 12.5
    monkeypatch.setenv("OUTBOX_KEEP_SENT_HOURS", "0")
    with pytest.raises(ValueError, match="OUTBOX_KEEP_SENT_HOURS"):
        Settings.from_env(env_file=None)


async def test_pruning_goes_by_bounded_batches_and_again_finds_nothing_to_do(
    server: Server, backend: backends.Backend
) -> None:
    kind = a_kind()
    keys = [f"sent-{i}" for i in range(5)]
    await sent_messages(server.runtime, kind, keys)
    await enqueued(server.runtime, kind, "waiting", {})  # after the sends: never claimed
    async with another_process(server, backend) as other:
        other.clock.advance(server.settings.outbox_keep_sent_hours * HOUR + HOUR)
        # Other tests' sent messages are as old: at least these five are there to delete.
        assert await pruned_from(other, batch=2) == 2
        assert len(await kept(kind) & set(keys)) >= 3
        while deleted := await pruned_from(other, batch=2):
            assert deleted <= 2
        assert await kept(kind) == {"waiting"}
        assert await pruned_from(other, batch=2) == 0
    assert await kept(kind) == {"waiting"}


async def test_several_processes_prune_at_once_without_failing(
    server: Server, backend: backends.Backend
) -> None:
    kind = a_kind()
    await sent_messages(server.runtime, kind, [f"sent-{i}" for i in range(12)])
    await enqueued(server.runtime, kind, "waiting", {})  # after the sends: never claimed
    batches: list[int] = []

    async def prune_all(rt: Runtime) -> None:
        while deleted := await pruned_from(rt, batch=3):
            batches.append(deleted)
            await asyncio.sleep(0)  # let the other process choose the same rows meanwhile

    async with another_process(server, backend) as one, another_process(server, backend) as two:
        for rt in (one, two):
            rt.clock.advance(server.settings.outbox_keep_sent_hours * HOUR + HOUR)
        await asyncio.gather(prune_all(one), prune_all(two))
    assert sum(batches) >= 12
    assert all(0 < n <= 3 for n in batches)
    assert await kept(kind) == {"waiting"}
