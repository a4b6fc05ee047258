"""R15: the remaining balance is paid back only on a written request, decided by an admin; the
processor's fees are not refunded. Every step is in the activity log (R16)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from models import ActivityLog, RefundRequest
from settings import Settings
from tests import payments
from tests.api import Api

pytestmark = pytest.mark.usefixtures("ledger_is_consistent")

LIST = "{ refundRequests(state: PENDING) { edges { node { id userId state amount { amount } } } } }"


async def test_r15_request_holds_the_amount_and_an_approval_pays_it_out_minus_fees(
    api: Api, override_settings: Callable[..., Settings]
) -> None:
    override_settings(refund_fee_fixed_minor=25, refund_fee_basis_points=0)
    user = await payments.paid_user(api, "10.00")
    asked = await payments.request_refund(api, user, "4.00", "I no longer need numbers")
    assert asked["errors"] == []
    request = asked["refundRequest"]
    assert (request["state"], request["userId"]) == ("PENDING", str(user.id))
    assert await api.balance(user) == "6.00"  # held: it cannot be spent meanwhile
    assert (await payments.history(api, user))[0]["kind"] == "WITHDRAWAL"

    admin = await api.admin_token()
    pending = await api.gql(LIST, token=admin)
    assert {
        "id": request["id"],
        "userId": str(user.id),
        "state": "PENDING",
        "amount": {"amount": "4.00"},
    } in [e["node"] for e in pending["refundRequests"]["edges"]]

    decided = await payments.decide_refund(api, request["id"], True, "approved", token=admin)
    assert decided["errors"] == []
    done = decided["refundRequest"]
    assert (done["state"], done["note"], done["fee"], done["payout"]) == (
        "APPROVED",
        "approved",
        {"amount": "0.25"},
        "issued",  # the demo processor refunds
    )
    assert await api.balance(user) == "6.00"
    row = await RefundRequest.get(id=int(request["id"]))
    assert row.top_up_id is not None
    assert row.payout_reference

    again = await payments.decide_refund(api, request["id"], False, "changed my mind", token=admin)
    assert [e["code"] for e in again["errors"]] == ["INVALID_STATE"]
    assert await api.balance(user) == "6.00"
    logged = await ActivityLog.filter(
        action__in=["refund_request", "admin_refund_approved"],
        detail__contains=f"refund request {request['id']}",
    )
    assert sorted(entry.action for entry in logged) == ["admin_refund_approved", "refund_request"]


async def test_r15_a_declined_request_gives_the_held_amount_back(api: Api) -> None:
    user = await payments.paid_user(api, "5.00")
    asked = await payments.request_refund(api, user, "5.00", "please")
    assert await api.balance(user) == "0.00"
    declined = await payments.decide_refund(
        api,
        asked["refundRequest"]["id"],
        False,
        "top-ups from last week only",
        token=await api.admin_token(),
    )
    assert declined["refundRequest"]["state"] == "DECLINED"
    assert await api.balance(user) == "5.00"
    assert (await payments.history(api, user))[0]["kind"] == "REFUND"


async def test_r15_refused_requests_change_nothing(api: Api) -> None:
    user = await payments.paid_user(api, "3.00")
    for amount, reason, code in [
        ("3.01", "too much", "INSUFFICIENT_BALANCE"),
        ("0", "nothing", "INVALID_INPUT"),
        ("-1.00", "negative", "INVALID_INPUT"),
        ("1.001", "sub-cent", "INVALID_INPUT"),
        ("1.00", "   ", "INVALID_INPUT"),
    ]:
        refused = await payments.request_refund(api, user, amount, reason)
        assert [e["code"] for e in refused["errors"]] == [code], (amount, reason)
        assert await api.balance(user) == "3.00"
    assert await RefundRequest.filter(user_id=user.id).count() == 0
    for _ in range(3):  # REFUND_REQUESTS_PENDING_MAX waiting at once, no more
        assert (await payments.request_refund(api, user, "0.50", "bit by bit"))["errors"] == []
    fourth = await payments.request_refund(api, user, "0.50", "one more")
    assert [e["code"] for e in fourth["errors"]] == ["INVALID_STATE"]
    assert await api.balance(user) == "1.50"
    assert await RefundRequest.filter(user_id=user.id).count() == 3


@pytest.mark.parametrize("who", ["anonymous", "other user", "owner"])
async def test_r15_only_an_admin_decides_or_lists(api: Api, who: str) -> None:
    owner = await payments.paid_user(api, "2.00")
    asked = (await payments.request_refund(api, owner, "2.00", "please"))["refundRequest"]
    token = {"anonymous": None, "other user": (await api.register()).token, "owner": owner.token}[
        who
    ]
    answer = await api.post(
        'mutation($id: ID!) { decideRefund(id: $id, approve: true, note: "x") {'
        " refundRequest { id } errors { code } } }",
        {"id": asked["id"]},
        token=token,
    )
    if who == "anonymous":
        assert answer["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    else:
        assert answer["data"]["decideRefund"]["errors"] == [{"code": "FORBIDDEN"}]
    listed = await api.post(LIST, token=token)
    assert listed["errors"][0]["extensions"]["code"] in ("UNAUTHENTICATED", "FORBIDDEN")
    assert (await RefundRequest.get(id=int(asked["id"]))).state == "PENDING"
    assert await api.balance(owner) == "0.00"
