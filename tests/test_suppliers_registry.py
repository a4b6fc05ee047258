"""The supplier registry (issue 8): admins register, change and rotate suppliers through
GraphQL (contract/operator.graphql); secrets are shown once, stored sealed, never readable again.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import pytest

from models import (
    AccountKind,
    ActivityLog,
    Country,
    LedgerAccount,
    NumberState,
    PhoneNumber,
    Supplier,
    SupplierState,
)
from models.ledger import HOT_ACCOUNT_SHARDS
from services import audit, sealing, suppliers
from settings import Settings
from suppliers.signature import sign
from tests import supplier_helpers as sh
from tests.account_helpers import top_level_code
from tests.android_gateway import AndroidGateway
from tests.api import Api
from tests.snapshot import snapshot


async def webhook(api: Api, code: str, secret: str) -> int:
    """The status of a signed SMS to a number nobody holds (stored for audit when accepted)."""
    body = json.dumps({"id": sh.fresh_code("m"), "to": "+447700900999", "text": "hi"}).encode()
    response = await api.client.post(
        f"/suppliers/{code}/sms",
        content=body,
        headers={"x-signature": sign(secret, body, int(time.time()))},
    )
    return response.status_code


# -- creating ------------------------------------------------------------------------------------
async def test_admin_registers_a_webhook_supplier_with_a_payable_account(api: Api) -> None:
    supplier, secret = await sh.created(api, name="Acme SIMs", defaultCost="0.12")
    assert secret is not None
    assert len(secret) >= 40
    assert {k: supplier[k] for k in ("name", "kind", "state", "pausedReason", "currency")} == {
        "name": "Acme SIMs",
        "kind": "WEBHOOK",
        "state": "ACTIVE",
        "pausedReason": None,
        "currency": "USD",
    }
    assert (supplier["available"], supplier["owed"]["amount"]) == (0, "0.00")
    assert supplier["defaultCost"] == {"amount": "0.12", "currency": "USD"}
    assert (await sh.listed(api))[supplier["code"]] == supplier

    row = await Supplier.get(code=supplier["code"])
    assert row.secret_sealed is not None
    assert secret not in row.secret_sealed
    assert sealing.open_seal(api.rt.settings, row.secret_sealed) == secret
    assert row.default_cost_minor == 12
    shards = await LedgerAccount.filter(kind=AccountKind.PAYABLE, supplier_id=row.id)
    assert sorted(s.shard for s in shards) == list(range(HOT_ACCOUNT_SHARDS))  # docs/adr/0019
    assert {s.balance_minor for s in shards} == {0}
    assert await ActivityLog.exists(action="supplier created", detail=supplier["code"])


async def test_a_supplier_an_older_process_registered_gets_its_payable_shards(
    api: Api,
) -> None:
    """A process older than migration 0014 made one payable row per supplier: a new process
    adds the missing shards at start-up (docs/adr/0019), and running it again changes nothing."""
    supplier, _ = await sh.created(api, name="Old SIMs")
    payable = LedgerAccount.filter(kind=AccountKind.PAYABLE, supplier_id=int(supplier["id"]))
    await payable.filter(shard__gt=0).delete()  # as the old process left it
    for _ in range(2):
        await suppliers.complete_payable_shards()
        shards = await payable.order_by("shard")
        assert [s.shard for s in shards] == list(range(HOT_ACCOUNT_SHARDS))
    assert await audit.supplier_violations() == []


async def test_the_shown_secret_signs_its_webhook(api: Api) -> None:
    supplier, secret = await sh.created(api)
    assert secret is not None
    assert await webhook(api, supplier["code"], secret) == 200
    assert await webhook(api, supplier["code"], secret + "x") == 401


async def test_a_key_the_admin_gives_is_not_shown_back_and_works(api: Api) -> None:
    key = "admin-chosen-key-1234"
    supplier, secret = await sh.created(api, apiKey=key)
    assert secret is None
    assert await webhook(api, supplier["code"], key) == 200


async def test_upstream_keeps_its_url_and_our_key_there(api: Api) -> None:
    url = "http://127.0.0.1:9/stubs/handler_api.php"
    supplier, secret = await sh.created(api, kind="UPSTREAM", url=url, apiKey="our-key-at-them")
    assert (supplier["kind"], supplier["url"], secret) == ("UPSTREAM", url, None)
    row = await Supplier.get(code=supplier["code"])
    assert row.secret_sealed is not None
    assert sealing.open_seal(api.rt.settings, row.secret_sealed) == "our-key-at-them"
    await sh.switch_off(api, supplier["id"])


BAD_INPUT: dict[str, tuple[dict[str, Any], str]] = {
    "code too short": ({"code": "x"}, "code"),
    "code with capitals": ({"code": "Acme"}, "code"),
    "code with a slash": ({"code": "a/b"}, "code"),
    "code taken": ({"code": "demo"}, "code"),
    "a second demo": ({"kind": "DEMO"}, "kind"),
    "empty name": ({"name": "  "}, "name"),
    "agent without url": ({"kind": "SMSHUB_AGENT"}, "url"),
    "url not http": ({"kind": "SMSHUB_AGENT", "url": "ftp://agent.example/"}, "url"),
    "upstream without key": ({"kind": "UPSTREAM", "url": "http://127.0.0.1:9/up/"}, "apiKey"),
    "short key": ({"apiKey": "short"}, "apiKey"),
    "other currency": ({"currency": "EUR"}, "currency"),
    "negative cost": ({"defaultCost": "-0.01"}, "defaultCost"),
    "fraction of a cent": ({"defaultCost": "0.001"}, "defaultCost"),
    "numbers of a webhook supplier": ({"numbers": ["+447700900111"]}, "numbers"),
    "gateway number not E.164": (
        {"kind": "ANDROID_GATEWAY", "numbers": ["77011234567"]},
        "numbers",
    ),
    "gateway number of another supplier": (
        {"kind": "ANDROID_GATEWAY", "numbers": ["+447700900000"]},  # the demo pool's
        "numbers",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
async def test_bad_supplier_input_is_refused_and_nothing_changes(api: Api, case: str) -> None:
    fields, field = BAD_INPUT[case]
    before = await snapshot()
    payload = await sh.create(api, **fields)
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID_INPUT", field)]
    assert (payload["supplier"], payload["secret"]) == (None, None)
    assert await snapshot() == before


async def test_without_secrets_key_no_secret_is_stored(api: Api, override_settings: Any) -> None:
    override_settings(secrets_key=())
    before = await snapshot()
    payload = await sh.create(api)
    assert [e["code"] for e in payload["errors"]] == ["INVALID_STATE"]
    assert "SECRETS_KEY" in payload["errors"][0]["message"]
    assert await snapshot() == before


async def test_an_android_gateway_with_the_sims_an_admin_entered(api: Api) -> None:
    first, second = (f"+770177{secrets.randbelow(10**5):05d}" for _ in range(2))
    supplier, secret = await sh.created(api, kind="ANDROID_GATEWAY", numbers=[first])
    assert secret is not None  # the app's signing key, generated
    assert await pool_of(supplier) == [(first, "KZ", NumberState.ACTIVE)]
    assert supplier["available"] > 0  # its SIM, for every service offered in Kazakhstan
    # The phone signs with the key shown once (tests/android_gateway.py follows the app).
    assert (await AndroidGateway(api.client, supplier["code"], secret).ping()).status_code == 200
    changed = await sh.update(api, supplier["id"], numbers=[second])
    assert changed["errors"] == []
    assert await pool_of(supplier) == sorted(
        [(first, "KZ", NumberState.RETIRED), (second, "KZ", NumberState.ACTIVE)]
    )  # the SIM taken out is not sold any more
    await sh.switch_off(api, supplier["id"])


async def pool_of(supplier: dict[str, Any]) -> list[tuple[str, str, NumberState]]:
    rows = await PhoneNumber.filter(supplier_id=int(supplier["id"])).order_by("e164")
    return [(n.e164, (await Country.get(id=n.country_id)).code, n.state) for n in rows]


def test_secrets_key_lists_keys_newest_first_and_refuses_a_bad_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, new = sealing.new_key(), sealing.new_key()
    sealed_with_old = sealing.seal(Settings(secrets_key=(old,)), "s3cret-value")
    monkeypatch.setenv("SECRETS_KEY", f"{new}, {old}")
    settings = Settings.from_env(env_file=None)
    assert settings.secrets_key == (new, old)
    assert sealing.open_seal(settings, sealed_with_old) == "s3cret-value"  # rotation
    monkeypatch.setenv("SECRETS_KEY", "not-a-fernet-key")
    with pytest.raises(ValueError, match="SECRETS_KEY"):
        Settings.from_env(env_file=None)


# -- the secret is shown once ---------------------------------------------------------------------
async def test_rotation_shows_a_new_secret_once_and_the_old_one_stops_at_once(api: Api) -> None:
    supplier, old = await sh.created(api)
    assert old is not None
    rotated = await sh.rotate(api, supplier["id"])
    new = rotated["secret"]
    assert rotated["errors"] == []
    assert new not in (None, old)
    assert await webhook(api, supplier["code"], old) == 401
    assert await webhook(api, supplier["code"], new) == 200
    assert await ActivityLog.exists(action="supplier secret rotated", detail=supplier["code"])


async def test_no_query_or_later_payload_reveals_the_secret(api: Api) -> None:
    supplier, secret = await sh.created(api)
    assert secret is not None
    updated = await sh.update(api, supplier["id"], name="Renamed")
    listed = await api.post(f"{{ suppliers {{ {sh.SUPPLIER} }} }}", token=await api.admin_token())
    assert updated["secret"] is None
    assert secret not in json.dumps(updated) + json.dumps(listed)
    fields = await api.gql('{ __type(name: "Supplier") { fields { name } } }')
    assert not {"secret", "apiKey", "secretSealed"} & {
        f["name"] for f in fields["__type"]["fields"]
    }


@pytest.mark.parametrize("kind", ["DEMO", "UPSTREAM"])
async def test_a_secret_not_ours_to_choose_is_not_rotated(api: Api, kind: str) -> None:
    if kind == "DEMO":
        supplier_id = str((await Supplier.get(code="demo")).id)
    else:
        upstream = {"url": "http://127.0.0.1:9/up/", "apiKey": "our-key-at-them"}
        supplier_id = (await sh.created(api, kind=kind, **upstream))[0]["id"]
    before = await snapshot()
    payload = await sh.rotate(api, supplier_id)
    assert ([e["code"] for e in payload["errors"]], payload["secret"]) == (["INVALID_STATE"], None)
    assert await snapshot() == before


# -- changing --------------------------------------------------------------------------------------
async def test_admin_pauses_resumes_and_disables_a_supplier(api: Api) -> None:
    supplier, secret = await sh.created(api)
    assert secret is not None
    paused = await sh.update(api, supplier["id"], state="PAUSED", defaultCost="0.30")
    assert paused["errors"] == []
    assert (paused["supplier"]["state"], paused["supplier"]["defaultCost"]["amount"]) == (
        "PAUSED",
        "0.30",
    )
    # Paused: not offered to buyers, but it still delivers to what it has sold.
    assert await webhook(api, supplier["code"], secret) == 200
    resumed = await sh.update(api, supplier["id"], state="ACTIVE")
    assert resumed["supplier"]["state"] == "ACTIVE"
    await sh.switch_off(api, supplier["id"])
    assert (await Supplier.get(id=int(supplier["id"]))).state == SupplierState.DISABLED
    assert await webhook(api, supplier["code"], secret) == 404


async def test_the_demo_supplier_is_a_row_of_the_registry(api: Api) -> None:
    demo = (await sh.listed(api))["demo"]
    assert (demo["kind"], demo["state"], demo["url"]) == ("DEMO", "ACTIVE", None)
    assert demo["available"] > 0
    before = await snapshot()
    refused = await sh.update(api, demo["id"], url="https://elsewhere.example/")
    assert [e["code"] for e in refused["errors"]] == ["INVALID_INPUT"]
    assert await snapshot() == before


async def test_unknown_supplier_is_not_found(api: Api) -> None:
    for supplier_id in ("999999", "x", "-1"):
        payload = await sh.update(api, supplier_id, name="x")
        assert [e["code"] for e in payload["errors"]] == ["NOT_FOUND"], supplier_id


# -- authorization ---------------------------------------------------------------------------------
OPERATIONS = {
    "suppliers": "{ suppliers { id } }",
    "createSupplier": 'mutation { createSupplier(input: {code: "by-a-user", name: "x", kind: '
    "WEBHOOK}) { secret supplier { id } errors { code } } }",
    "updateSupplier": 'mutation { updateSupplier(id: "SUPPLIER", input: {state: DISABLED}) '
    "{ supplier { id } errors { code } } }",
    "rotateSupplierSecret": 'mutation { rotateSupplierSecret(id: "SUPPLIER") '
    "{ secret supplier { id } errors { code } } }",
    "setSupplierCost": 'mutation { setSupplierCost(supplierId: "SUPPLIER", country: null, '
    'service: null, cost: "0.03") { supplier { id } errors { code } } }',
}


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("viewer", ["anonymous", "user", "admin"])
async def test_only_an_admin_manages_suppliers(api: Api, operation: str, viewer: str) -> None:
    target, _ = await sh.created(api)
    query = OPERATIONS[operation].replace("SUPPLIER", target["id"])
    token = {
        "anonymous": None,
        "user": (await api.register()).token,
        "admin": await api.admin_token(),
    }[viewer]
    before = await snapshot()
    answer = await api.post(query, token=token)
    if viewer == "admin":
        assert "errors" not in answer, answer
        data = answer["data"][operation]
        assert data if operation == "suppliers" else data["errors"] == []
    elif viewer == "anonymous":
        assert top_level_code(answer) == "UNAUTHENTICATED"
    elif operation == "suppliers":
        assert top_level_code(answer) == "FORBIDDEN"
    else:
        result = answer["data"][operation]
        assert ([e["code"] for e in result["errors"]], result["supplier"]) == (["FORBIDDEN"], None)
    if viewer != "admin":
        assert await snapshot() == before
    await sh.switch_off(api, target["id"])
