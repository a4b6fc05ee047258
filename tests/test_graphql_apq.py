"""Automatic persisted queries (web/apq.py) as Apollo clients use them, over HTTP.

The wire behaviour is Apollo Server's: an unknown hash is answered `PersistedQueryNotFound`
with extensions.code PERSISTED_QUERY_NOT_FOUND (what Apollo's link retries on), the query sent
with its hash registers it, a hash that does not match its query is refused and nothing runs.
The last test runs Apollo Client's own persisted-queries link (tests/js/apq.mjs) against the
server as the judge of that behaviour.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from models import User
from settings import Settings
from tests.api import Api
from tests.backends import Backend
from tests.conftest import Server, running, settings_for
from tests.test_graphql_http_audit import GRAPHQL_RESPONSE_JSON, JS, node_or_skip

BALANCE = "query Balance { me { balance { amount } } }"
NOT_FOUND = {
    "message": "PersistedQueryNotFound",
    "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
}


def sha256(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def persisted(query: str, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": sha256(query)}}


def unique(query: str) -> str:
    """The same operation under a text no other test (or run) has registered."""
    return f"{query} # {uuid.uuid4().hex}"


def bearer(token: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"} if token else {}


async def post(
    api: Api, body: dict[str, Any], token: str | None = None, **headers: str
) -> httpx.Response:
    return await api.client.post("/graphql", json=body, headers={**bearer(token), **headers})


async def get(
    api: Api, extensions: dict[str, Any], token: str | None = None, **params: str
) -> httpx.Response:
    query = {"extensions": json.dumps(extensions), **params}
    return await api.client.get("/graphql", params=query, headers=bearer(token))


@asynccontextmanager
async def api_of(settings: Settings) -> AsyncIterator[Api]:
    """A client of a server of its own with these settings."""
    async with running(settings) as server, httpx.AsyncClient(base_url=server.url) as client:
        yield Api(client, server)


# -- Apollo's wire behaviour ----------------------------------------------------------------------
async def test_unknown_hash_is_persisted_query_not_found_over_post_and_get(api: Api) -> None:
    extensions = persisted(unique(BALANCE))
    for response in (await post(api, {"extensions": extensions}), await get(api, extensions)):
        assert response.status_code == 200, response.text
        assert response.json() == {"data": None, "errors": [NOT_FOUND]}


async def test_not_found_in_graphql_response_json_is_a_400_with_the_same_error(api: Api) -> None:
    accept = f"{GRAPHQL_RESPONSE_JSON}, application/json;q=0.9"  # as Apollo Client 4 asks
    response = await post(api, {"extensions": persisted(unique(BALANCE))}, accept=accept)
    assert response.status_code == 400
    assert response.json() == {"errors": [NOT_FOUND]}


async def test_query_with_its_hash_registers_it_and_the_hash_alone_then_runs_it(api: Api) -> None:
    user = await api.funded_user("7.25")
    query = unique(BALANCE)
    registered = await post(api, {"query": query, "extensions": persisted(query)}, user.token)
    assert registered.json() == {"data": {"me": {"balance": {"amount": "7.25"}}}}
    for response in (
        await post(api, {"extensions": persisted(query)}, user.token),
        await get(api, persisted(query), user.token, operationName="Balance"),
    ):
        assert response.status_code == 200, response.text
        assert response.json() == {"data": {"me": {"balance": {"amount": "7.25"}}}}


async def test_a_persisted_query_answers_each_caller_as_themselves(api: Api) -> None:
    """The registry holds the text, never an answer: authorization applies on every request."""
    first, second = await api.funded_user("1.00"), await api.funded_user("2.00")
    query = unique(BALANCE)
    await post(api, {"query": query, "extensions": persisted(query)}, first.token)
    answers = [
        (await post(api, {"extensions": persisted(query)}, token)).json()["data"]
        for token in (first.token, second.token, None)
    ]
    assert answers == [
        {"me": {"balance": {"amount": "1.00"}}},
        {"me": {"balance": {"amount": "2.00"}}},
        {"me": None},
    ]


async def test_hash_that_does_not_match_its_query_is_refused_and_nothing_runs(api: Api) -> None:
    email = f"apq-{uuid.uuid4().hex[:12]}@example.com"
    mutation = f'mutation {{ register(email: "{email}", password: "correct horse 1") {{ token }} }}'
    wrong = persisted(unique(BALANCE))
    response = await post(api, {"query": mutation, "extensions": wrong})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"message": "provided sha does not match query", "extensions": {"code": "INVALID_INPUT"}}
    ]
    assert not await User.exists(email=email)
    assert (await post(api, {"extensions": wrong})).json()["errors"] == [NOT_FOUND]


@pytest.mark.parametrize(
    ("extensions", "message"),
    [
        ({"persistedQuery": {"version": 2, "sha256Hash": "ab"}}, "Unsupported persisted query"),
        ({"persistedQuery": {"version": 1}}, "sha256Hash"),
        ({"persistedQuery": {"version": 1, "sha256Hash": 5}}, "sha256Hash"),
        ({"persistedQuery": "abc"}, "persistedQuery"),
    ],
)
async def test_malformed_persisted_query_is_a_400(
    api: Api, extensions: dict[str, Any], message: str
) -> None:
    response = await post(api, {"extensions": extensions})
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]
    assert message in error["message"]
    assert error["extensions"]["code"] == "INVALID_INPUT"


async def test_a_query_with_a_lone_surrogate_and_a_hash_is_refused_not_a_500(api: Api) -> None:
    """JSON may carry a lone surrogate (`\\ud800`), which has no UTF-8: its hash cannot be
    the client's, so it is refused as any mismatching hash is, never a 500."""
    body = (
        '{"query": "{ __typename } # \\ud800", "extensions": {"persistedQuery": '
        f'{{"version": 1, "sha256Hash": "{"0" * 64}"}}}}}}'
    )
    response = await api.client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["message"] == "provided sha does not match query"


# -- the limits and rules still apply -----------------------------------------------------------
async def test_a_document_over_the_limits_is_refused_and_not_registered(api: Api) -> None:
    limit = api.server.settings.graphql_max_aliases
    query = unique("{ " + " ".join(f"a{i}: __typename" for i in range(limit + 1)) + " }")
    response = await post(api, {"query": query, "extensions": persisted(query)})
    assert response.json()["errors"][0]["message"] == f"{limit + 1} aliases found. Allowed: {limit}"
    assert (await post(api, {"extensions": persisted(query)})).json()["errors"] == [NOT_FOUND]


async def test_a_persisted_mutation_is_not_run_over_get(api: Api) -> None:
    email = f"apq-{uuid.uuid4().hex[:12]}@example.com"
    mutation = unique(
        'mutation($e: String!) { register(email: $e, password: "correct horse 1") { token } }'
    )
    registered = await post(
        api,
        {"query": mutation, "variables": {"e": email}, "extensions": persisted(mutation)},
    )
    assert registered.json()["data"]["register"]["token"]
    second = f"apq-{uuid.uuid4().hex[:12]}@example.com"
    response = await get(api, persisted(mutation), variables=json.dumps({"e": second}))
    assert response.status_code in (400, 405), response.text
    assert not await User.exists(email=second)


# -- the registry's bound and switch (a server of their own: the size is read at start-up) -------
@pytest.mark.backends("sqlite")
async def test_registry_keeps_the_most_recently_used_hashes(backend: Backend) -> None:
    async with api_of(settings_for(backend, graphql_apq_cache_entries=2)) as api:
        first, second, third = (unique("{ __typename }") for _ in range(3))
        for query in (first, second):
            await post(api, {"query": query, "extensions": persisted(query)})
        await post(api, {"extensions": persisted(first)})  # first is now the newest
        await post(api, {"query": third, "extensions": persisted(third)})
        found = [
            (await post(api, {"extensions": persisted(q)})).json().get("data")
            for q in (first, second, third)
        ]
        assert found == [{"__typename": "Query"}, None, {"__typename": "Query"}]


@pytest.mark.backends("sqlite")
async def test_apq_off_answers_persisted_query_not_supported(backend: Backend) -> None:
    async with api_of(settings_for(backend, graphql_apq_cache_entries=0)) as api:
        response = await post(api, {"extensions": persisted(BALANCE)})
    assert response.json()["errors"] == [
        {
            "message": "PersistedQueryNotSupported",
            "extensions": {"code": "PERSISTED_QUERY_NOT_SUPPORTED"},
        }
    ]


# -- the judge: Apollo Client's persisted-queries link ------------------------------------------
@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_apollo_clients_persisted_query_link_works_against_us(
    api: Api, server: Server, method: str
) -> None:
    node = node_or_skip()
    if not (JS / "node_modules" / "@apollo" / "client").is_dir():
        pytest.skip("tests/js/node_modules lacks @apollo/client: run `npm ci` in tests/js")
    user = await api.funded_user("3.50")
    operation = f"Balance{uuid.uuid4().hex}"  # a text no earlier run has registered
    process = await asyncio.create_subprocess_exec(
        node,
        str(JS / "apq.mjs"),
        f"{server.url}/graphql",
        user.token,
        method,
        operation,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, output.decode()
    report = json.loads(output.decode().strip().splitlines()[-1])
    assert [run["error"] for run in report["runs"]] == [None, None], report
    assert [run["data"]["me"]["balance"]["amount"] for run in report["runs"]] == ["3.50"] * 2
    requests = report["requests"]
    assert len({r["hash"] for r in requests}) == 1, report
    assert requests[0]["hash"], report
    # The first run: the hash alone, "not found", then the query with its hash (always POST);
    # the second run: the hash alone, answered.
    assert [(r["method"], r["query"]) for r in requests] == [
        (method, False),
        ("POST", True),
        (method, False),
    ], report
    assert [r["status"] for r in requests][1:] == [200, 200], report
