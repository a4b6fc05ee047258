"""The live code feed (`activationEvents`) through real subscription clients, on both pairs."""

from __future__ import annotations

import base64
import os
import socket
from typing import Any

import pytest

from tests import live
from tests.api import Api


async def test_code_is_pushed_the_moment_it_arrives(api: Api) -> None:
    user = await api.funded_user()
    activation = await api.bought(user)
    async with live.events(api.server.url, user.token, activationId=activation["id"]) as feed:
        await live.wait_subscribed(api.rt.bus, user.id)
        await api.deliver_sms(activation["phoneNumber"], "Telegram code: 55123. Do not share")
        sms, status = await feed.take(2)
    assert sms["kind"] == "SMS_RECEIVED"
    assert sms["sms"]["code"] == "55123"
    assert status["kind"] == "STATUS_CHANGED"
    assert status["activation"]["status"] == "RECEIVED"
    assert sms["cursor"] != status["cursor"]


@pytest.mark.parametrize("protocol", [live.TRANSPORT_WS, live.LEGACY_WS])
async def test_both_protocols_deliver(api: Api, protocol: str) -> None:
    user = await api.funded_user()
    activation = await api.bought(user)
    async with live.events(
        api.server.url, user.token, protocol, activationId=activation["id"]
    ) as feed:
        await live.wait_subscribed(api.rt.bus, user.id)
        await api.deliver_sms(activation["phoneNumber"], "Telegram code: 77001")
        event = await feed.next()
    assert event["sms"]["code"] == "77001"


async def test_replay_sends_stored_sms_first(api: Api) -> None:
    user = await api.funded_user()
    activation = await api.bought(user)
    await api.deliver_sms(activation["phoneNumber"], "Telegram code: 11111")
    await api.deliver_sms(activation["phoneNumber"], "Telegram code: 22222")
    async with live.events(api.server.url, user.token, activationId=activation["id"]) as feed:
        replayed = await feed.take(2)
        assert [e["sms"]["code"] for e in replayed] == ["11111", "22222"]
        assert await feed.nothing_more()
        await api.deliver_sms(activation["phoneNumber"], "Telegram code: 33333")
        live_event = await feed.next()
    assert live_event["sms"]["code"] == "33333"


async def test_resume_after_cursor_sends_what_was_missed_once(api: Api) -> None:
    user = await api.funded_user()
    first = await api.bought(user)
    async with live.events(api.server.url, user.token) as feed:
        await live.wait_subscribed(api.rt.bus, user.id)
        await api.deliver_sms(first["phoneNumber"], "Telegram code: 40001")
        seen = await feed.take(2)  # SMS_RECEIVED, STATUS_CHANGED
    cursor = seen[0]["cursor"]  # resume from the middle: the status change is "missed" too
    # While disconnected: another SMS, and a new purchase that gets cancelled.
    await api.deliver_sms(first["phoneNumber"], "Telegram code: 40002")
    second = await api.bought(user, "US", "wa")
    await api.act(user, "cancelActivation", second["id"])
    async with live.events(api.server.url, user.token, after=cursor) as feed:
        missed = await feed.take(4)
        assert await feed.nothing_more()
    assert [(e["kind"], e["activation"]["id"], e["activation"]["status"]) for e in missed] == [
        ("STATUS_CHANGED", first["id"], "RECEIVED"),
        ("SMS_RECEIVED", first["id"], "RECEIVED"),
        ("STATUS_CHANGED", second["id"], "WAITING_SMS"),
        ("STATUS_CHANGED", second["id"], "CANCELLED"),
    ]
    assert missed[1]["sms"]["code"] == "40002"


async def test_a_client_that_never_reads_cannot_grow_server_memory(api: Api) -> None:
    """A dead or slow client: once its socket's write buffer passes uvicorn's high-water mark
    (64 KiB) writing pauses, our generator waits at `yield` and reads nothing more, so what the
    server holds for it stays bounded however many codes arrive. Meanwhile a healthy subscriber
    of the same user keeps receiving every code."""
    user = await api.funded_user()
    activation = await api.bought(user)
    port = int(api.server.url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    async with (
        live.raw_socket(api.server.url, sock=sock, max_size=None) as stalled,
        live.events(api.server.url, user.token, activationId=activation["id"]) as healthy,
    ):
        await live.send(
            stalled,
            {"type": "connection_init", "payload": {"authorization": f"Bearer {user.token}"}},
        )
        await live.receive(stalled)
        await live.send(
            stalled,
            {
                "type": "subscribe",
                "id": "1",
                "payload": {
                    "query": live.EVENTS_TEXT,
                    "variables": {"activationId": activation["id"]},
                },
            },
        )
        await live.wait_subscribed(api.rt.bus, user.id)
        stalled.transport.pause_reading()  # from here on the client reads nothing at all
        server_side = _server_connection(api, client_port=sock.getsockname()[1])
        # Small kernel buffers, so that the test reaches the application's own bound quickly.
        server_side.transport.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_SNDBUF, 4096
        )
        for _ in range(150):  # ~250 KB of incompressible events (websockets may deflate)
            noise = base64.b64encode(os.urandom(1400)).decode()
            await api.deliver_sms(activation["phoneNumber"], f"Telegram code: 24680. {noise}")
        assert len(await healthy.take(151, timeout=10)) == 151
        assert not server_side.writable.is_set(), "the server never had to hold back: no test"
        assert server_side.transport.get_write_buffer_size() <= 64 * 1024 + 8 * 1024


def _server_connection(api: Api, *, client_port: int) -> Any:
    for connection in api.server.uvicorn.server_state.connections:
        if getattr(connection, "client", None) == ("127.0.0.1", client_port):
            return connection
    raise AssertionError("the server-side websocket connection was not found")
