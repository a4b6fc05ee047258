"""The per-request context: the app's runtime, who is asking (resolved lazily, once) and the
request's loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError
from strawberry.dataloader import DataLoader

from models import Sms
from services import accounts, sms
from services.accounts import Viewer
from web.state import AppRuntime


@dataclass
class Loaders:
    # Batching, no cache: a websocket's context lives as long as the socket, and a cached
    # list of an activation's messages would be served, stale, to its next events.
    messages: DataLoader[int, list[Sms]] = field(
        default_factory=lambda: DataLoader(load_fn=sms.messages_of, cache=False)
    )


@dataclass
class Context:
    runtime: AppRuntime
    authorization: str | None
    client_ip: str | None
    request: Any = None  # the starlette Request or WebSocket
    response: Any = None
    # Set by strawberry from a websocket's connection_init payload.
    connection_params: dict[str, Any] | None = None
    _viewer: Viewer | None = None  # anonymous, once _viewer_known says it was looked up
    _viewer_known: bool = False
    _loaders: Loaders | None = None

    @property
    def loaders(self) -> Loaders:
        """Made on first use: most requests, and every idle socket, never load anything."""
        if self._loaders is None:
            self._loaders = Loaders()
        return self._loaders

    async def viewer(self) -> Viewer | None:
        if not self._viewer_known:
            secret = bearer_secret(self.authorization)
            self._viewer = await accounts.authenticate(self.runtime, secret)
            self._viewer_known = True
        return self._viewer

    async def authenticate_socket(self) -> Viewer | None:
        """On websockets the credentials come in connection_init: {"authorization": "Bearer …"}."""
        raw = (self.connection_params or {}).get("authorization")
        self.authorization = raw if isinstance(raw, str) else None
        self._viewer_known = False
        return await self.viewer()

    async def require_viewer(self) -> Viewer:
        viewer = await self.viewer()
        if viewer is None:
            raise GraphQLError(
                "sign in first: send 'Authorization: Bearer <token>'",
                extensions={"code": "UNAUTHENTICATED"},
            )
        return viewer


def bearer_secret(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, secret = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return secret.strip() or None
