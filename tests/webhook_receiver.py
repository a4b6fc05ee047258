"""A user's webhook receiver, for tests: a real HTTP server on loopback (tests/serving.py) that
records each POST and answers as the test scripted it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.serving import served

WAIT_SECONDS = 30.0  # a bound on waiting for a POST, so that a failure does not hang the run


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    # Status codes of the first answers, in order; 200 after them.
    statuses: list[int] = field(default_factory=list)
    # When set, every answer waits for `release` (a receiver that does not answer).
    silent: bool = False
    url: str = ""
    received: asyncio.Queue[Received] = field(default_factory=asyncio.Queue)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    answered: int = 0
    body: str = "ok"  # of every 2xx answer

    async def endpoint(self, request: Request) -> PlainTextResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        await self.received.put(Received(headers, await request.body()))
        if self.silent:
            await self.release.wait()
        status = self.statuses.pop(0) if self.statuses else 200
        self.answered += 1
        return PlainTextResponse(self.body if status < 300 else "receiver failed " * 40, status)

    async def next(self) -> Received:
        return await asyncio.wait_for(self.received.get(), WAIT_SECONDS)


@asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[Receiver]:
    app = Starlette(routes=[Route("/hook", receiver.endpoint, methods=["POST"])])
    async with served(app, cut_open_requests=receiver.silent) as (base, _):
        receiver.url = f"{base}/hook"
        try:
            yield receiver
        finally:
            receiver.release.set()
