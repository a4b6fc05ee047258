"""One POST to a user's webhook (issue 13): to the address checked after DNS
(services/webhook_addresses.py), no redirect followed, within WEBHOOK_TIMEOUT_SECONDS, and
only the first bytes of the answer read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from services import webhook_addresses
from settings import Settings

EXCERPT_BYTES = 200


@dataclass(frozen=True)
class Answer:
    status_code: int
    excerpt: str  # the first EXCERPT_BYTES of the body, decoded leniently

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300


@asynccontextmanager
async def http_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The client of one process's webhook worker: no redirects, no proxy from the
    environment (a proxy would resolve the name itself, past our address check)."""
    limits = httpx.Limits(max_connections=settings.webhook_max_in_flight)
    async with httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=settings.webhook_timeout_seconds,
        limits=limits,
    ) as client:
        yield client


async def post(
    settings: Settings, http: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]
) -> Answer:
    """Raises on a refused address, a connection failure or the time-out; any HTTP answer
    (a redirect included: it is not followed) is returned."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    async with asyncio.timeout(settings.webhook_timeout_seconds):
        address = await webhook_addresses.resolve(settings, host, port)
        literal = f"[{address}]" if address.version == 6 else str(address)
        pinned = urlunsplit(parts._replace(netloc=f"{literal}:{port}"))
        request = http.build_request(
            "POST",
            pinned,
            content=body,
            # The name the receiver expects, though we connect to the address we checked; TLS
            # is verified against the name as well (SNI).
            headers={**headers, "host": parts.netloc.rsplit("@", 1)[-1]},
            extensions={"sni_hostname": host},
        )
        response = await http.send(request, stream=True)
        try:
            excerpt = await _first_bytes(response)
        finally:
            await response.aclose()
    return Answer(response.status_code, excerpt.decode("utf-8", "replace"))


async def _first_bytes(response: httpx.Response) -> bytes:
    taken = b""
    async for chunk in response.aiter_bytes():
        taken += chunk
        if len(taken) >= EXCERPT_BYTES:
            break
    return taken[:EXCERPT_BYTES]
