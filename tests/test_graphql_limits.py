"""What a GraphQL request may cost and carry (schema/limits.py, web/), one rule per test.

Over-limit documents are refused before execution: each test hides a `register` mutation in
the refused document and checks that no account was created.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from models import User
from tests import live
from tests.api import Api
from tests.snapshot import Snapshot, snapshot

ALLOWED_ORIGIN = "http://app.smsrooms.test"  # tests/conftest.py's allowed_origins


def new_email() -> str:
    return f"limits-{uuid.uuid4().hex[:12]}@example.com"


def register_field(email: str, alias: str = "", depth: int = 1) -> str:
    """A `register` selection `depth` deep as the limiter counts (the root field is depth 0,
    its `token` 1); the levels beyond 1 name fields that do not exist."""
    selection = "token"
    for level in range(depth - 1):
        selection = f"level{level} {{ {selection} }}"
    prefix = f"{alias}: " if alias else ""
    return f'{prefix}register(email: "{email}", password: "correct horse 1") {{ {selection} }}'


async def graphql_post(api: Api, body: object) -> httpx.Response:
    return await api.client.post("/graphql", json=body)


def top_level_errors(response: httpx.Response) -> list[str]:
    """The messages of a refused request: no data, only errors."""
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer.get("data") is None, answer
    assert answer["errors"], answer
    return [error["message"] for error in answer["errors"]]


async def assert_not_registered(email: str, before: Snapshot) -> None:
    assert not await User.exists(email=email)
    assert await snapshot() == before


# -- depth, aliases, tokens -------------------------------------------------------------------
async def test_query_deeper_than_max_depth_is_refused(api: Api) -> None:
    # The deepest valid selection of this schema is 4 levels, so an over-deep document names
    # fields that do not exist either; the depth rule must still report it (defence in depth
    # against a future recursive type).
    max_depth = api.server.settings.graphql_max_depth
    email, before = new_email(), await snapshot()
    document = f"mutation {{ {register_field(email, depth=max_depth + 1)} }}"
    messages = top_level_errors(await graphql_post(api, {"query": document}))
    assert f"exceeds maximum operation depth of {max_depth}" in " ".join(messages), messages
    await assert_not_registered(email, before)


async def test_query_at_max_depth_is_not_refused_for_depth(api: Api) -> None:
    max_depth = api.server.settings.graphql_max_depth
    document = f"mutation {{ {register_field(new_email(), depth=max_depth)} }}"
    messages = top_level_errors(await graphql_post(api, {"query": document}))
    assert not any("depth" in m for m in messages), messages


async def test_more_aliases_than_allowed_are_refused(api: Api) -> None:
    limit = api.server.settings.graphql_max_aliases
    email, before = new_email(), await snapshot()
    aliases = " ".join(f"a{i}: __typename" for i in range(limit))
    document = f"mutation {{ {register_field(email, 'hidden')} {aliases} }}"
    messages = top_level_errors(await graphql_post(api, {"query": document}))
    assert messages == [f"{limit + 1} aliases found. Allowed: {limit}"]
    await assert_not_registered(email, before)


async def test_aliases_up_to_the_limit_are_executed(api: Api) -> None:
    limit = api.server.settings.graphql_max_aliases
    document = "{ " + " ".join(f"a{i}: __typename" for i in range(limit)) + " }"
    data = await api.gql(document)
    assert data == {f"a{i}": "Query" for i in range(limit)}


async def test_more_tokens_than_allowed_are_refused(api: Api) -> None:
    limit = api.server.settings.graphql_max_tokens
    email, before = new_email(), await snapshot()
    padding = " ".join("__typename" for _ in range(limit))
    document = f"mutation {{ {register_field(email)} {padding} }}"
    messages = top_level_errors(await graphql_post(api, {"query": document}))
    assert messages == [
        f"Syntax Error: Document contains more than {limit} tokens. Parsing aborted."
    ]
    await assert_not_registered(email, before)


def activations_with_tokens(count: int) -> str:
    """A valid query of exactly `count` tokens: 15 of structure, the rest enum values in a list
    (repeating one field instead would trip graphql-core's own overlap work budget)."""
    statuses = " ".join("WAITING_SMS" for _ in range(count - 15))
    return f"{{ activations(status: [{statuses}]) {{ edges {{ cursor }} }} }}"


async def test_tokens_up_to_the_limit_are_executed(api: Api) -> None:
    limit = api.server.settings.graphql_max_tokens
    user = await api.register()
    data = await api.gql(activations_with_tokens(limit), token=user.token)
    assert data == {"activations": {"edges": []}}
    answer = await api.post(activations_with_tokens(limit + 1), token=user.token)
    assert "more than" in answer["errors"][0]["message"]


# -- GET ----------------------------------------------------------------------------------------
async def test_mutation_over_get_is_refused_and_not_run(api: Api) -> None:
    email, before = new_email(), await snapshot()
    mutation = f"mutation {{ {register_field(email)} }}"
    response = await api.client.get("/graphql", params={"query": mutation})
    assert response.status_code in (400, 405), response.text
    assert "mutation" in response.text.lower()
    await assert_not_registered(email, before)


async def test_query_over_get_works(api: Api) -> None:
    query = "query($c: String) { prices(country: $c) { country { code } } }"
    response = await api.client.get(
        "/graphql", params={"query": query, "variables": json.dumps({"c": "GB"})}
    )
    assert response.status_code == 200, response.text
    codes = {offer["country"]["code"] for offer in response.json()["data"]["prices"]}
    assert codes == {"GB"}


# -- malformed requests -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"query": "{ me { id } }"', "JSON"),
        (b"not json at all", "JSON"),
        (b'"{ me { id } }"', "JSON object"),
        (b"42", "JSON object"),
        (b"null", "JSON object"),
        (b"true", "JSON object"),
        (b'[{"query": "{ me { id } }"}]', "Batching"),
        (b"{}", "No GraphQL query"),
        (b'{"variables": {}}', "No GraphQL query"),
        (b'{"query": 5}', "query"),
        (b'{"query": "{ me { id } }", "variables": [1]}', "variables"),
    ],
)
async def test_malformed_request_is_a_clear_400(api: Api, body: bytes, expected: str) -> None:
    response = await api.client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert expected in response.text
    assert "Traceback" not in response.text


async def test_body_over_64_kib_is_refused_413(api: Api) -> None:
    email, before = new_email(), await snapshot()
    padding = " " * (api.server.settings.graphql_max_body_bytes + 1)
    document = f"mutation {{ {register_field(email)} }}{padding}"
    response = await graphql_post(api, {"query": document})
    assert response.status_code == 413
    assert response.json()["errors"][0]["message"] == "request body too large"
    await assert_not_registered(email, before)


async def test_streamed_body_over_64_kib_is_refused_413(api: Api) -> None:
    """Without Content-Length (chunked), the limit holds while the body is read."""
    email, before = new_email(), await snapshot()
    body = json.dumps(
        {
            "query": f"mutation {{ {register_field(email)} }}",
            "variables": {"pad": "x" * (api.server.settings.graphql_max_body_bytes)},
        }
    )

    async def chunks() -> AsyncIterator[bytes]:
        data = body.encode()
        for start in range(0, len(data), 8192):
            yield data[start : start + 8192]

    response = await api.client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    await assert_not_registered(email, before)


async def test_a_document_validation_chokes_on_is_a_request_error_not_a_500(api: Api) -> None:
    """strawberry's depth limiter raises KeyError on a spread of an unknown fragment while
    validating; the request is refused as invalid input over GET and POST, with or without a
    persisted query's hash, never a 500 (the prepared documents of ADR 0015 must not let it
    escape)."""
    document = "{ me { ...Unknown } }"
    digest = hashlib.sha256(document.encode()).hexdigest()
    apq = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    for response in (
        await graphql_post(api, {"query": document}),
        await api.client.get("/graphql", params={"query": document}),
        await graphql_post(api, {"query": document, "extensions": apq}),
    ):
        assert response.status_code == 200, response.text
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "INVALID_INPUT", error
        assert "Traceback" not in response.text


# -- errors do not leak internals ---------------------------------------------------------------
@pytest.mark.logs_errors("a bug injected on purpose: the server logs it, the client sees none")
async def test_unexpected_error_is_masked(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internal detail at /srv/smsrooms/services/catalog.py")

    monkeypatch.setattr(api.rt.catalog, "offers", broken)
    response = await graphql_post(api, {"query": "{ prices { available } }"})
    assert response.status_code == 200
    answer = response.json()
    assert answer["data"] is None
    errors = [(e["message"], e["path"]) for e in answer["errors"]]
    assert errors == [("Unexpected error.", ["prices"])]
    for leak in ("secret internal detail", "RuntimeError", "Traceback", "/srv/", ".py"):
        assert leak not in response.text


@pytest.mark.parametrize(
    ("document", "variables", "code", "message"),
    [
        ("{ activations { edges { cursor } } }", {}, "UNAUTHENTICATED", "sign in first"),
        ("{ nope }", {}, "INVALID_INPUT", "Cannot query field 'nope'"),
        (
            'mutation($a: Decimal!) { adjustBalance(userId: 1, amount: $a, reason: "x")'
            " { errors { code } } }",
            {"a": "NaN"},
            "INVALID_INPUT",
            "Decimal must be a string such as",
        ),
        ("{ countries { code ", {}, "INVALID_INPUT", "Syntax Error"),
    ],
)
async def test_intended_errors_stay_visible(
    api: Api, document: str, variables: dict[str, Any], code: str | None, message: str
) -> None:
    response = await graphql_post(api, {"query": document, "variables": variables})
    [error] = response.json()["errors"]
    assert message in error["message"]
    assert error.get("extensions", {}).get("code") == code


async def test_service_error_of_a_query_stays_visible(api: Api) -> None:
    user = await api.register()
    answer = await api.post("{ activations(first: 1000) { edges { cursor } } }", token=user.token)
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert error["message"] == f"first must be between 1 and {api.server.settings.max_page_size}"


# -- cross-site websocket handshakes --------------------------------------------------------
async def test_websocket_from_another_origin_is_refused(api: Api) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(
            live.ws_url(api.server.url),
            subprotocols=[live.TRANSPORT_WS],  # type: ignore[list-item]
            origin="http://evil.example",  # type: ignore[arg-type]
        ):
            pass
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("origin", [ALLOWED_ORIGIN, None])
async def test_websocket_from_allowed_origin_or_no_origin_is_accepted(
    api: Api, origin: str | None
) -> None:
    user = await api.register()
    async with websockets.connect(
        live.ws_url(api.server.url),
        subprotocols=[live.TRANSPORT_WS],  # type: ignore[list-item]
        origin=origin,  # type: ignore[arg-type]
    ) as socket:
        assert socket.subprotocol == live.TRANSPORT_WS
        await live.send(
            socket,
            {"type": "connection_init", "payload": {"authorization": f"Bearer {user.token}"}},
        )
        assert (await live.receive(socket))["type"] == "connection_ack"


async def test_an_oversized_cursor_is_invalid_input_not_a_bug(api: Api) -> None:
    import base64

    user = await api.register()
    for kind, field in (("activation", "activations"), ("transaction", "transactions")):
        cursor = base64.urlsafe_b64encode(f"{kind}:{'9' * 30}".encode()).decode()
        answer = await api.post(
            f'{{ {field}(after: "{cursor}") {{ edges {{ cursor }} }} }}', token=user.token
        )
        assert answer["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
