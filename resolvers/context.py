"""The per-request context: who is asking (resolved lazily, once) and the request's loaders."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError
from strawberry.dataloader import DataLoader

from models import Sms
from services import accounts
from services.accounts import Viewer

_UNSET: Any = object()


async def _load_messages(activation_ids: list[int]) -> list[list[Sms]]:
    by_activation: dict[int, list[Sms]] = defaultdict(list)
    for sms in await Sms.filter(activation_id__in=activation_ids).order_by("id"):
        by_activation[sms.activation_id].append(sms)  # type: ignore[attr-defined]
    return [by_activation[i] for i in activation_ids]


@dataclass
class Loaders:
    messages: DataLoader[int, list[Sms]] = field(
        default_factory=lambda: DataLoader(load_fn=_load_messages)
    )


@dataclass
class Context:
    authorization: str | None
    client_ip: str | None
    request: Any = None  # the starlette Request or WebSocket
    response: Any = None
    loaders: Loaders = field(default_factory=Loaders)
    # Set by strawberry from a websocket's connection_init payload.
    connection_params: dict[str, Any] | None = None
    _viewer: Any = _UNSET

    async def viewer(self) -> Viewer | None:
        if self._viewer is _UNSET:
            self._viewer = await accounts.authenticate(bearer_secret(self.authorization))
        return self._viewer  # type: ignore[no-any-return]

    async def authenticate_socket(self) -> Viewer | None:
        """On websockets the credentials come in connection_init: {"authorization": "Bearer …"}."""
        raw = (self.connection_params or {}).get("authorization")
        self.authorization = raw if isinstance(raw, str) else None
        self._viewer = _UNSET
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
