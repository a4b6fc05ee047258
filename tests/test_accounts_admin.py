"""The admin's balance adjustments through the GraphQL API: for admins only, each one a
ledger entry, refused with a clear error and nothing changed for a bad amount, an unknown user
or a missing reason.
"""

from __future__ import annotations

import pytest
from tortoise.expressions import Q

from models import ActivityLog, Transfer, TransferKind
from services import ledger
from tests.account_helpers import (
    ADJUST,
    HISTORY,
    fund,
    login,
    me,
    single_error,
    top_level_code,
    unique_ip,
)
from tests.api import Api
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.snapshot import snapshot

# -- admin: balance adjustments -------------------------------------------------------------


async def test_admin_from_settings_signs_in_with_role_admin(api: Api) -> None:
    payload = await login(api, ADMIN_EMAIL, ADMIN_PASSWORD, unique_ip())
    assert payload["errors"] == []
    assert payload["viewer"]["role"] == "ADMIN"
    assert (await me(api, payload["token"]))["role"] == "ADMIN"  # type: ignore[index]


@pytest.mark.parametrize("actor", ["anonymous", "owner", "other user", "admin"])
async def test_adjust_balance_is_for_admins_only(api: Api, admin: str, actor: str) -> None:
    owner = await api.register()
    tokens = {
        "anonymous": None,
        "owner": owner.token,
        "other user": (await api.register()).token,
        "admin": admin,
    }
    before = await snapshot(owner)
    answer = await api.post(
        ADJUST, {"u": str(owner.id), "a": "2.00", "r": "goodwill"}, token=tokens[actor]
    )
    if actor == "admin":
        assert answer["data"]["adjustBalance"]["viewer"]["balance"]["amount"] == "2.00"
        after = (await snapshot(owner)).user
        assert (after.balance_minor, after.transfers, after.activations) == (
            before.user.balance_minor + 200,
            before.user.transfers + 1,
            before.user.activations,
        )
        return
    if actor == "anonymous":
        assert top_level_code(answer) == "UNAUTHENTICATED"
    else:
        refused = answer["data"]["adjustBalance"]
        assert refused["viewer"] is None
        assert single_error(refused)["code"] == "FORBIDDEN"
    assert await snapshot(owner) == before


async def test_adjust_balance_credit_and_debit_are_adjustment_transfers(
    api: Api, admin: str, ledger_is_consistent: None
) -> None:
    user = await api.register()
    credit = await api.gql(ADJUST, {"u": str(user.id), "a": "5.00", "r": "welcome"}, token=admin)
    assert credit["adjustBalance"]["viewer"]["balance"]["amount"] == "5.00"
    debit = await api.gql(ADJUST, {"u": str(user.id), "a": "-1.25", "r": "fee"}, token=admin)
    assert debit["adjustBalance"]["errors"] == []
    assert debit["adjustBalance"]["viewer"]["balance"]["amount"] == "3.75"

    edges = (await api.gql(HISTORY, token=user.token))["transactions"]["edges"]
    history = [e["node"] for e in edges]
    assert [
        (n["kind"], n["amount"]["amount"], n["balanceAfter"]["amount"], n["description"])
        for n in history
    ] == [
        ("ADJUSTMENT", "-1.25", "3.75", "fee"),
        ("ADJUSTMENT", "5.00", "5.00", "welcome"),
    ]
    assert all(n["activationId"] is None for n in history)
    assert await ledger.balance_minor(user.id) == 375
    account = await ledger.user_account(user.id)
    kinds = await Transfer.filter(
        Q(debit_account_id=account.id) | Q(credit_account_id=account.id)
    ).values_list("kind", flat=True)
    assert sorted(kinds) == [TransferKind.ADJUSTMENT, TransferKind.ADJUSTMENT]


async def test_adjust_balance_debit_below_zero_is_insufficient(
    api: Api, admin: str, ledger_is_consistent: None
) -> None:
    user = await api.register()
    await fund(api, admin, user, "1.00")
    before = await snapshot(user)  # with the adjustments account's balance
    refused = await api.gql(ADJUST, {"u": str(user.id), "a": "-1.01", "r": "too much"}, token=admin)
    assert refused["adjustBalance"]["viewer"] is None
    assert single_error(refused["adjustBalance"])["code"] == "INSUFFICIENT_BALANCE"
    assert await snapshot(user) == before
    # Exactly the whole balance may be taken.
    emptied = await api.gql(ADJUST, {"u": str(user.id), "a": "-1.00", "r": "all"}, token=admin)
    assert emptied["adjustBalance"]["viewer"]["balance"]["amount"] == "0.00"


# Amounts the Decimal scalar itself refuses: the request fails before any resolver runs.
UNPARSABLE_AMOUNTS = ["1e9", "NaN", "abc", "Infinity", "", "1,00", "0x10"]
# Amounts that parse but break a rule: the payload says which argument is at fault.
REFUSED_AMOUNTS = ["0", "0.00", "-0", "0.001", "-0.001", "1000000000", "1000000.01", "-1000000.01"]


async def test_adjust_balance_refuses_zero_and_absurd_amounts(api: Api, admin: str) -> None:
    user = await api.register()
    before = await snapshot(user)
    for amount in REFUSED_AMOUNTS:
        refused = await api.gql(ADJUST, {"u": str(user.id), "a": amount, "r": "odd"}, token=admin)
        assert refused["adjustBalance"]["viewer"] is None, amount
        error = single_error(refused["adjustBalance"])
        assert (error["code"], error["field"]) == ("INVALID_INPUT", "amount"), amount
        assert await snapshot(user) == before, amount


async def test_adjust_balance_refuses_amounts_that_are_not_decimals(api: Api, admin: str) -> None:
    user = await api.register()
    before = await snapshot(user)
    for amount in UNPARSABLE_AMOUNTS:
        answer = await api.post(ADJUST, {"u": str(user.id), "a": amount, "r": "odd"}, token=admin)
        assert answer.get("data") is None, amount
        assert len(answer["errors"]) == 1, amount
        assert "Decimal must be a string such as" in answer["errors"][0]["message"], amount
        assert await snapshot(user) == before, amount


@pytest.mark.parametrize("user_id", ["999999999", "0", "-5", "abc", "1.5", "99999999999999"])
async def test_adjust_balance_for_an_unknown_user_is_not_found(
    api: Api, admin: str, user_id: str
) -> None:
    before = await snapshot()  # with the adjustments: transfers, and the account's balance
    refused = await api.gql(ADJUST, {"u": user_id, "a": "1.00", "r": "nobody"}, token=admin)
    error = single_error(refused["adjustBalance"])
    assert (error["code"], error["field"]) == ("NOT_FOUND", "userId")
    assert await snapshot() == before


async def test_adjust_balance_needs_a_reason(api: Api, admin: str) -> None:
    user = await api.register()
    before = await snapshot(user)
    for reason in ["", "   ", "r" * 201]:
        refused = await api.gql(ADJUST, {"u": str(user.id), "a": "1.00", "r": reason}, token=admin)
        error = single_error(refused["adjustBalance"])
        assert (error["code"], error["field"]) == ("INVALID_INPUT", "reason"), reason
        assert await snapshot(user) == before, reason
    assert await ActivityLog.filter(detail__startswith=f"user {user.id}:").count() == 0
