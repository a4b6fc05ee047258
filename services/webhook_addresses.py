"""Where a user's webhook may point (issue 13, SSRF): a URL we POST to on the user's say-so
must not reach into our own network.

Checked twice: when the URL is set (its form, and the host if it is an address literal), and
before every POST on the addresses its name resolves to then, so that a name pointed at
127.0.0.1 after it was set (DNS rebinding) is refused too; the POST then goes to the address
that was checked, never to a second resolution. WEBHOOKS_ALLOW_PRIVATE lifts the address rule
and allows http:// (local development and tests).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

from services.errors import InvalidInput
from settings import Settings

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL_LENGTH = 2000
# Names that always mean this machine or its cloud's metadata, whatever DNS says.
_LOCAL_NAMES = ("localhost", "metadata.google.internal")


class AddressRefused(Exception):
    """The host resolves to an address a webhook may not reach (checked at send time)."""


def checked_url(settings: Settings, raw: str) -> str:
    """The URL as stored, or InvalidInput (field "url") saying what is wrong with it."""
    url = raw.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"a URL of 1 to {MAX_URL_LENGTH} characters", field="url")
    try:
        parts = urlsplit(url)
        if parts.port == 0:  # reading the port raises on one out of range or not a number
            raise ValueError("port 0")
    except ValueError:
        raise InvalidInput("not a URL", field="url") from None
    schemes = ("https", "http") if settings.webhooks_allow_private else ("https",)
    if parts.scheme not in schemes:
        raise InvalidInput("the URL must start with https://", field="url")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise InvalidInput("the URL needs a host and no user or password", field="url")
    if parts.fragment or any(c.isspace() or ord(c) < 32 for c in url):
        raise InvalidInput("no fragment, spaces or control characters in the URL", field="url")
    if not settings.webhooks_allow_private:
        refuse_local_host(parts)
    return url


def refuse_local_host(parts: SplitResult) -> None:
    host = (parts.hostname or "").rstrip(".").lower()
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        raise InvalidInput("the URL must not point at a local host", field="url")
    literal = address_literal(host)
    if literal is not None and not is_public(literal):
        raise InvalidInput(
            "the URL must not point at a private, loopback or link-local address", field="url"
        )


def address_literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def is_public(address: IpAddress) -> bool:
    """A globally routable unicast address: not private, loopback, link-local (the cloud
    metadata address 169.254.169.254 is one), shared (100.64/10), multicast or reserved."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (address.is_multicast or address.is_reserved)


async def resolve(settings: Settings, host: str, port: int) -> IpAddress:
    """The address to connect to for `host`, checked: every address the name resolves to must
    be public (one private answer among public ones is a rebinding attempt too)."""
    literal = address_literal(host)
    if literal is not None:
        found = [literal]
    else:
        loop = asyncio.get_running_loop()
        answers = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        found = [ipaddress.ip_address(str(a[4][0]).split("%", 1)[0]) for a in answers]
    if not found:
        raise AddressRefused(f"{host} resolves to no address")
    if not settings.webhooks_allow_private:
        refused = [str(a) for a in found if not is_public(a)]
        if refused:
            raise AddressRefused(f"{host} resolves to a non-public address ({refused[0]})")
    return found[0]
