"""A call made after every request for it, but never two at once: requests that come while it
runs are answered by one more run after it. For wake-ups sent to other processes (the
webhook workers, ADR 0018): a thousand commits a second need not be a thousand messages, yet
every commit is followed by a message sent after it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("coalesced")


class Coalesced:
    def __init__(self, call: Callable[[], Awaitable[None]], name: str) -> None:
        self._call = call
        self._name = name
        self._pending = False
        self._running: asyncio.Task[None] | None = None

    def request(self) -> None:
        """The call will start after this moment (now, or when the run in progress ends)."""
        self._pending = True
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while self._pending:
            self._pending = False
            try:
                await self._call()
            except Exception:  # a wake-up is a shortcut: the receivers also poll
                log.exception("a coalesced call failed", call=self._name)

    async def close(self) -> None:
        if self._running is not None:
            self._running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._running
