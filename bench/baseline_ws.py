"""The raw baseline of bench/live_bench.py: a minimal Starlette websocket endpoint that forwards
Redis channel messages to its sockets, served by the same uvicorn with the same flags as SMS Rooms.

No GraphQL, no auth, no database. It speaks the shape of graphql-transport-ws the benchmark's
client speaks, so both servers are measured the same way:
  client -> {"type": "connection_init", ...}    server -> {"type": "connection_ack"}
  client -> {"id": "1", "type": "subscribe", "payload": {"channel": "<redis channel>"}}
  server -> {"id": "1", "type": "next", "payload": {"ready": true}}   once Redis confirmed the
            subscription (the first moment an event could be delivered), then every message
            published on that channel, forwarded verbatim as one text frame.
One Redis pub/sub connection per process, channels fanned out from one reader task, as SMS
Rooms' event bus does. REDIS_URL names the Redis (default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections import defaultdict
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

READY = json.dumps({"id": "1", "type": "next", "payload": {"ready": True}})
ACK = json.dumps({"type": "connection_ack"})


class Fanout:
    """One pub/sub connection; each channel's messages go to the sockets subscribed to it."""

    def __init__(self, url: str) -> None:
        self.client = aioredis.from_url(url)
        self.pubsub = self.client.pubsub()
        self.sockets: dict[str, set[WebSocket]] = defaultdict(set)
        self.confirmed: dict[str, asyncio.Future[None]] = {}
        self.reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.pubsub.subscribe("baseline-ws:keepalive")  # so listen() has a connection
        self.reader = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self.reader:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)
        await self.pubsub.aclose()
        await self.client.aclose()

    async def add(self, channel: str, socket: WebSocket) -> None:
        if not self.sockets[channel]:
            waiter = self.confirmed[channel] = asyncio.get_running_loop().create_future()
            self.sockets[channel].add(socket)
            await self.pubsub.subscribe(channel)
            await waiter
        else:
            self.sockets[channel].add(socket)

    async def remove(self, channel: str, socket: WebSocket) -> None:
        self.sockets[channel].discard(socket)
        if not self.sockets[channel]:
            del self.sockets[channel]
            await self.pubsub.unsubscribe(channel)

    async def _read(self) -> None:
        async for message in self.pubsub.listen():
            channel = message["channel"].decode()
            if message["type"] == "subscribe":
                waiter = self.confirmed.pop(channel, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
            elif message["type"] == "message":
                text = message["data"].decode()
                for socket in list(self.sockets.get(channel, ())):
                    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                        await socket.send_text(text)


fanout = Fanout(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))


async def feed(socket: WebSocket) -> None:
    await socket.accept(subprotocol="graphql-transport-ws")
    channel: str | None = None
    try:
        while True:
            message = json.loads(await socket.receive_text())
            kind = message.get("type")
            if kind == "connection_init":
                await socket.send_text(ACK)
            elif kind == "subscribe" and channel is None:
                channel = str(message["payload"]["channel"])
                await fanout.add(channel, socket)
                await socket.send_text(READY)
            elif kind == "ping":
                await socket.send_text(json.dumps({"type": "pong"}))
    except WebSocketDisconnect:
        pass
    finally:
        if channel is not None:
            await fanout.remove(channel, socket)


async def healthz(request: object) -> JSONResponse:
    return JSONResponse({"status": "ok"})


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    await fanout.start()
    try:
        yield
    finally:
        await fanout.stop()


app = Starlette(
    routes=[WebSocketRoute("/graphql", feed), Route("/healthz", healthz)], lifespan=lifespan
)
