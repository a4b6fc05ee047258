"""One POST to a user's webhook (issue 13): to the address checked after DNS
(services/webhook_addresses.py), no redirect followed, within WEBHOOK_TIMEOUT_SECONDS, and
only the first bytes of the answer read."""

from __future__ import annotations

import asyncio
import ssl
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from services import webhook_addresses
from settings import Settings

EXCERPT_BYTES = 200
MAX_HOSTS = 1000  # clients kept per process; the least recently used is closed


@dataclass(frozen=True)
class Answer:
    status_code: int
    excerpt: str  # the first EXCERPT_BYTES of the body, decoded leniently

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300


class Clients:
    """One HTTP client per host name. We connect to an address, not a name, and a pool keyed
    by address would reuse a connection whose TLS was verified for one name to send another
    name's request (two webhooks on one shared IP); one pool per name cannot."""

    def __init__(self, settings: Settings, verify: ssl.SSLContext | bool = True) -> None:
        self.settings = settings
        self.verify = verify
        self._by_host: OrderedDict[str, httpx.AsyncClient] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()

    def for_host(self, host: str) -> httpx.AsyncClient:
        client = self._by_host.pop(host, None) or self._new()
        self._by_host[host] = client  # the most recently used last
        if len(self._by_host) > MAX_HOSTS:
            _, oldest = self._by_host.popitem(last=False)
            task = asyncio.create_task(self._close_later(oldest))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        return client

    def _new(self) -> httpx.AsyncClient:
        # No redirects; no proxy from the environment (a proxy would resolve the name itself,
        # past our address check).
        return httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            verify=self.verify,
            timeout=self.settings.webhook_timeout_seconds,
            limits=httpx.Limits(max_connections=self.settings.webhook_max_in_flight),
        )

    async def _close_later(self, client: httpx.AsyncClient) -> None:
        await asyncio.sleep(2 * self.settings.webhook_timeout_seconds)  # its POSTs have ended
        await client.aclose()

    async def aclose(self) -> None:
        for task in self._closing:
            task.cancel()
        await asyncio.gather(*(c.aclose() for c in self._by_host.values()))
        self._by_host.clear()


@asynccontextmanager
async def clients(
    settings: Settings, verify: ssl.SSLContext | bool = True
) -> AsyncIterator[Clients]:
    """The clients of one process's webhook worker."""
    made = Clients(settings, verify)
    try:
        yield made
    finally:
        await made.aclose()


async def post(
    settings: Settings, clients: Clients, url: str, body: bytes, headers: dict[str, str]
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
        http = clients.for_host(host)
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
