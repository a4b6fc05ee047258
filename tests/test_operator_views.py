"""What an admin sees (issue 12): users with balance, last use and counts; one user with their
activations, top-ups and activity; the activity log (R16) for the viewer and for admins;
repeat offenders with the figures that flagged them (R5); SMS no activation claimed (R2).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from settings import Settings
from tests.account_helpers import top_level_code
from tests.api import Api
from tests.operator_helpers import (
    ACTIVITY_QUERY,
    ALL_ACTIVATIONS,
    FLAGGED,
    UNMATCHED,
    USER,
    USER_ACTIVITY,
    USERS,
    actions,
    block,
)
from tests.payments import paid_user


async def test_users_are_searched_by_email_and_state_newest_first(api: Api) -> None:
    admin = await api.admin_token()
    tag = f"shopper-{uuid.uuid4().hex[:10]}"
    first = await api.register(f"{tag}-a@example.com")
    second = await api.register(f"{tag}-b@example.com")
    await api.fund(second, "3.00")
    await api.bought(second)
    await block(api, admin, first.id)

    found = await api.gql(USERS, {"s": tag.upper(), "first": 1}, token=admin)
    [edge] = found["users"]["edges"]
    assert found["users"]["pageInfo"]["hasNextPage"] is True
    node = edge["node"]
    assert (node["id"], node["email"], node["state"], node["role"]) == (
        str(second.id),
        second.email,
        "ACTIVE",
        "USER",
    )
    assert node["activationCount"] == 1
    assert node["lastSeenAt"] is not None
    assert node["balance"]["currency"] == "USD"

    after = found["users"]["pageInfo"]["endCursor"]
    rest = await api.gql(USERS, {"s": tag, "after": after}, token=admin)
    assert [e["node"]["id"] for e in rest["users"]["edges"]] == [str(first.id)]
    assert rest["users"]["pageInfo"]["hasNextPage"] is False

    blocked = await api.gql(USERS, {"s": tag, "state": "BLOCKED"}, token=admin)
    assert [e["node"]["id"] for e in blocked["users"]["edges"]] == [str(first.id)]
    assert blocked["users"]["edges"][0]["node"]["balance"]["amount"] == "0.00"


async def test_one_user_with_activations_top_ups_and_activity(api: Api) -> None:
    admin = await api.admin_token()
    user = await paid_user(api, "5.00")
    activation = await api.bought(user)
    shown = (await api.gql(USER, {"id": str(user.id)}, token=admin))["user"]
    assert shown["user"]["balance"]["amount"] != "5.00"  # the purchase is held
    assert shown["user"]["activationCount"] == 1
    assert shown["activations"]["edges"] == [
        {"node": {"id": activation["id"], "status": "WAITING_SMS"}}
    ]
    assert [e["node"]["status"] for e in shown["topUps"]["edges"]] == ["SUCCEEDED"]
    assert actions(shown["activity"])[0] == "purchase"
    assert {"sign_up", "top_up", "purchase"} <= set(actions(shown["activity"]))


async def test_activations_across_users_are_narrowed_by_status_user_country_and_service(
    api: Api,
) -> None:
    admin = await api.admin_token()
    alice, bob = await api.funded_user("5.00"), await api.funded_user("5.00")
    gb = await api.bought(alice, "GB", "tg")
    us = await api.bought(alice, "US", "wa")
    await api.act(alice, "cancelActivation", us["id"])
    theirs = await api.bought(bob, "GB", "tg")

    def ids(answer: dict[str, object]) -> list[str]:
        return [e["node"]["id"] for e in answer["allActivations"]["edges"]]  # type: ignore[index]

    newest = await api.gql(ALL_ACTIVATIONS, {}, token=admin)
    assert ids(newest) == [theirs["id"], us["id"]]  # first: 2, across users
    assert newest["allActivations"]["pageInfo"]["hasNextPage"] is True
    rest = await api.gql(
        ALL_ACTIVATIONS, {"after": newest["allActivations"]["pageInfo"]["endCursor"]}, token=admin
    )
    assert ids(rest)[0] == gb["id"]
    of_alice = await api.gql(ALL_ACTIVATIONS, {"u": str(alice.id)}, token=admin)
    assert ids(of_alice) == [us["id"], gb["id"]]
    cancelled = await api.gql(
        ALL_ACTIVATIONS, {"u": str(alice.id), "status": ["CANCELLED"]}, token=admin
    )
    assert ids(cancelled) == [us["id"]]
    gb_tg = await api.gql(ALL_ACTIVATIONS, {"u": str(bob.id), "c": "gb", "s": "TG"}, token=admin)
    assert ids(gb_tg) == [theirs["id"]]
    none = await api.gql(ALL_ACTIVATIONS, {"u": str(bob.id), "c": "US"}, token=admin)
    assert ids(none) == []


@pytest.mark.parametrize("user_id", ["999999999", "0", "abc"])
async def test_an_unknown_user_is_not_found(api: Api, user_id: str) -> None:
    admin = await api.admin_token()
    assert top_level_code(await api.post(USER, {"id": user_id}, token=admin)) == "NOT_FOUND"
    answer = await api.post(USER_ACTIVITY, {"u": user_id}, token=admin)
    assert top_level_code(answer) == "NOT_FOUND"


async def test_r16_the_viewer_reads_their_own_activity_newest_first(api: Api) -> None:
    user = await api.funded_user("2.00")
    other = await api.funded_user("2.00")
    activation = await api.bought(user)
    await api.act(user, "cancelActivation", activation["id"])
    await api.bought(other)

    page = (await api.gql(ACTIVITY_QUERY, {"first": 2}, token=user.token))["activity"]
    assert actions(page) == ["cancelled", "purchase"]
    assert page["edges"][0]["node"]["ip"] == user.ip
    assert page["pageInfo"]["hasNextPage"] is True
    after = page["pageInfo"]["endCursor"]
    rest = (await api.gql(ACTIVITY_QUERY, {"after": after}, token=user.token))["activity"]
    # The admin's funding is in the user's log, naming the admin; nothing of the other user.
    assert actions(rest) == ["admin_adjust_balance", "sign_in", "sign_up"]
    assert rest["edges"][0]["node"]["actorId"] is not None
    assert rest["pageInfo"]["hasNextPage"] is False

    seen_by_admin = await api.gql(USER_ACTIVITY, {"u": str(user.id)}, token=await api.admin_token())
    assert actions(seen_by_admin["userActivity"]) == actions(page) + actions(rest)


@pytest.mark.parametrize("cursor", ["not-a-cursor", "dXNlcjox"])  # the latter: a user cursor
async def test_r16_a_bad_cursor_is_invalid_input(api: Api, cursor: str) -> None:
    user = await api.register()
    answer = await api.post(ACTIVITY_QUERY, {"after": cursor}, token=user.token)
    assert top_level_code(answer) == "INVALID_INPUT"


async def test_r5_repeat_offenders_are_listed_with_the_figures_that_flagged_them(
    api: Api, override_settings: Callable[..., Settings]
) -> None:
    settings = override_settings(abuse_cancel_threshold=2, abuse_cooldown_seconds=60)
    user = await api.funded_user("10.00")
    for _ in range(2):
        bought = await api.bought(user)
        await api.act(user, "cancelActivation", bought["id"])
    assert [e["code"] for e in (await api.buy(user))["errors"]] == ["RATE_LIMITED"]
    listed = (await api.gql(FLAGGED, token=await api.admin_token()))["flaggedUsers"]["edges"]
    assert str(user.id) not in [e["node"]["user"]["id"] for e in listed]  # one cool-down only

    api.rt.clock.advance(settings.abuse_cooldown_seconds + 1)
    assert [e["code"] for e in (await api.buy(user))["errors"]] == ["RATE_LIMITED"]  # again
    listed = (await api.gql(FLAGGED, token=await api.admin_token()))["flaggedUsers"]["edges"]
    [flagged] = [e["node"] for e in listed if e["node"]["user"]["id"] == str(user.id)]
    assert (flagged["purchases"], flagged["cancellations"], flagged["withCode"]) == (2, 2, 0)
    assert flagged["cooldownUntil"] is not None
    assert flagged["windowStart"] < flagged["flaggedAt"]


async def test_r2_unmatched_sms_are_listed_per_supplier(api: Api) -> None:
    admin = await api.admin_token()
    text = "Your code is 90210 (nobody bought this number)"
    answer = await api.deliver_sms("+447700900999", text)
    assert answer.json() == {"status": "stored"}
    suppliers = (await api.gql("{ suppliers { id code } }", token=admin))["suppliers"]
    demo_id = next(s["id"] for s in suppliers if s["code"] == "demo")
    listed = (await api.gql(UNMATCHED, {"s": demo_id}, token=admin))["unmatchedSms"]["edges"]
    [sms] = [e["node"] for e in listed if e["node"]["text"] == text]
    assert (sms["supplierId"], sms["supplierCode"], sms["to"]) == (demo_id, "demo", "+447700900999")
    everyone = (await api.gql(UNMATCHED, {"s": None}, token=admin))["unmatchedSms"]["edges"]
    assert text in [e["node"]["text"] for e in everyone]
    nobody = (await api.gql(UNMATCHED, {"s": "999999"}, token=admin))["unmatchedSms"]["edges"]
    assert nobody == []
