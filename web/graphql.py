"""The `/graphql` endpoint: strawberry's ASGI app with our context, auth, protocols and limits."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from cross_web import HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.types import QueryParams
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET

from resolvers.context import Context
from schema import Schema, SubscriptionOverHttp, build_schema
from services import json_input, metrics
from subscriptions.protocols import LegacyWSHandler, TransportWSHandler
from web.apq import PersistedQueries, Refusal
from web.catalog_cache import CatalogResponseCache, PreEncoded
from web.negotiation import GRAPHQL_RESPONSE_JSON, accepts_graphql_response_json, is_request_error
from web.state import AppRuntime, runtime_of


def client_ip(request: Request | WebSocket) -> str | None:
    return request.client.host if request.client else None


SUBSCRIPTION_OVER_HTTP = (
    "subscriptions are served over the websocket at /graphql (graphql-transport-ws or graphql-ws)"
)


class GraphQLEndpoint(GraphQL[Context, None]):
    schema: Schema

    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler
    max_message_bytes = 64 * 1024
    catalog_cache: CatalogResponseCache
    persisted_queries: PersistedQueries

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        return Context(
            runtime=runtime_of(request),
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
        context.runtime.sockets.add(viewer.credential_id, context.request)
        return None

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        if not isinstance(request, WebSocket):
            answered = await self.answer_prepared_query(request)
            if answered is not None:
                return answered
            return await super().run(request, context, root_value)
        metrics.WEBSOCKETS.inc()
        try:
            return await super().run(request, context, root_value)
        finally:
            metrics.WEBSOCKETS.dec()
            runtime_of(request).sockets.remove(request)

    async def answer_prepared_query(self, request: Request) -> Response | None:
        """A plain query (GET, or a JSON POST) or mutation (a JSON POST) whose document is
        already prepared, answered without strawberry's generic request handling (ADR 0015);
        None for anything else, which strawberry's `run` then handles whole (the body read
        here is kept for it)."""
        request_data = await self.plain_request(request)
        if request_data is None:
            return None
        query = self.persisted_queries.resolve(request_data.query, request_data.extensions)
        if not isinstance(query, str):
            return None  # a refusal, answered by the full path
        prepared = self.schema.documents.get(query)
        operation = request_data.operation_name
        kind = prepared.operation_type(operation) if prepared is not None else None
        answerable = kind is OperationType.QUERY or (
            kind is OperationType.MUTATION and request.method == "POST"  # never over GET
        )
        if prepared is None or not answerable:
            return None
        if self.catalog_cache.key(query, request_data.variables, operation) is not None:
            return None  # answered from the catalog response cache by execute_single
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, sub_response)
        result = await self.schema.execute_prepared(
            prepared, request_data.variables, context, None, operation
        )
        return self.create_response(await self.process_result(request, result), sub_response)

    async def plain_request(self, request: Request) -> GraphQLRequestData | None:
        """The operation of a GET or `application/json` POST of one operation, not asking for
        a streamed answer; None for any other request (multipart, batches, the IDE...)."""
        accept = request.headers.get("accept", "")
        if "multipart" in accept or "event-stream" in accept:
            return None
        if request.method == "GET":
            data: object = self.parse_query_params(request.query_params)
        elif request.method == "POST" and request.headers.get("content-type", "").startswith(
            "application/json"
        ):
            data = self.parse_json(await request.body())
        else:
            return None
        if not isinstance(data, dict):
            return None
        query, variables = data.get("query"), data.get("variables")
        extensions, operation_name = data.get("extensions"), data.get("operationName")
        if not (
            isinstance(query, str | None)
            and isinstance(variables, dict | None)
            and isinstance(extensions, dict | None)
            and isinstance(operation_name, str | None)
        ):
            return None  # strawberry's run refuses these with its own 400s
        return GraphQLRequestData(query, variables, operation_name, extensions)

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        if accepts_graphql_response_json(request.headers.get("accept")):
            sub_response.media_type = GRAPHQL_RESPONSE_JSON  # read by create_response
        return sub_response

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        """In application/graphql-response+json a request error is a 400 without `data` (the
        GraphQL-over-HTTP spec); application/json keeps answering 200 for compatibility."""
        if sub_response.media_type != GRAPHQL_RESPONSE_JSON or isinstance(response_data, list):
            return super().create_response(response_data, sub_response)
        if is_request_error(response_data):
            response_data = response_data.copy()
            response_data.pop("data", None)
            sub_response.status_code = sub_response.status_code or 400
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
        return response

    async def execute_single(
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: Context,
        root_value: Any,
        request_data: Any,
    ) -> Any:
        """A persisted query's hash stands for its text (web/apq.py); public catalog queries
        are answered from the catalog response cache; a subscription (never cached: the cache
        holds queries) is refused with 400."""
        query = self.persisted_queries.resolve(request_data.query, request_data.extensions)
        if isinstance(query, Refusal):
            sub_response.status_code = query.status or sub_response.status_code
            return ExecutionResult(data=None, errors=[query.error])
        request_data.query = query
        key = self.catalog_cache.key(
            request_data.query, request_data.variables, request_data.operation_name
        )
        if key is None:
            try:
                return await super().execute_single(
                    request, request_adapter, sub_response, context, root_value, request_data
                )
            except SubscriptionOverHttp:
                sub_response.status_code = 400
                error = GraphQLError(SUBSCRIPTION_OVER_HTTP, extensions={"code": "INVALID_INPUT"})
                return ExecutionResult(data=None, errors=[error])
        version = await context.runtime.catalog.snapshot()
        cached = self.catalog_cache.get(key, version)
        if cached is not None:
            return cached
        result = await super().execute_single(
            request, request_adapter, sub_response, context, root_value, request_data
        )
        self.catalog_cache.put(key, version, result)
        return result

    async def process_result(self, request: Any, result: Any) -> Any:
        processed = await super().process_result(request, result)
        entry = self.catalog_cache.entry_of(result)
        return PreEncoded(processed, entry) if entry is not None else processed

    def encode_json(self, data: object) -> str | bytes:
        """A cached catalog answer is encoded once (200 offers are ~30 KB of JSON)."""
        if isinstance(data, PreEncoded):
            if data.entry.body is None:
                data.entry.body = super().encode_json(data)
            return data.entry.body
        return super().encode_json(data)

    def should_render_graphql_ide(self, request: Any) -> bool:
        """A GET without `query` but with `extensions` is a persisted query's hash (web/apq.py),
        an operation: not a browser asking for GraphiQL, even if it accepts `*/*`."""
        has_extensions = "extensions" in request.query_params
        return not has_extensions and super().should_render_graphql_ide(request)

    def parse_json(self, data: str | bytes) -> Any:
        # strawberry calls `.get` on what this returns: a body of `"x"`, `5` or `null` was a 500.
        parsed = self._decoded(data, "request body")
        if not isinstance(parsed, dict | list):  # a list is a batch, refused later with 400
            raise HTTPException(400, "the request must be a JSON object")
        return parsed

    def parse_query_params(self, params: QueryParams) -> dict[str, Any]:
        """GET: `variables` and `extensions` are JSON in the query string, and GraphQL over
        HTTP lets them be `null`; strawberry refuses any other non-object with 400."""
        parsed: dict[str, Any] = dict(params)
        for name in ("variables", "extensions"):
            if parsed.get(name):
                parsed[name] = self._decoded(parsed[name], f"`{name}`")
        return parsed

    def _decoded(self, data: str | bytes, what: str) -> object:
        try:
            return self.decode_json(data)
        except json.JSONDecodeError as error:
            raise HTTPException(400, f"Unable to parse {what} as JSON: {error.msg}") from None

    def decode_json(self, data: str | bytes) -> object:
        # Bounds what one websocket message may make us parse (HTTP bodies are bounded earlier).
        # A JSONDecodeError is a 400 over HTTP and closes a graphql-transport-ws socket with 4400.
        if len(data) > self.max_message_bytes:
            raise json.JSONDecodeError("message too large", "", 0)
        return json_input.loads(data)


def graphql_endpoint(rt: AppRuntime) -> GraphQLEndpoint:
    """The endpoint of one app: its schema, limits and caches built from the app's settings."""
    settings = rt.settings
    schema = build_schema(settings)
    endpoint = GraphQLEndpoint(
        schema,
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
        allow_queries_via_get=True,  # queries only: strawberry refuses mutations over GET
        keep_alive=True,  # legacy graphql-ws "ka" messages; transport-ws clients ping us
        keep_alive_interval=settings.ws_keep_alive_seconds,
        connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
        max_subscriptions_per_connection=settings.ws_max_subscriptions,
        allowed_origins=settings.allowed_origins,
    )
    endpoint.max_message_bytes = settings.graphql_max_body_bytes
    endpoint.catalog_cache = CatalogResponseCache(settings.catalog_response_cache_entries)
    endpoint.persisted_queries = PersistedQueries(
        settings.graphql_apq_cache_entries, lambda query: schema.documents.get(query) is not None
    )
    return endpoint
