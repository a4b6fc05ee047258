"""Who may call what: every viewer-only operation refuses anonymous requests and garbage
credentials alike and changes nothing; public queries need no credentials.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.account_helpers import ME, top_level_code
from tests.api import Api
from tests.snapshot import snapshot

# -- authorization: anonymous and garbage credentials ---------------------------------------

PROTECTED = {
    "activation": 'query { activation(id: "1") { id } }',
    "activations": "{ activations { edges { cursor } } }",
    "transactions": "{ transactions { edges { cursor } } }",
    "credentials": "{ credentials { id } }",
    "logout": "mutation { logout }",
    "buyNumber": 'mutation { buyNumber(country: "GB", service: "tg") { errors { code } } }',
    "cancelActivation": 'mutation { cancelActivation(id: "1") { errors { code } } }',
    "banNumber": 'mutation { banNumber(id: "1") { errors { code } } }',
    "finishActivation": 'mutation { finishActivation(id: "1") { errors { code } } }',
    "requestAnotherSms": 'mutation { requestAnotherSms(id: "1") { errors { code } } }',
    "createApiKey": 'mutation { createApiKey(name: "bot") { key errors { code } } }',
    "revokeCredential": 'mutation { revokeCredential(id: "1") { revoked errors { code } } }',
    "adjustBalance": (
        'mutation { adjustBalance(userId: "1", amount: "1.00", reason: "x") { errors { code } } }'
    ),
    "suppliers": "{ suppliers { id } }",
    "createSupplier": (
        'mutation { createSupplier(input: {code: "anon", name: "x", kind: WEBHOOK})'
        " { secret errors { code } } }"
    ),
    "updateSupplier": (
        'mutation { updateSupplier(id: "1", input: {state: DISABLED}) { errors { code } } }'
    ),
    "rotateSupplierSecret": 'mutation { rotateSupplierSecret(id: "1") { secret errors { code } } }',
    "setSupplierCost": (
        'mutation { setSupplierCost(supplierId: "1", country: null, service: null, cost: "1")'
        " { errors { code } } }"
    ),
}
# What a request may carry instead of valid credentials: all of them mean "nobody".
NO_VALID_CREDENTIALS = {
    "none": None,
    "garbage": "Bearer garbage",
    "unknown session": "Bearer srs_" + "A" * 43,
    "unknown key": "Bearer srk_" + "A" * 43,
    "oversized": "Bearer " + "x" * 5000,
    "bare scheme": "Bearer",
    "other scheme": "Basic YWRtaW46YWRtaW4=",
}


async def _post_with(api: Api, query: str, authorization: str | None) -> dict[str, Any]:
    headers = {"authorization": authorization} if authorization is not None else {}
    response = await api.client.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("operation", list(PROTECTED))
async def test_viewer_only_operations_need_valid_credentials(api: Api, operation: str) -> None:
    before = await snapshot()  # what nobody may change: activations, credentials, adjustments
    for credential, authorization in NO_VALID_CREDENTIALS.items():
        answer = await _post_with(api, PROTECTED[operation], authorization)
        assert top_level_code(answer) == "UNAUTHENTICATED", credential
        assert answer["errors"][0]["path"] == [operation], credential
        assert not any((answer.get("data") or {}).values()), credential
    assert await snapshot() == before


async def test_me_is_null_without_valid_credentials(api: Api) -> None:
    for credential, authorization in NO_VALID_CREDENTIALS.items():
        assert await _post_with(api, ME, authorization) == {"data": {"me": None}}, credential


async def test_public_queries_need_no_credentials(api: Api) -> None:
    answer = await _post_with(api, "{ countries { code } services { code } }", "Bearer garbage")
    assert "errors" not in answer
    assert {"GB", "US"} <= {c["code"] for c in answer["data"]["countries"]}
    assert "tg" in {s["code"] for s in answer["data"]["services"]}
