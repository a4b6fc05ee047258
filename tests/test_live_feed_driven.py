"""graphql-transport-ws subscriptions hold no task of their own while idle (issue 11: one task
per socket, subscriptions/driven.py), and still deliver, complete and close as before."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from subscriptions import channels
from tests import live
from tests.api import Api, User
from tests.test_live_feed_protocol import init, subscribe_message

BALANCE_TEXT = "subscription { balanceChanges { cursor balance { amount } } }"
# The coroutines that run an operation: strawberry's task per operation, and our driver's
# tasks, which exist only while a feed has something to read or send.
OPERATION_COROUTINES = {"run_operation", "_open", "_pull"}


def operation_tasks() -> list[asyncio.Task[object]]:
    return [
        task
        for task in asyncio.all_tasks()
        if not task.done() and task.get_coro().__name__ in OPERATION_COROUTINES  # type: ignore[union-attr]
    ]


async def no_operation_task_left(timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while operation_tasks():
        if loop.time() > deadline:
            raise AssertionError(f"operation tasks still running: {operation_tasks()}")
        await asyncio.sleep(0.01)


async def everything_sent(socket: object, quiet: float = 0.5) -> list[dict[str, object]]:
    """Messages until the socket has been quiet for `quiet` seconds (at least one)."""
    messages = [await live.receive(socket)]
    while True:
        try:
            messages.append(await live.receive(socket, timeout=quiet))
        except TimeoutError:
            return messages


@asynccontextmanager
async def idle_feed_of_all(api: Api, user: User) -> AsyncIterator[Any]:
    """A socket with one subscription "all" to the user's events, subscribed and idle."""
    async with live.raw_socket(api.server.url) as socket:
        await init(socket, user.token)
        await live.receive(socket)
        await live.send(socket, subscribe_message(live.TRANSPORT_WS, "all"))
        await live.wait_subscribed(api.rt.bus, user.id)
        await no_operation_task_left()
        yield socket


async def test_idle_subscriptions_hold_no_task_and_still_deliver(api: Api) -> None:
    user = await api.funded_user()
    activation = await api.bought(user)
    async with live.raw_socket(api.server.url) as socket:
        await init(socket, user.token)
        assert (await live.receive(socket))["type"] == "connection_ack"
        await live.send(socket, subscribe_message(live.TRANSPORT_WS, "all"))
        await live.send(
            socket,
            subscribe_message(live.TRANSPORT_WS, "one", {"activationId": activation["id"]}),
        )
        balance = {"type": "subscribe", "id": "balance", "payload": {"query": BALANCE_TEXT}}
        await live.send(socket, balance)
        await live.wait_subscribed(api.rt.bus, user.id, count=3)
        await no_operation_task_left()
        # Idle, the socket still answers a ping at once.
        await live.send(socket, {"type": "ping"})
        assert (await live.receive(socket))["type"] == "pong"

        await api.deliver_sms(activation["phoneNumber"], "Telegram code: 31337")
        received = await everything_sent(socket)
        sms_events = {
            m["id"]: m["payload"]["data"]["activationEvents"]
            for m in received
            if m["type"] == "next" and m["payload"]["data"]["activationEvents"]["sms"]
        }
        assert set(sms_events) == {"all", "one"}  # both feeds; the balance did not change
        for event in sms_events.values():
            assert event["sms"]["code"] == "31337"
            assert event["activation"]["id"] == activation["id"]
        await no_operation_task_left()
        assert api.rt.bus.subscriber_count(channels.user_channel(user.id)) == 3


async def test_notifications_while_a_feed_reads_are_not_lost(api: Api) -> None:
    """Several SMS at once, each waking the feed while it may be reading: every one arrives,
    once."""
    user = await api.funded_user()
    activation = await api.bought(user)
    async with idle_feed_of_all(api, user) as socket:
        codes = [f"{40000 + n}" for n in range(4)]
        await asyncio.gather(
            *(api.deliver_sms(activation["phoneNumber"], f"Your code: {c}") for c in codes)
        )
        received = await everything_sent(socket)
    events = [m["payload"]["data"]["activationEvents"] for m in received]  # type: ignore[index]
    assert sorted(e["sms"]["code"] for e in events if e["sms"]) == codes
    cursors = [e["cursor"] for e in events]
    assert len(set(cursors)) == len(cursors)


async def test_complete_ends_the_feed_and_its_bus_subscription(api: Api) -> None:
    user = await api.funded_user()
    activation = await api.bought(user)
    async with idle_feed_of_all(api, user) as socket:
        await live.send(socket, {"type": "complete", "id": "all"})
        await live.wait_unsubscribed(api.rt.bus, user.id)
        await api.deliver_sms(activation["phoneNumber"], "Telegram code: 55555")
        with pytest.raises(TimeoutError):
            await live.receive(socket, timeout=0.5)
        # The id is free again: the same id subscribes anew and receives what it missed.
        await live.send(socket, subscribe_message(live.TRANSPORT_WS, "all"))
        await live.send(
            socket,
            subscribe_message(live.TRANSPORT_WS, "again", {"activationId": activation["id"]}),
        )
        replayed = await live.receive(socket)
    assert replayed["id"] == "again"
    assert replayed["payload"]["data"]["activationEvents"]["sms"]["code"] == "55555"


async def test_a_socket_closed_mid_feed_leaves_no_task_and_no_subscription(api: Api) -> None:
    user = await api.funded_user()
    activation = await api.bought(user)
    for n in range(5):
        await api.deliver_sms(activation["phoneNumber"], f"Telegram code: {70000 + n}")
    async with live.raw_socket(api.server.url) as socket:
        await init(socket, user.token)
        await live.receive(socket)
        await live.send(
            socket,
            subscribe_message(live.TRANSPORT_WS, "one", {"activationId": activation["id"]}),
        )
        await live.receive(socket)  # the replay has started; the socket closes now
    await live.wait_unsubscribed(api.rt.bus, user.id)
    await no_operation_task_left()


@pytest.mark.parametrize("protocol", [live.TRANSPORT_WS, live.LEGACY_WS])
async def test_each_event_reads_the_activations_messages_afresh(api: Api, protocol: str) -> None:
    """A socket's context lives as long as the socket: what one event loaded (an activation's
    messages) must not be served again, stale, to the next."""
    user = await api.funded_user()
    activation = await api.bought(user)
    query = """subscription($id: ID) { activationEvents(activationId: $id) {
        kind sms { code } activation { messages { code } } } }"""
    async with live.raw_socket(api.server.url, protocol) as socket:
        await init(socket, user.token)
        assert (await live.receive(socket))["type"] == "connection_ack"
        message = subscribe_message(protocol, "one", {"id": activation["id"]})
        message["payload"] = {"query": query, "variables": {"id": activation["id"]}}
        await live.send(socket, message)
        await live.wait_subscribed(api.rt.bus, user.id)
        seen: list[list[str]] = []
        for code in ("11111", "22222"):
            await api.deliver_sms(activation["phoneNumber"], f"Telegram code: {code}")
            for sent in await everything_sent(socket):
                if sent["type"] not in ("next", "data"):  # graphql-ws sends keep-alives too
                    continue
                event = sent["payload"]["data"]["activationEvents"]  # type: ignore[index]
                if event["sms"]:
                    seen.append([m["code"] for m in event["activation"]["messages"]])
    assert seen == [["11111"], ["11111", "22222"]]
