"""The `/graphql` endpoint: strawberry's ASGI app with our context, auth, protocols and limits."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UNSET

from resolvers.context import Context
from schema import schema
from settings import Settings
from subscriptions.protocols import LegacyWSHandler, TransportWSHandler
from subscriptions.sockets import registry


def client_ip(request: Request | WebSocket) -> str | None:
    return request.client.host if request.client else None


class GraphQLEndpoint(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler
    max_message_bytes = 64 * 1024

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        return Context(
            authorization=request.headers.get("authorization"),
            client_ip=client_ip(request),
            request=request,
            response=response,
        )

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        """No or bad token in connection_init: the socket is closed with 4403."""
        viewer = await context.authenticate_socket()
        if viewer is None:
            raise ConnectionRejectionError({"reason": "a valid bearer token is required"})
        registry.add(viewer.credential_id, context.request)
        return None

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            return await super().run(request, context, root_value)
        finally:
            if isinstance(request, WebSocket):
                registry.remove(request)

    def decode_json(self, data: str | bytes) -> object:
        # Bounds what one websocket message may make us parse (HTTP bodies are bounded earlier).
        if len(data) > self.max_message_bytes:
            raise json.JSONDecodeError("message too large", "", 0)
        return json.loads(data)


def graphql_endpoint(settings: Settings) -> GraphQLEndpoint:
    endpoint = GraphQLEndpoint(
        schema,
        graphql_ide="graphiql",
        allow_queries_via_get=True,  # queries only: strawberry refuses mutations over GET
        keep_alive=True,  # legacy graphql-ws "ka" messages; transport-ws clients ping us
        keep_alive_interval=15,
        connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
        max_subscriptions_per_connection=settings.ws_max_subscriptions,
        allowed_origins=settings.allowed_origins,
    )
    endpoint.max_message_bytes = settings.graphql_max_body_bytes
    return endpoint
