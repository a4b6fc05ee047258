"""One upstream's sms-activate API (`handler_api.php`), one method per action we use.

Every call has a deadline and reads at most protocol.MAX_ANSWER bytes; a network failure, a
time-out, a non-200 answer or an unknown token all raise `UpstreamError`, so the caller (routing,
the status poller, the outbox) has one failure to handle.

A client lives for a few calls (suppliers/upstream/upstreams.connected): aiohttp's session
costs ~40 µs of CPU to make and close, where httpx's client cost ~21 ms (it loads the CA
bundle each time), and every purchase, status poll and setStatus makes one (docs/adr/0018).
"""

from __future__ import annotations

from typing import Any

import aiohttp

from suppliers.upstream import protocol
from suppliers.upstream.protocol import Bought, Offer, Status, UpstreamError


class UpstreamClient:
    def __init__(self, url: str, api_key: str, *, timeout_seconds: float) -> None:
        self._url = url
        self._api_key = api_key
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        # No proxy or .netrc from the environment: the upstream's URL is the one registered.
        self._http = aiohttp.ClientSession(timeout=self._timeout, trust_env=False)

    async def aclose(self) -> None:
        await self._http.close()

    async def balance(self) -> int:
        return protocol.balance(await self._call("getBalance"))

    async def prices(
        self, *, country: int | None = None, service: str | None = None
    ) -> list[Offer]:
        return protocol.prices(await self._call("getPrices", country=country, service=service))

    async def buy(
        self,
        service: str,
        country: int,
        *,
        max_price: str | None = None,
        deadline_seconds: float | None = None,
    ) -> Bought:
        """getNumberV2; `deadline_seconds` bounds this purchase (routing's per-supplier one)."""
        body = await self._call(
            "getNumberV2",
            deadline_seconds=deadline_seconds,
            service=service,
            country=country,
            maxPrice=max_price,
        )
        return protocol.bought(body)

    async def status(self, activation_id: str) -> Status:
        return protocol.status(await self._call("getStatus", id=activation_id))

    async def set_status(self, activation_id: str, status: int) -> None:
        """3: another SMS, 6: finished, 8: cancelled (refund)."""
        body = await self._call("setStatus", id=activation_id, status=status)
        protocol.status_set(body, status)

    async def _call(
        self, action: str, *, deadline_seconds: float | None = None, **params: Any
    ) -> str:
        query = {"api_key": self._api_key, "action": action}
        query |= {name: str(value) for name, value in params.items() if value is not None}
        timeout = (
            self._timeout
            if deadline_seconds is None
            else aiohttp.ClientTimeout(total=deadline_seconds)
        )
        try:
            async with self._http.get(
                self._url, params=query, allow_redirects=False, timeout=timeout
            ) as response:
                if response.status != 200:
                    raise UpstreamError(f"the upstream answered HTTP {response.status}")
                body = bytearray()
                async for chunk in response.content.iter_any():
                    body += chunk
                    if len(body) > protocol.MAX_ANSWER:
                        raise UpstreamError("the upstream's answer is too large")
        except TimeoutError:
            raise UpstreamError(f"the upstream did not answer {action} in time") from None
        except aiohttp.ClientError as exc:
            raise UpstreamError(
                f"the upstream could not be reached: {type(exc).__name__}"
            ) from None
        try:
            return bytes(body).decode()
        except UnicodeDecodeError:
            raise UpstreamError("the upstream answered bytes that are not text") from None
