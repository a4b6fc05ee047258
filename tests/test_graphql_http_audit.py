"""GraphQL over HTTP by the spec: graphql-http's server audits against our `/graphql`.

The audits are JavaScript (tests/js/audit.mjs, on the `graphql-http` package); they run in a
subprocess against the in-process test server. They test the HTTP layer only, so one backend
pair is enough. Without Node.js or tests/js/node_modules the audit is skipped with the reason,
except on CI (CI=true), where that is a failure: `scripts/test` installs the packages.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.api import Api
from tests.conftest import Server

JS = Path(__file__).resolve().parent / "js"
AUDIT_TIMEOUT_SECONDS = 120
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
SUMMARY = re.compile(r"^summary: (\d+) ok, (\d+) notice, (\d+) warn, (\d+) error$", re.M)

pytestmark = pytest.mark.backends("sqlite")


def node_or_skip() -> str:
    node = shutil.which("node")
    missing = None
    if node is None:
        missing = "Node.js (`node`) is not installed"
    elif not (JS / "node_modules" / "graphql-http").is_dir():
        missing = "tests/js/node_modules is missing: run `npm ci` in tests/js"
    if missing is None:
        assert node is not None
        return node
    if os.environ.get("CI") == "true":
        pytest.fail(f"{missing}; CI must run the GraphQL-over-HTTP audit")
    pytest.skip(f"{missing}; the GraphQL-over-HTTP audit needs it")


async def run_audit(node: str, url: str) -> tuple[int, str]:
    # A subprocess of its own event loop's kind: the server lives in this loop and must keep
    # answering while node runs, so nothing here may block.
    process = await asyncio.create_subprocess_exec(
        node,
        str(JS / "audit.mjs"),
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), AUDIT_TIMEOUT_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_graphql_over_http_spec_audits_report_no_error(server: Server) -> None:
    node = node_or_skip()
    code, output = await run_audit(node, f"{server.url}/graphql")
    summary = SUMMARY.search(output)
    assert summary is not None, output
    ok, _notice, _warn, errors = (int(n) for n in summary.groups())
    failed = [line for line in output.splitlines() if line.startswith("ERROR")]
    assert (code, errors, failed) == (0, 0, []), output
    assert ok >= 50, output  # the audits really ran (graphql-http 1.23 has 61)


# -- the content negotiation the audit asks for, pinned without Node ------------------------------


async def test_graphql_response_json_request_error_is_400_without_data(api: Api) -> None:
    response = await api.client.post(
        "/graphql",
        json={"query": "{ me { noSuchField } }"},
        headers={"accept": f"{GRAPHQL_RESPONSE_JSON}, application/json;q=0.9"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    body = response.json()
    assert "data" not in body
    assert "noSuchField" in body["errors"][0]["message"]


async def test_graphql_response_json_field_error_stays_200_with_data(api: Api) -> None:
    # Executed, with an auth failure in a field: a well-formed GraphQL response, not a 4xx.
    response = await api.client.post(
        "/graphql",
        json={"query": "{ activations { edges { cursor } } }"},
        headers={"accept": GRAPHQL_RESPONSE_JSON},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "accept", [None, "*/*", "application/json", f"application/json, {GRAPHQL_RESPONSE_JSON};q=0.5"]
)
async def test_application_json_request_error_keeps_answering_200(
    api: Api, accept: str | None
) -> None:
    headers = {"accept": accept} if accept else {}
    request = api.client.build_request(
        "POST", "/graphql", json={"query": "{ me { noSuchField } }"}, headers=headers
    )
    if accept is None:
        del request.headers["accept"]
    response = await api.client.send(request)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["data"] is None
