"""The hub's calls to one SMSHub agent: GET_SERVICES, GET_NUMBER, FINISH_ACTIVATION.

Each call has one deadline for all of it (connecting, sending, waiting, reading): an agent that
answers slowly or not at all costs the caller at most that long, and the answer is then a
`Failure(TIMEOUT)` like any other failure. Nothing raises: every outcome is a value of
`protocol`. Answers may come gzip-compressed (httpx asks for it and decodes it); the size bound
applies to the decoded body, so a small compressed answer cannot grow without limit. Requests
go uncompressed: they are a few hundred bytes, and an agent that does not expect a compressed
body would refuse it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from settings import Settings
from suppliers.smshub import protocol
from suppliers.smshub.protocol import (
    Acknowledged,
    Failure,
    FailureKind,
    FinishStatus,
    NoNumbers,
    Number,
    NumberOrder,
    Services,
)

USER_AGENT = "SMS-Rooms-hub/1"  # the protocol asks every request to carry a User-Agent


def http_client(settings: Settings) -> httpx.AsyncClient:
    """The HTTP client agent calls share (one per runtime or job: it holds a connection pool).
    Its own timeouts are a backstop; each call's deadline is the real bound."""
    return httpx.AsyncClient(
        headers={"user-agent": USER_AGENT, "accept-encoding": "gzip"},
        timeout=httpx.Timeout(settings.smshub_call_deadline_seconds),
        limits=httpx.Limits(max_connections=settings.smshub_max_connections),
        follow_redirects=False,
    )


@dataclass(frozen=True)
class AgentClient:
    http: httpx.AsyncClient
    url: str
    key: str
    settings: Settings

    async def get_services(self) -> Services | Failure:
        body = await self._call(
            protocol.get_services(self.key), self.settings.smshub_call_deadline_seconds
        )
        if isinstance(body, Failure):
            return body
        return protocol.parse_services(body, max_lines=self.settings.smshub_max_stock_lines)

    async def get_number(
        self, order: NumberOrder, deadline_seconds: float | None = None
    ) -> Number | NoNumbers | Failure:
        """`deadline_seconds` lets a caller with less time left (routing over several
        candidates) shorten the call; the default is SMSHUB_GET_NUMBER_DEADLINE_SECONDS."""
        deadline = (
            self.settings.smshub_get_number_deadline_seconds
            if deadline_seconds is None
            else deadline_seconds
        )
        body = await self._call(protocol.get_number(self.key, order), deadline)
        if isinstance(body, Failure):
            return body
        return protocol.parse_number(body, order.excluded_prefixes)

    async def finish_activation(
        self, activation_id: int, status: FinishStatus
    ) -> Acknowledged | Failure:
        request = protocol.finish_activation(self.key, activation_id, status)
        body = await self._call(request, self.settings.smshub_call_deadline_seconds)
        if isinstance(body, Failure):
            return body
        return protocol.parse_acknowledgement(body)

    async def _call(self, request: dict[str, object], deadline_seconds: float) -> bytes | Failure:
        try:
            async with asyncio.timeout(deadline_seconds):
                return await self._post(request)
        except TimeoutError:
            return Failure(FailureKind.TIMEOUT, f"no answer within {deadline_seconds} s")
        except (httpx.HTTPError, OSError) as broken:  # refused, reset, bad gzip, bad HTTP
            return Failure(FailureKind.UNREACHABLE, f"{type(broken).__name__}: {broken}"[:200])

    async def _post(self, request: dict[str, object]) -> bytes | Failure:
        limit = self.settings.smshub_max_response_bytes
        async with self.http.stream("POST", self.url, json=request) as response:
            if response.status_code != 200:
                return Failure(FailureKind.HTTP_STATUS, f"HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > limit:
                    return Failure(FailureKind.TOO_LARGE, f"answer above {limit} bytes")
            return bytes(body)
