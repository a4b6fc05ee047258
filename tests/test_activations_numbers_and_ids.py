"""Numbers and ids: a number is never live twice for one service nor resold for it; an
activation id that does not exist, is malformed or belongs to someone else is NOT_FOUND alike
and changes nothing; the ledger audit covers what these tests made.
"""

from __future__ import annotations

import asyncio

import pytest

from models import Activation, NumberUse, TransferKind
from services import audit
from tests.activation_helpers import (
    ACTIVATION_MUTATIONS,
    MISSING_ID,
    assert_no_pair_sold_twice,
    only_error,
    resolutions,
)
from tests.api import Api
from tests.snapshot import snapshot

pytestmark = pytest.mark.usefixtures("ledger_is_consistent")  # every test ends with a clean audit


# -- numbers: never live twice for one service, never resold for it ---------------------------
async def test_a_number_is_never_sold_twice_for_one_service(api: Api) -> None:
    user = await api.funded_user("20.00")
    go_before, wa_before = await available(api, "US", "go"), await available(api, "US", "wa")

    go = [await api.bought(user, "US", "go") for _ in range(6)]
    go += await asyncio.gather(*(api.bought(user, "US", "go") for _ in range(6)))

    phones = [a["phoneNumber"] for a in go]
    assert len(set(phones)) == len(phones)
    # A number live for one service stays on sale for the others (one number, many services).
    assert await available(api, "US", "go") == go_before - len(go)
    assert await available(api, "US", "wa") == wa_before
    other = await api.bought(user, "US", "wa")
    stored = await Activation.get(id=int(other["id"]))
    assert (
        await NumberUse.filter(
            number_id=stored.number_id,
            service_id=stored.service_id,  # type: ignore[attr-defined]
        ).count()
        == 1
    )
    await assert_no_pair_sold_twice(user)


async def available(api: Api, country: str, service: str) -> int:
    data = await api.gql(
        "query($c: String, $s: String) { prices(country: $c, service: $s) { available } }",
        {"c": country, "s": service},
    )
    [offer] = data["prices"]
    return int(offer["available"])


# -- ids that do not exist or belong to someone else --------------------------------------------
async def test_someone_elses_activation_looks_exactly_like_a_missing_one(api: Api) -> None:
    owner = await api.funded_user("5.00")
    stranger = await api.funded_user("5.00")
    activation = await api.bought(owner, "GB", "go")
    owner_before, stranger_before = await snapshot(owner), await snapshot(stranger)

    assert await api.activation(stranger, activation["id"]) is None
    assert await api.activation(stranger, MISSING_ID) is None
    for mutation in ACTIVATION_MUTATIONS:
        foreign = await api.act(stranger, mutation, activation["id"])
        missing = await api.act(stranger, mutation, MISSING_ID)
        only_error(foreign, "NOT_FOUND")
        assert foreign == missing, mutation

    assert await snapshot(owner) == owner_before
    assert await snapshot(stranger) == stranger_before
    assert (await api.activation(owner, activation["id"]) or {})["status"] == "WAITING_SMS"


async def test_malformed_activation_ids_are_not_found(api: Api) -> None:
    user = await api.funded_user("5.00")
    await api.bought(user, "GB", "go")
    before = await snapshot(user)

    for bad_id in ("abc", "-1", "0", "99999999999", "1.5", " ", "1e3", "0x10"):
        assert await api.activation(user, bad_id) is None, bad_id
        for mutation in ACTIVATION_MUTATIONS:
            only_error(await api.act(user, mutation, bad_id), "NOT_FOUND")
    assert await snapshot(user) == before


async def test_audit_sees_every_activation_resolved_as_its_status_says(api: Api) -> None:
    """The fixture's audit is meaningful: it covers the activations these tests made."""
    user = await api.funded_user("5.00")
    activation = await api.bought(user, "GB", "ds")
    await api.act(user, "cancelActivation", activation["id"])
    assert await audit.ledger_violations() == []
    assert await resolutions(activation["id"]) == [TransferKind.HOLD, TransferKind.VOID]
