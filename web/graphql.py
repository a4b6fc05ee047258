"""The `/graphql` endpoint: strawberry's ASGI app with our context, auth and limits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError

from resolvers.context import Context
from schema import schema
from settings import Settings


def client_ip(request: Request | WebSocket) -> str | None:
    return request.client.host if request.client else None


class GraphQLEndpoint(GraphQL[Context, None]):
    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        return Context(
            authorization=request.headers.get("authorization"),
            client_ip=client_ip(request),
            request=request,
            response=response,
        )

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        """No or bad token in connection_init: the socket is closed with 4403."""
        if await context.authenticate_socket() is None:
            raise ConnectionRejectionError({"reason": "a valid bearer token is required"})
        return None


def graphql_endpoint(settings: Settings) -> GraphQLEndpoint:
    return GraphQLEndpoint(
        schema,
        graphql_ide="graphiql",
        allow_queries_via_get=True,  # queries only: strawberry refuses mutations over GET
        keep_alive=True,
        keep_alive_interval=15,
        connection_init_wait_timeout=timedelta(seconds=10),
        max_subscriptions_per_connection=20,
        allowed_origins=settings.allowed_origins,
    )


async def not_found(request: Request) -> Response:
    return Response("not found", status_code=404)
