"""GraphQL over HTTP content negotiation: `application/graphql-response+json` and its status codes.

Clients that ask for the spec's media type get it, and a request error (nothing executed) is then
a 400 without `data`; `application/json` clients keep the traditional 200 answers.
"""

from __future__ import annotations

from strawberry.http import GraphQLHTTPResponse

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"


def accepts_graphql_response_json(accept: str | None) -> bool:
    """GraphQL over HTTP: answer in application/graphql-response+json when the client lists it
    at least as high as application/json (`*/*` or no Accept keeps plain application/json)."""
    quality = {GRAPHQL_RESPONSE_JSON: 0.0, "application/json": 0.0}
    for item in (accept or "").split(",")[:20]:
        media_type, *params = (part.strip() for part in item.split(";"))
        if media_type.lower() in quality:
            q = next((p[2:] for p in params if p.lower().startswith("q=")), "1")
            try:
                quality[media_type.lower()] = float(q)
            except ValueError:
                continue
    return 0 < quality[GRAPHQL_RESPONSE_JSON] >= quality["application/json"]


def is_request_error(data: GraphQLHTTPResponse) -> bool:
    """Nothing was executed: the document did not parse or validate, or the variables did not
    coerce. Such errors carry no `path`; an error raised while executing a field always does."""
    errors = data.get("errors") or []
    return (
        data.get("data") is None
        and bool(errors)
        and not any(isinstance(e, dict) and "path" in e for e in errors)
    )
