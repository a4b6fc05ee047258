"""Open websockets by credential, so that revoking a token closes its sockets (issue 3).

Every app keeps its own sockets here. A revocation anywhere publishes a wake-up on the
`credentials` channel; each process then asks the database which of its sockets' credentials
are no longer valid (revoked, expired, user blocked) and closes those with 4403. Asking the
database, not trusting the message, also covers wake-ups lost while the bus was down: the
watcher re-checks every WS_CREDENTIAL_RECHECK_SECONDS anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from typing import TYPE_CHECKING

import structlog
from starlette.websockets import WebSocket, WebSocketState

from services import accounts
from services.db import log_failure
from subscriptions.channels import REVOCATIONS

if TYPE_CHECKING:
    from web.state import AppRuntime

log = structlog.get_logger("sockets")
REVOKED_CLOSE_CODE = 4403


class SocketRegistry:
    def __init__(self) -> None:
        self._by_credential: dict[int, set[WebSocket]] = defaultdict(set)
        # Which credential each socket signed in with: a closing socket is forgotten in O(1)
        # (scanning every credential per close made a storm of 10,000 closes quadratic).
        self._credential_of: dict[WebSocket, int] = {}

    def add(self, credential_id: int, socket: WebSocket) -> None:
        self.remove(socket)  # one credential per socket: the last sign-in counts
        self._by_credential[credential_id].add(socket)
        self._credential_of[socket] = credential_id

    def remove(self, socket: WebSocket) -> None:
        credential_id = self._credential_of.pop(socket, None)
        if credential_id is None:
            return
        sockets = self._by_credential.get(credential_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self._by_credential[credential_id]

    def __len__(self) -> int:
        return len(self._credential_of)

    async def close_invalid(self, rt: AppRuntime) -> int:
        if not self._by_credential:
            return 0
        invalid = await accounts.invalid_credentials(rt, list(self._by_credential))
        closed = 0
        for credential_id in invalid:
            for socket in list(self._by_credential.pop(credential_id, ())):
                self._credential_of.pop(socket, None)
                if socket.application_state != WebSocketState.DISCONNECTED:
                    with contextlib.suppress(RuntimeError, OSError):
                        await socket.close(code=REVOKED_CLOSE_CODE, reason="Token revoked")
                    closed += 1
        return closed


async def watch(rt: AppRuntime) -> None:
    """Runs for the app's lifetime: close sockets whose credentials stop being valid."""
    async with rt.bus.subscribe(REVOCATIONS) as wakeup:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    wakeup.wait(), timeout=rt.settings.ws_credential_recheck_seconds
                )
            rt.identities.clear()  # a credential was revoked somewhere
            try:
                await rt.sockets.close_invalid(rt)
            except Exception as error:  # a failed check must not stop the watcher
                log_failure(log, "checking open sockets' credentials failed", error)
