"""Hardened websocket protocol handlers for strawberry (issue 3, "Auth and isolation").

graphql-transport-ws: strawberry's handler already refuses a second connection_init (4429),
times out sockets that never initialise (4408) and refuses subscribe before the ack (4401); we
add a guard so that a malformed message (not an object, a payload that is not an object)
closes the socket with 4400 instead of crashing the connection with a traceback.

Legacy graphql-ws (subscriptions-transport-ws): strawberry's handler accepts a second
connection_init, never times out an uninitialised socket and rejects with 1011; ours refuses a
second init (4429), times out (4408), rejects bad credentials with 4403 and guards messages.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ConnectionAckMessage

from subscriptions import driven


def _well_formed(message: Any) -> bool:
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return False
    payload = message.get("payload")
    if payload is not None and not isinstance(payload, dict):
        return False
    needs_id = message["type"] in ("subscribe", "start", "stop", "complete")
    if needs_id and (not isinstance(message.get("id"), str) or len(message["id"]) > 100):
        return False
    if message["type"] in ("subscribe", "start"):
        return isinstance(payload, dict) and isinstance(payload.get("query"), str)
    return True


class TransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """Subscriptions run driven, without a task each (subscriptions/driven.py); queries and
    mutations sent over the socket, and anything refused, take strawberry's path."""

    async def handle_message(self, message: Any) -> None:
        if not _well_formed(message):
            await self.handle_invalid_message("Invalid message")
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: Any) -> None:
        await super().handle_connection_init(message)
        # strawberry cancels its init-timeout task here but keeps it, with its sleep's timer,
        # future and cancellation error, for the socket's life (1.4 KiB each; the task ends
        # on its own), and the init payload: the credential in it has been read.
        self.connection_init_timeout_task = None
        self.context.connection_params = None

    async def handle_subscribe(self, message: Any) -> None:
        limit = self.max_subscriptions_per_connection
        refused = (  # strawberry's handler refuses these, as it words them
            not self.connection_acknowledged
            or message["id"] in self.operations
            or (limit is not None and len(self.operations) >= limit)
        )
        operation = None if refused else driven.prepare(self, message)
        if operation is None:
            await super().handle_subscribe(message)
            return
        self.operations[operation.id] = operation
        operation.start()

    async def cleanup_operation(self, operation_id: str) -> None:
        operation = self.operations.get(operation_id)
        if not isinstance(operation, driven.DrivenOperation):
            await super().cleanup_operation(operation_id)
            return
        del self.operations[operation_id]
        await operation.close()


class LegacyWSHandler(BaseGraphQLWSHandler[Any, Any]):
    async def handle(self) -> None:
        timeout = asyncio.create_task(self._close_if_not_initialised())
        try:
            await super().handle()
        finally:
            timeout.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timeout

    async def _close_if_not_initialised(self) -> None:
        await asyncio.sleep(self.view.connection_init_wait_timeout.total_seconds())
        if not self.connection_acknowledged:
            await self.websocket.close(code=4408, reason="Connection initialisation timeout")

    async def handle_message(self, message: Any) -> None:
        if not _well_formed(message):
            await self.websocket.close(code=4400, reason="Invalid message")
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: Any) -> None:
        if self.connection_acknowledged:
            await self.websocket.close(code=4429, reason="Too many initialisation requests")
            return
        payload = message.get("payload") or {}
        self.context.connection_params = payload
        try:
            ack = await self.view.on_ws_connect(self.context)
        except ConnectionRejectionError as rejection:
            await self.send_message({"type": "connection_error", "payload": rejection.payload})
            await self.websocket.close(code=4403, reason="Forbidden")
            return
        reply: ConnectionAckMessage = {"type": "connection_ack"}
        if isinstance(ack, dict) and ack:  # no payload when it is unset, None or empty
            reply["payload"] = ack
        await self.send_message(reply)
        self.connection_acknowledged = True
        if self.keep_alive:
            self.keep_alive_task = asyncio.create_task(self.handle_keep_alive())
