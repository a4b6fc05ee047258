"""One POST to a user's webhook (issue 13): to the address checked after DNS
(services/webhook_addresses.py), no redirect followed, within WEBHOOK_TIMEOUT_SECONDS, and
only the first bytes of the answer read.

aiohttp, not httpx (which the payment processors' clients use): a POST costs its client about
75 µs of CPU against httpx's 870 µs (bench/http_clients.py), and at a thousand SMS a second
that is most of a core (docs/adr/0018)."""

from __future__ import annotations

import asyncio
import ssl
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from services import webhook_addresses
from settings import Settings

EXCERPT_BYTES = 200
MAX_HOSTS = 1000  # sessions kept per process; the least recently used is closed


@dataclass(frozen=True)
class Answer:
    status_code: int
    excerpt: str  # the first EXCERPT_BYTES of the body, decoded leniently

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300


class Clients:
    """One HTTP session per host name. We connect to an address, not a name, and a pool keyed
    by address would reuse a connection whose TLS was verified for one name to send another
    name's request (two webhooks on one shared IP); one pool per name cannot."""

    def __init__(self, settings: Settings, verify: ssl.SSLContext | bool = True) -> None:
        self.settings = settings
        self.verify = verify
        self._by_host: OrderedDict[str, aiohttp.ClientSession] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()

    def for_host(self, host: str) -> aiohttp.ClientSession:
        session = self._by_host.pop(host, None) or self._new()
        self._by_host[host] = session  # the most recently used last
        if len(self._by_host) > MAX_HOSTS:
            _, oldest = self._by_host.popitem(last=False)
            task = asyncio.create_task(self._close_later(oldest))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        return session

    def _new(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=self.settings.webhook_max_in_flight, ssl=self.verify
            ),
            timeout=aiohttp.ClientTimeout(total=self.settings.webhook_timeout_seconds),
            # No proxy from the environment (a proxy would resolve the name itself, past our
            # address check); no cookies kept between POSTs; the body left as it came (the
            # excerpt is a few bytes, never a decompressed bomb).
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            skip_auto_headers=("Accept-Encoding",),
        )

    async def _close_later(self, session: aiohttp.ClientSession) -> None:
        try:
            await asyncio.sleep(2 * self.settings.webhook_timeout_seconds)  # its POSTs ended
        finally:  # at once when the worker stops
            await session.close()

    async def aclose(self) -> None:
        for task in self._closing:
            task.cancel()
        await asyncio.gather(*self._closing, return_exceptions=True)
        await asyncio.gather(*(s.close() for s in self._by_host.values()))
        self._by_host.clear()


@asynccontextmanager
async def clients(
    settings: Settings, verify: ssl.SSLContext | bool = True
) -> AsyncIterator[Clients]:
    """The sessions of one process's webhook worker."""
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
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    async with asyncio.timeout(settings.webhook_timeout_seconds):
        address = await webhook_addresses.resolve(settings, host, port)
        literal = f"[{address}]" if address.version == 6 else str(address)
        pinned = urlunsplit(parts._replace(netloc=f"{literal}:{port}"))
        session = clients.for_host(host)
        async with session.post(
            pinned,
            data=body,
            # The name the receiver expects, though we connect to the address we checked; TLS
            # is verified against the name as well (SNI).
            headers={**headers, "Host": parts.netloc.rsplit("@", 1)[-1]},
            server_hostname=host if tls else None,
            allow_redirects=False,
        ) as response:
            excerpt = await _first_bytes(response)
    return Answer(response.status, text_of(excerpt))


def text_of(raw: bytes | str) -> str:
    """Storable text: invalid UTF-8 replaced, and NUL too (PostgreSQL's text refuses it)."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return text.replace("\x00", "\ufffd")


async def _first_bytes(response: aiohttp.ClientResponse) -> bytes:
    """At most EXCERPT_BYTES; the rest is never read (the connection is then closed, not
    reused)."""
    taken = b""
    while len(taken) < EXCERPT_BYTES:
        chunk = await response.content.read(EXCERPT_BYTES - len(taken))
        if not chunk:
            break
        taken += chunk
    return taken
