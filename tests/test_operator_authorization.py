"""Every admin operation of running the shop is refused to anyone else and changes nothing:
a user gets FORBIDDEN (in the payload's errors for a mutation, as a GraphQL error for a
query), before any argument is looked at; an anonymous caller gets UNAUTHENTICATED.
"""

from __future__ import annotations

from typing import Any

import pytest

from models import ActivityLog
from tests.account_helpers import top_level_code
from tests.api import Api
from tests.operator_helpers import (
    ALL_ACTIVATIONS,
    BLOCK,
    FLAGGED,
    MAINTENANCE,
    REVOKE_ACTIVATION,
    SET_MAINTENANCE,
    UNBLOCK,
    UNMATCHED,
    USER,
    USER_ACTIVITY,
    USERS,
)
from tests.snapshot import snapshot

# (root field, document, variables, is a mutation); "$victim" and "$activation" are filled in.
OPERATIONS: list[tuple[str, str, dict[str, Any], bool]] = [
    ("setMaintenance", SET_MAINTENANCE, {"on": True, "m": "closed"}, True),
    ("blockUser", BLOCK, {"id": "$victim", "r": "because"}, True),
    ("blockUser", BLOCK, {"id": "999999999", "r": ""}, True),  # FORBIDDEN before NOT_FOUND
    ("unblockUser", UNBLOCK, {"id": "$victim", "r": "because", "restore": True}, True),
    ("revokeActivation", REVOKE_ACTIVATION, {"id": "$activation", "r": "because"}, True),
    ("users", USERS, {}, False),
    ("user", USER, {"id": "$victim"}, False),
    ("userActivity", USER_ACTIVITY, {"u": "$victim"}, False),
    ("allActivations", ALL_ACTIVATIONS, {"u": "$victim"}, False),
    ("allActivations", ALL_ACTIVATIONS, {"u": "not-an-id", "after": "x"}, False),
    ("flaggedUsers", FLAGGED, {}, False),
    ("unmatchedSms", UNMATCHED, {"s": None}, False),
]


@pytest.mark.parametrize("actor", ["user", "anonymous"])
@pytest.mark.parametrize(
    ("field", "document", "variables", "mutation"),
    OPERATIONS,
    ids=[f"{op[0]}-{i}" for i, op in enumerate(OPERATIONS)],
)
async def test_admin_operations_are_refused_to_others_and_change_nothing(
    api: Api, actor: str, field: str, document: str, variables: dict[str, Any], mutation: bool
) -> None:
    victim = await api.funded_user("3.00")
    activation = await api.bought(victim)
    intruder = await api.funded_user("1.00")
    filled = {
        k: {"$victim": str(victim.id), "$activation": activation["id"]}.get(v, v)
        if isinstance(v, str)
        else v
        for k, v in variables.items()
    }
    before = await snapshot(victim, intruder)
    logged = await ActivityLog.all().count()

    token = intruder.token if actor == "user" else None
    answer = await api.post(document, filled, token=token)

    if actor == "anonymous":
        assert top_level_code(answer) == "UNAUTHENTICATED"
    elif mutation:
        payload = answer["data"][field]
        assert [e["code"] for e in payload["errors"]] == ["FORBIDDEN"], answer
        assert [v for k, v in payload.items() if k != "errors"] == [None]
    else:
        assert top_level_code(answer) == "FORBIDDEN"
    assert await snapshot(victim, intruder) == before
    assert await ActivityLog.all().count() == logged
    assert await api.gql(MAINTENANCE) == {"maintenance": {"on": False, "message": None}}
