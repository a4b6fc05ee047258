"""Protocol rules of the websocket endpoint, one rule per test (strawberry's own test style)."""

from __future__ import annotations

import asyncio

import pytest

from tests import live
from tests.api import Api

PROTOCOLS = [live.TRANSPORT_WS, live.LEGACY_WS]
SUBSCRIBE = {live.TRANSPORT_WS: "subscribe", live.LEGACY_WS: "start"}


def subscribe_message(
    protocol: str, op_id: str, variables: dict[str, object] | None = None
) -> dict[str, object]:
    return {
        "type": SUBSCRIBE[protocol],
        "id": op_id,
        "payload": {"query": live.EVENTS_TEXT, "variables": variables or {}},
    }


async def init(socket: object, token: str | None) -> None:
    payload = {"authorization": f"Bearer {token}"} if token else {}
    await live.send(socket, {"type": "connection_init", "payload": payload})


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_connection_init_without_token_is_refused_4403(api: Api, protocol: str) -> None:
    async with live.raw_socket(api.server.url, protocol) as socket:
        await init(socket, None)
        assert await live.closed_with(socket) == 4403


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_connection_init_with_bad_token_is_refused_4403(api: Api, protocol: str) -> None:
    async with live.raw_socket(api.server.url, protocol) as socket:
        await init(socket, "srs_not-a-real-token")
        assert await live.closed_with(socket) == 4403


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_second_connection_init_is_refused_4429(api: Api, protocol: str) -> None:
    user = await api.register()
    async with live.raw_socket(api.server.url, protocol) as socket:
        await init(socket, user.token)
        assert (await live.receive(socket))["type"] == "connection_ack"
        await init(socket, user.token)
        assert await live.closed_with(socket) == 4429


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_subscribe_before_init_is_refused_4401(api: Api, protocol: str) -> None:
    async with live.raw_socket(api.server.url, protocol) as socket:
        await live.send(socket, subscribe_message(protocol, "1"))
        assert await live.closed_with(socket) == 4401


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_connection_init_timeout_4408(api: Api, protocol: str) -> None:
    # tests/conftest.py sets ws_init_timeout_seconds = 1
    async with live.raw_socket(api.server.url, protocol) as socket:
        assert await live.closed_with(socket, timeout=5) == 4408


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    "message",
    [
        "[1, 2]",
        '{"type": "connection_init", "payload": [1]}',
        '{"id": "1"}',
        '{"type": "subscribe", "id": 1}',
    ],
)
async def test_malformed_message_closes_4400(api: Api, protocol: str, message: str) -> None:
    user = await api.register()
    async with live.raw_socket(api.server.url, protocol) as socket:
        if "connection_init" not in message:
            await init(socket, user.token)
            await live.receive(socket)
        await socket.send(message)
        assert await live.closed_with(socket) == 4400


async def test_message_over_the_size_limit_is_refused(api: Api) -> None:
    user = await api.register()
    async with live.raw_socket(api.server.url, live.TRANSPORT_WS) as socket:
        await init(socket, user.token)
        await live.receive(socket)
        huge = subscribe_message(live.TRANSPORT_WS, "1", {"after": "x" * 70_000})
        await live.send(socket, huge)
        assert await live.closed_with(socket) in (4400, 1009)


async def test_subscriptions_per_socket_are_limited(api: Api) -> None:
    user = await api.register()
    limit = api.server.settings.ws_max_subscriptions
    async with live.raw_socket(api.server.url, live.TRANSPORT_WS) as socket:
        await init(socket, user.token)
        await live.receive(socket)
        for op in range(limit + 1):
            await live.send(socket, subscribe_message(live.TRANSPORT_WS, str(op)))
        answer = await live.receive(socket)
    assert answer["type"] == "error"
    assert answer["id"] == str(limit)
    assert "limit" in str(answer["payload"]).lower()


async def test_logout_closes_that_tokens_sockets_4403(api: Api) -> None:
    user = await api.register()
    other_session = await api.login(user.email, "correct horse 1")
    async with live.raw_socket(api.server.url) as revoked, live.raw_socket(api.server.url) as kept:
        await init(revoked, user.token)
        await init(kept, other_session["token"])
        assert (await live.receive(revoked))["type"] == "connection_ack"
        assert (await live.receive(kept))["type"] == "connection_ack"
        assert await api.gql("mutation { logout }", token=user.token) == {"logout": True}
        assert await live.closed_with(revoked) == 4403
        # The other session's socket stays open and answers a ping.
        await live.send(kept, {"type": "ping"})
        assert (await live.receive(kept))["type"] == "pong"


@pytest.mark.parametrize("raw", ["abc", "0", "-1", "2147483648", "99999999999999999999", " 7x"])
async def test_a_malformed_activation_id_is_refused_like_an_unknown_one(api: Api, raw: str) -> None:
    """The feed checks the id before reading (activations.owned_id): malformed or out of range,
    it is NOT_FOUND, as another user's, and the socket goes on serving."""
    user = await api.funded_user()
    async with live.raw_socket(api.server.url) as socket:
        await init(socket, user.token)
        await live.receive(socket)
        await live.send(socket, subscribe_message(live.TRANSPORT_WS, "bad", {"activationId": raw}))
        refusal = await live.receive(socket)
        assert refusal["type"] == "next", refusal
        assert refusal["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        assert (await live.receive(socket))["type"] == "complete"
        await live.send(socket, {"type": "ping"})
        assert (await live.receive(socket))["type"] == "pong"


async def test_a_user_never_receives_another_users_events(api: Api) -> None:
    alice, mallory = await api.funded_user(), await api.funded_user()
    activation = await api.bought(alice)
    async with live.raw_socket(api.server.url) as socket:
        await init(socket, mallory.token)
        await live.receive(socket)
        # Guessing Alice's activation id: refused like an unknown id.
        await live.send(
            socket,
            subscribe_message(live.TRANSPORT_WS, "guess", {"activationId": activation["id"]}),
        )
        refusal = await live.receive(socket)
        # The stream fails before its first event: a `next` carrying only errors, then complete.
        assert refusal["type"] == "next"
        assert "data" not in refusal["payload"] or refusal["payload"]["data"] is None
        assert refusal["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        assert (await live.receive(socket))["type"] == "complete"
        # Mallory's stream of all her activations stays silent while Alice gets a code.
        await live.send(socket, subscribe_message(live.TRANSPORT_WS, "all"))
        await live.wait_subscribed(api.rt.bus, mallory.id)
        await api.deliver_sms(activation["phoneNumber"], "Telegram code: 90909")
        with pytest.raises(TimeoutError):
            await live.receive(socket, timeout=0.5)


async def test_two_first_subscribers_at_once_both_receive(api: Api) -> None:
    """broadcaster loses one of two simultaneous first subscriptions to a channel; we don't."""
    user = await api.funded_user()
    activation = await api.bought(user)
    async with (
        live.events(api.server.url, user.token) as one,
        live.events(api.server.url, user.token) as two,
    ):
        await live.wait_subscribed(api.rt.bus, user.id, count=2)
        await api.deliver_sms(activation["phoneNumber"], "Telegram code: 12121")
        first, second = await asyncio.gather(one.next(), two.next())
    assert first["sms"]["code"] == second["sms"]["code"] == "12121"
