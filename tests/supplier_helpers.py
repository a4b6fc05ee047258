"""Suppliers through the admin's GraphQL operations (contract/operator.graphql), for tests."""

from __future__ import annotations

import uuid
from typing import Any

from tests.api import Api

SUPPLIER = (
    "id code name kind state pausedReason url currency available lastContactAt successRate "
    "medianSecondsToSms defaultCost { amount currency } owed { amount currency } "
    "upstreamBalance { amount currency } upstreamBalanceLow upstreamSyncedAt upstreamError"
)
PAYLOAD = f"supplier {{ {SUPPLIER} }} secret errors {{ code message field }}"


def fresh_code(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def create(api: Api, token: str | None = None, **fields: Any) -> dict[str, Any]:
    """The createSupplier payload; a WEBHOOK supplier with a fresh code unless told otherwise."""
    values = {"code": fresh_code(), "name": "Test supplier", "kind": "WEBHOOK", **fields}
    data = await api.gql(
        f"mutation($i: SupplierInput!) {{ createSupplier(input: $i) {{ {PAYLOAD} }} }}",
        {"i": values},
        token=token or await api.admin_token(),
    )
    return data["createSupplier"]  # type: ignore[no-any-return]


async def created(api: Api, **fields: Any) -> tuple[dict[str, Any], str | None]:
    """A supplier that was created, and the secret shown once."""
    payload = await create(api, **fields)
    assert payload["errors"] == [], payload
    return payload["supplier"], payload["secret"]


async def smshub_agent(api: Api, url: str, **fields: Any) -> tuple[dict[str, Any], str]:
    """An SMSHub agent registered at `url` (its GET_SERVICES, GET_NUMBER, FINISH_ACTIVATION)
    and the key both sides send, generated and shown once."""
    supplier, key = await created(api, kind="SMSHUB_AGENT", name="A SIM bank", url=url, **fields)
    assert key is not None
    return supplier, key


async def update(
    api: Api, supplier_id: str, token: str | None = None, **changes: Any
) -> dict[str, Any]:
    data = await api.gql(
        f"mutation($id: ID!, $u: SupplierUpdate!) {{ updateSupplier(id: $id, input: $u) "
        f"{{ {PAYLOAD} }} }}",
        {"id": supplier_id, "u": changes},
        token=token or await api.admin_token(),
    )
    return data["updateSupplier"]  # type: ignore[no-any-return]


async def rotate(api: Api, supplier_id: str, token: str | None = None) -> dict[str, Any]:
    data = await api.gql(
        f"mutation($id: ID!) {{ rotateSupplierSecret(id: $id) {{ {PAYLOAD} }} }}",
        {"id": supplier_id},
        token=token or await api.admin_token(),
    )
    return data["rotateSupplierSecret"]  # type: ignore[no-any-return]


async def listed(api: Api) -> dict[str, dict[str, Any]]:
    """Every supplier by code, as the admin's `suppliers` query shows it."""
    data = await api.gql(f"{{ suppliers {{ {SUPPLIER} }} }}", token=await api.admin_token())
    return {s["code"]: s for s in data["suppliers"]}


async def switch_off(api: Api, supplier_id: str) -> None:
    """DISABLED: so that a test's supplier is no candidate for the tests that follow."""
    payload = await update(api, supplier_id, state="DISABLED")
    assert payload["errors"] == [], payload


async def set_cost(
    api: Api, supplier_id: str, cost: str, country: str | None = None, service: str | None = None
) -> dict[str, Any]:
    data = await api.gql(
        "mutation($id: ID!, $c: String, $s: String, $cost: Decimal!) { setSupplierCost("
        f"supplierId: $id, country: $c, service: $s, cost: $cost) {{ {PAYLOAD} }} }}",
        {"id": supplier_id, "c": country, "s": service, "cost": cost},
        token=await api.admin_token(),
    )
    return data["setSupplierCost"]  # type: ignore[no-any-return]
