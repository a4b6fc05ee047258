"""The hub's calls to one SMSHub agent: GET_SERVICES, GET_NUMBER, FINISH_ACTIVATION.

Each call has one deadline for all of it (connecting, sending, waiting, reading): an agent that
answers slowly or not at all costs the caller at most that long, and the answer is then a
`Failure(TIMEOUT)` like any other failure. Nothing raises: every outcome is a value of
`protocol`. Answers may come gzip-compressed (we ask for it, aiohttp decodes it); the size
bound applies to the decoded body, so a small compressed answer cannot grow without limit.
Requests go uncompressed: they are a few hundred bytes, and an agent that does not expect a
compressed body would refuse it. aiohttp rather than httpx: a tenth of the CPU per call, and
every purchase and cancel from an agent makes one (docs/adr/0018).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp

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


class AgentHttp:
    """The HTTP session agent calls share (one per runtime or job: it holds a connection pool).
    Made on first use: an aiohttp session belongs to the event loop that runs it, and the hub
    is made before the app's loop starts. Its own time-out is a backstop; each call's deadline
    is the real bound."""

    def __init__(
        self, settings: Settings, trace_configs: list[aiohttp.TraceConfig] | None = None
    ) -> None:
        self.settings = settings
        self.trace_configs = trace_configs
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def session(self) -> aiohttp.ClientSession:
        if self._closed:  # a call after the hub stopped: a failure, not a session left open
            raise aiohttp.ClientConnectionError("the hub's HTTP client is closed")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"},
                timeout=aiohttp.ClientTimeout(total=self.settings.smshub_call_deadline_seconds),
                connector=aiohttp.TCPConnector(limit=self.settings.smshub_max_connections),
                trace_configs=self.trace_configs,
                # No proxy or .netrc from the environment: aiohttp would read both again on
                # every call, in a thread; an agent's URL is the one its operator registered.
                trust_env=False,
            )
        return self._session

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> AgentHttp:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def http_client(
    settings: Settings, trace_configs: list[aiohttp.TraceConfig] | None = None
) -> AgentHttp:
    return AgentHttp(settings, trace_configs)


@dataclass(frozen=True)
class AgentClient:
    http: AgentHttp
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
        except (aiohttp.ClientError, OSError) as broken:  # refused, reset, bad gzip, bad HTTP
            return Failure(FailureKind.UNREACHABLE, f"{type(broken).__name__}: {broken}"[:200])

    async def _post(self, request: dict[str, object]) -> bytes | Failure:
        limit = self.settings.smshub_max_response_bytes
        session = self.http.session()
        async with session.post(self.url, json=request, allow_redirects=False) as response:
            if response.status != 200:
                return Failure(FailureKind.HTTP_STATUS, f"HTTP {response.status}")
            body = bytearray()
            async for chunk in response.content.iter_any():
                body.extend(chunk)
                if len(body) > limit:
                    return Failure(FailureKind.TOO_LARGE, f"answer above {limit} bytes")
            return bytes(body)
