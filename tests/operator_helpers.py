"""Helpers of the tests of running the shop (tests/test_operator_*.py): the admin operations
as GraphQL documents, one call each, and the fixture that ends maintenance after a test.
`maintenance_ends` is registered in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.api import Api

USER_FIELDS = "id email role state balance { amount currency } createdAt lastSeenAt activationCount"
ERRORS = "errors { code message field }"
ACTIVITY = (
    "edges { cursor node { id action at ip detail actorId } } pageInfo { hasNextPage endCursor }"
)

SET_MAINTENANCE = (
    "mutation($on: Boolean!, $m: String) { setMaintenance(on: $on, message: $m)"
    f" {{ maintenance {{ on message }} {ERRORS} }} }}"
)
MAINTENANCE = "{ maintenance { on message } }"
BLOCK = (
    "mutation($id: ID!, $r: String!) { blockUser(id: $id, reason: $r)"
    f" {{ user {{ {USER_FIELDS} }} {ERRORS} }} }}"
)
UNBLOCK = (
    "mutation($id: ID!, $r: String!, $restore: Boolean) { unblockUser(id: $id, reason: $r,"
    f" restoreBalance: $restore) {{ user {{ {USER_FIELDS} }} {ERRORS} }} }}"
)
REVOKE_ACTIVATION = (
    "mutation($id: ID!, $r: String!) { revokeActivation(id: $id, reason: $r)"
    f" {{ activation {{ id status refunded }} {ERRORS} }} }}"
)
DELETE_ACCOUNT = f"mutation($p: String!) {{ deleteAccount(password: $p) {{ deleted {ERRORS} }} }}"
USERS = (
    "query($s: String, $state: UserState, $first: Int, $after: String) {"
    " users(search: $s, state: $state, first: $first, after: $after)"
    f" {{ edges {{ cursor node {{ {USER_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
)
USER = (
    "query($id: ID!) { user(id: $id) {"
    f" user {{ {USER_FIELDS} }}"
    " activations { edges { node { id status } } pageInfo { hasNextPage } }"
    " topUps { edges { node { id status } } pageInfo { hasNextPage } }"
    f" activity {{ {ACTIVITY} }} }} }}"
)
ACTIVITY_QUERY = (
    "query($first: Int, $after: String) {"
    f" activity(first: $first, after: $after) {{ {ACTIVITY} }} }}"
)
USER_ACTIVITY = (
    "query($u: ID!, $first: Int, $after: String) {"
    f" userActivity(userId: $u, first: $first, after: $after) {{ {ACTIVITY} }} }}"
)
ALL_ACTIVATIONS = (
    "query($status: [ActivationStatus!], $u: ID, $c: String, $s: String, $after: String) {"
    " allActivations(status: $status, userId: $u, country: $c, service: $s, first: 2,"
    " after: $after) { edges { node { id status country { code } service { code } } }"
    " pageInfo { hasNextPage endCursor } } }"
)
FLAGGED = (
    "{ flaggedUsers(first: 100) { edges { node { user { id state } flaggedAt cooldownUntil"
    " windowStart purchases cancellations withCode } } } }"
)
UNMATCHED = (
    "query($s: ID) { unmatchedSms(supplierId: $s, first: 50) { edges { node"
    " { id supplierId supplierCode to sender text receivedAt } } } }"
)


async def set_maintenance(
    api: Api, token: str | None, on: bool, message: str | None = None
) -> dict[str, Any]:
    """The whole answer: a refused request has top-level errors."""
    return await api.post(SET_MAINTENANCE, {"on": on, "m": message}, token=token)


async def block(api: Api, admin: str, user_id: int | str, reason: str = "fraud") -> dict[str, Any]:
    data = await api.gql(BLOCK, {"id": str(user_id), "r": reason}, token=admin)
    return data["blockUser"]  # type: ignore[no-any-return]


async def unblock(
    api: Api, admin: str, user_id: int | str, *, restore: bool, reason: str = "appeal upheld"
) -> dict[str, Any]:
    data = await api.gql(
        UNBLOCK, {"id": str(user_id), "r": reason, "restore": restore}, token=admin
    )
    return data["unblockUser"]  # type: ignore[no-any-return]


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


def actions(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["action"] for edge in connection["edges"]]


@pytest.fixture
async def maintenance_ends(api: Api) -> AsyncIterator[None]:
    """Whatever the test does, the shared server leaves it out of maintenance."""
    yield
    answer = await set_maintenance(api, await api.admin_token(), False)
    assert answer["data"]["setMaintenance"]["errors"] == [], answer
