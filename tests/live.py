"""Live-feed test helpers: a gql subscription client, and raw websockets of either protocol."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import websockets
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from subscriptions import channels
from subscriptions.bus import EventBus

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"

EVENTS_TEXT = """
    subscription Events($activationId: ID, $after: String) {
      activationEvents(activationId: $activationId, after: $after) {
        cursor kind
        activation { id status code refunded }
        sms { id text code sender }
      }
    }
    """


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://", 1) + "/graphql"


@asynccontextmanager
async def gql_session(
    http_url: str, token: str, protocol: str = TRANSPORT_WS
) -> AsyncIterator[Any]:
    """A `gql` client session (the third-party judge of our subscription protocol)."""
    transport = WebsocketsTransport(
        url=ws_url(http_url),
        init_payload={"authorization": f"Bearer {token}"},
        subprotocols=[protocol],
    )
    async with Client(transport=transport, fetch_schema_from_transport=False) as session:
        yield session


class Events:
    """Collects a subscription's events in the background, so tests can await the next ones."""

    def __init__(self, session: Any, variables: dict[str, Any]) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task = asyncio.create_task(self._collect(session, variables))

    async def _collect(self, session: Any, variables: dict[str, Any]) -> None:
        request = GraphQLRequest(EVENTS_TEXT, variable_values=variables)
        async for result in session.subscribe(request):
            await self.queue.put(result["activationEvents"])

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.queue.get(), timeout)

    async def take(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        return [await self.next(timeout) for _ in range(count)]

    async def nothing_more(self, wait: float = 0.3) -> bool:
        await asyncio.sleep(wait)
        return self.queue.empty()

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


@asynccontextmanager
async def events(
    http_url: str, token: str, protocol: str = TRANSPORT_WS, **variables: Any
) -> AsyncIterator[Events]:
    async with gql_session(http_url, token, protocol) as session:
        collector = Events(session, variables)
        try:
            yield collector
        finally:
            await collector.close()


@asynccontextmanager
async def raw_socket(http_url: str, protocol: str = TRANSPORT_WS, **kw: Any) -> AsyncIterator[Any]:
    async with websockets.connect(ws_url(http_url), subprotocols=[protocol], **kw) as socket:  # type: ignore[list-item]
        yield socket


async def send(socket: Any, message: dict[str, Any]) -> None:
    await socket.send(json.dumps(message))


async def receive(socket: Any, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(socket.recv(), timeout))  # type: ignore[no-any-return]


async def closed_with(socket: Any, timeout: float = 5.0) -> int | None:
    """Reads until the server closes the socket; returns the close code."""
    try:
        while True:
            await asyncio.wait_for(socket.recv(), timeout)
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


async def wait_subscribed(
    bus: EventBus, user_id: int, count: int = 1, timeout: float = 5.0
) -> None:
    """Waits until the server of `bus` holds `count` live subscriptions of the user's feed
    (the subscription generator has subscribed to the bus): no sleeping and hoping."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while bus.subscriber_count(channels.user_channel(user_id)) < count:
        if loop.time() > deadline:
            raise AssertionError(f"user {user_id}: {count} subscription(s) did not start")
        await asyncio.sleep(0.01)


async def wait_unsubscribed(bus: EventBus, user_id: int, timeout: float = 5.0) -> None:
    """Waits until the server of `bus` holds no subscription of the user's feed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while bus.subscriber_count(channels.user_channel(user_id)):
        if loop.time() > deadline:
            raise AssertionError(f"user {user_id}: the feed's subscriptions did not end")
        await asyncio.sleep(0.01)
