"""R14: an admin blocks a user: their sessions and API keys stop at once (in every process),
their websockets close, waiting activations are refunded and the balance is forfeited by a
ledger entry; unblocking may give it back by the reversing entry. An admin also ends a live
activation with a full refund (revokeActivation): a waiting one as a cancel does, one with a code
by reversing its captured price while the supplier keeps its cost. Every action is in the
user's activity log with the admin, the reason and the IP (R16). Refusals change nothing.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import pytest

from models import (
    AccountKind,
    Activation,
    ActivationStatus,
    ActivityLog,
    PhoneNumber,
    Transfer,
    TransferKind,
    User,
    UserState,
)
from services import ledger, suppliers
from tests import backends, live
from tests.api import Api, random_ip
from tests.compat_helpers import ask, new_bot
from tests.conftest import running, settings_for
from tests.operator_helpers import (
    REVOKE_ACTIVATION,
    USER_ACTIVITY,
    block,
    codes,
    unblock,
)
from tests.snapshot import snapshot

pytestmark = pytest.mark.usefixtures("ledger_is_consistent", "many_requests_per_key")
BLOCKED_FOREVER = "BANNED:9999-12-31 23:59:59"


async def admin_id(api: Api, admin: str) -> str:
    return (await api.gql("{ me { id } }", token=admin))["me"]["id"]  # type: ignore[no-any-return]


async def forfeit_balance() -> int:
    return (await ledger.system_account(AccountKind.FORFEIT)).balance_minor


async def test_r14_a_blocked_users_credentials_stop_and_the_balance_is_forfeited(
    api: Api,
) -> None:
    admin = await api.admin_token()
    bot = await new_bot(api, "5.00")
    user = bot.user
    waiting = await api.bought(user)
    forfeited_before = await forfeit_balance()
    async with live.raw_socket(api.server.url) as socket:
        await live.send(
            socket,
            {"type": "connection_init", "payload": {"authorization": f"Bearer {user.token}"}},
        )
        assert (await live.receive(socket))["type"] == "connection_ack"
        assert (await api.gql("{ me { id } }", token=user.token))["me"] is not None  # cached

        ip = random_ip()
        answer = await api.gql(
            'mutation($id: ID!) { blockUser(id: $id, reason: "card fraud")'
            " { user { id state balance { amount } } errors { code } } }",
            {"id": str(user.id)},
            token=admin,
            ip=ip,
        )
        assert answer["blockUser"] == {
            "user": {"id": str(user.id), "state": "BLOCKED", "balance": {"amount": "0.00"}},
            "errors": [],
        }
        assert await live.closed_with(socket) == 4403

    # Sessions and keys stop at once; signing in is refused.
    assert (await api.gql("{ me { id } }", token=user.token))["me"] is None
    assert await ask(api, bot, "getBalance") == BLOCKED_FOREVER
    assert await ask(api, bot, "getNumber", service="tg", country="16") == BLOCKED_FOREVER
    login = await api.login(user.email, "correct horse 1")
    assert [e["code"] for e in login["errors"]] == ["ACCOUNT_BLOCKED"]

    # The waiting activation was refunded, then the whole balance forfeited by one entry.
    stored = await User.get(id=user.id)
    assert stored.state == UserState.BLOCKED
    activation = await api.gql(
        "query($id: ID!) { user(id: $id)"
        " { activations { edges { node { id status refunded } } } } }",
        {"id": str(user.id)},
        token=admin,
    )
    assert activation["user"]["activations"]["edges"] == [
        {"node": {"id": waiting["id"], "status": "CANCELLED", "refunded": True}}
    ]
    account = await ledger.user_account(user.id)
    forfeits = await Transfer.filter(kind=TransferKind.FORFEIT, debit_account_id=account.id)
    assert [t.amount_minor for t in forfeits] == [500]
    assert account.balance_minor == 0
    assert await forfeit_balance() == forfeited_before + 500

    # R16: the user's log names the admin, the reason and the admin's IP.
    log = await api.gql(USER_ACTIVITY, {"u": str(user.id), "first": 1}, token=admin)
    [entry] = [e["node"] for e in log["userActivity"]["edges"]]
    assert (entry["action"], entry["detail"], entry["ip"]) == ("admin_block_user", "card fraud", ip)
    assert entry["actorId"] == await admin_id(api, admin)


@pytest.mark.parametrize("restore", [True, False])
async def test_r14_unblocking_gives_the_balance_back_only_if_asked(api: Api, restore: bool) -> None:
    admin = await api.admin_token()
    bot = await new_bot(api, "3.00")
    user = bot.user
    assert (await block(api, admin, user.id))["errors"] == []
    payload = await unblock(api, admin, user.id, restore=restore)
    assert payload["errors"] == []
    assert payload["user"]["state"] == "ACTIVE"
    expected = "3.00" if restore else "0.00"
    assert payload["user"]["balance"]["amount"] == expected
    # The same credentials work again: they were stopped, not revoked.
    assert await api.balance(user) == expected
    assert await ask(api, bot, "getBalance") == f"ACCESS_BALANCE:{expected}"
    account = await ledger.user_account(user.id)
    restored = await Transfer.filter(kind=TransferKind.FORFEIT, credit_account_id=account.id)
    assert [t.amount_minor for t in restored] == ([300] if restore else [])
    logged = await ActivityLog.filter(user_id=user.id, action="admin_unblock_user").count()
    assert logged == 1


async def test_r14_a_second_unblock_restores_nothing_twice(api: Api) -> None:
    admin = await api.admin_token()
    user = await api.funded_user("2.00")
    await block(api, admin, user.id)
    await unblock(api, admin, user.id, restore=True)
    await block(api, admin, user.id)  # nothing left to forfeit but the restored 2.00
    await unblock(api, admin, user.id, restore=True)
    assert await api.balance(user) == "2.00"


@pytest.mark.parametrize(
    ("target", "reason", "code"),
    [
        ("self", "testing", "INVALID_INPUT"),
        ("unknown", "testing", "NOT_FOUND"),
        ("malformed", "testing", "NOT_FOUND"),
        ("user", "", "INVALID_INPUT"),
        ("user", "   ", "INVALID_INPUT"),
        ("user", "x" * 5000, "INVALID_INPUT"),
        ("blocked", "again", "INVALID_STATE"),
    ],
)
async def test_r14_refused_blocks_change_nothing(
    api: Api, target: str, reason: str, code: str
) -> None:
    admin = await api.admin_token()
    user = await api.funded_user("1.00")
    if target == "blocked":
        await block(api, admin, user.id)
    ids = {
        "self": await admin_id(api, admin),
        "unknown": "999999999",
        "malformed": "abc",
        "user": str(user.id),
        "blocked": str(user.id),
    }
    before = await snapshot(user, int(await admin_id(api, admin)))
    forfeited = await forfeit_balance()
    payload = await block(api, admin, ids[target], reason)
    assert codes(payload) == [code]
    assert payload["user"] is None
    assert await snapshot(user, int(await admin_id(api, admin))) == before
    assert await forfeit_balance() == forfeited


@pytest.mark.parametrize(
    ("target", "code"), [("active", "INVALID_STATE"), ("unknown", "NOT_FOUND")]
)
async def test_r14_refused_unblocks_change_nothing(api: Api, target: str, code: str) -> None:
    admin = await api.admin_token()
    user = await api.funded_user("1.00")
    before = await snapshot(user)
    payload = await unblock(
        api, admin, str(user.id) if target == "active" else "999999999", restore=True
    )
    assert codes(payload) == [code]
    assert await snapshot(user) == before
    assert (await User.get(id=user.id)).state == UserState.ACTIVE


async def revoke(
    api: Api, admin: str, activation_id: str, reason: str = "number reported"
) -> dict[str, Any]:
    data = await api.gql(REVOKE_ACTIVATION, {"id": activation_id, "r": reason}, token=admin)
    return data["revokeActivation"]  # type: ignore[no-any-return]


async def test_r14_revoking_a_waiting_activation_refunds_it_in_full(api: Api) -> None:
    admin = await api.admin_token()
    user = await api.funded_user("5.00")
    activation = await api.bought(user)
    payload = await revoke(api, admin, activation["id"])
    assert payload == {
        "activation": {"id": activation["id"], "status": "CANCELLED", "refunded": True},
        "errors": [],
    }
    assert await api.balance(user) == "5.00"
    assert (await api.activation(user, activation["id"]))["status"] == "CANCELLED"  # type: ignore[index]
    logged = await ActivityLog.get(user_id=user.id, action="admin_revoke_activation")
    assert logged.detail == f"activation {activation['id']}: number reported"
    assert logged.actor_id == int(await admin_id(api, admin))


async def payable_minor(activation_id: str) -> int:
    """What the shop owes the supplier of this activation's number."""
    activation = await Activation.get(id=int(activation_id)).prefetch_related("number")
    number: PhoneNumber = activation.number
    return (await suppliers.owed_minor([number.supplier_id]))[number.supplier_id]


async def test_r14_revoking_after_a_code_gives_the_full_price_back(api: Api) -> None:
    admin = await api.admin_token()
    user = await api.funded_user("5.00")
    activation = await api.bought(user)
    async with live.events(api.server.url, user.token, activationId=activation["id"]) as feed:
        await live.wait_subscribed(api.rt.bus, user.id)
        await api.deliver_sms(activation["phoneNumber"], "Telegram code: 77123")
        assert [e["activation"]["status"] for e in await feed.take(2)] == ["RECEIVED"] * 2
        owed = await payable_minor(activation["id"])
        revenue = await ledger.revenue_minor()
        payload = await revoke(api, admin, activation["id"])
        (ended,) = await feed.take(1)
    assert payload == {
        "activation": {"id": activation["id"], "status": "CANCELLED", "refunded": True},
        "errors": [],
    }
    assert ended["kind"] == "STATUS_CHANGED"
    assert ended["activation"] == {
        "id": activation["id"],
        "status": "CANCELLED",
        "code": "77123",
        "refunded": True,
    }
    assert await api.balance(user) == "5.00"
    stored = await Activation.get(id=int(activation["id"]))
    assert (stored.status, stored.refunded, stored.code) == (
        ActivationStatus.CANCELLED,
        True,
        "77123",
    )
    price_minor = stored.price_minor
    reversal = await Transfer.get(activation_id=stored.id, kind=TransferKind.REVERSAL)
    assert reversal.amount_minor == price_minor
    # From the revenue shard its capture credited (docs/adr/0019).
    assert reversal.debit_account_id == (await ledger.revenue_account(stored.id)).id
    capture = await Transfer.get(activation_id=stored.id, kind=TransferKind.CAPTURE)
    assert capture.credit_account_id == reversal.debit_account_id
    assert reversal.credit_account_id == (await ledger.user_account(user.id)).id
    # The supplier delivered the code and keeps its cost: the shop bears it.
    assert await payable_minor(activation["id"]) == owed
    assert await Transfer.filter(activation_id=stored.id, kind=TransferKind.COST).count() == 1
    after = await ledger.revenue_minor()
    assert after == revenue - price_minor
    logged = await ActivityLog.get(user_id=user.id, action="admin_revoke_activation")
    assert logged.detail == f"activation {activation['id']}: number reported"
    # The buyer's history shows the money coming back as a refund of this activation.
    history = await api.gql(
        "{ transactions(first: 1) { edges { node { kind amount { amount } activationId } } } }",
        token=user.token,
    )
    assert history["transactions"]["edges"][0]["node"] == {
        "kind": "REFUND",
        "amount": {"amount": activation["price"]["amount"]},
        "activationId": activation["id"],
    }


@pytest.mark.parametrize(
    ("case", "reason", "code"),
    [
        ("revoked after a code", "again", "INVALID_STATE"),
        ("revoked while waiting", "again", "INVALID_STATE"),
        ("finished", "late", "INVALID_STATE"),
        ("cancelled", "late", "INVALID_STATE"),
        ("unknown", "late", "NOT_FOUND"),
        ("malformed", "late", "NOT_FOUND"),
        ("waiting", "", "INVALID_INPUT"),
        ("with a code", "", "INVALID_INPUT"),
    ],
)
async def test_r14_refused_revocations_change_nothing(
    api: Api, case: str, reason: str, code: str
) -> None:
    admin = await api.admin_token()
    user = await api.funded_user("5.00")
    activation = await api.bought(user)
    if case in ("revoked after a code", "finished", "with a code"):
        await api.deliver_sms(activation["phoneNumber"], "Telegram code: 77123")
    if case == "finished":
        assert (await api.act(user, "finishActivation", activation["id"]))["errors"] == []
    if case == "cancelled":
        assert (await api.act(user, "cancelActivation", activation["id"]))["errors"] == []
    if case.startswith("revoked"):
        assert (await revoke(api, admin, activation["id"]))["errors"] == []
    ids = {"unknown": "999999999", "malformed": "x1"}
    status = (await Activation.get(id=int(activation["id"]))).status
    before = await snapshot(user)
    payload = await revoke(api, admin, ids.get(case, activation["id"]), reason)
    assert codes(payload) == [code]
    assert payload["activation"] is None
    assert await snapshot(user) == before
    assert (await Activation.get(id=int(activation["id"]))).status == status
    refunded = case.startswith("revoked") or case == "cancelled"
    spent = Decimal(0) if refunded else Decimal(activation["price"]["amount"])
    assert await api.balance(user) == str(Decimal("5.00") - spent)


async def test_r14_two_admins_revoking_at_once_refund_once(api: Api) -> None:
    admin = await api.admin_token()
    user = await api.funded_user("5.00")
    activation = await api.bought(user)
    await api.deliver_sms(activation["phoneNumber"], "Telegram code: 77123")
    answers = await asyncio.gather(*(revoke(api, admin, activation["id"]) for _ in range(2)))
    assert sorted(codes(a) for a in answers) == [[], ["INVALID_STATE"]]
    assert await api.balance(user) == "5.00"
    reversals = Transfer.filter(activation_id=int(activation["id"]), kind=TransferKind.REVERSAL)
    assert await reversals.count() == 1


async def test_r14_a_user_cannot_revoke_their_activation_with_a_code(api: Api) -> None:
    user = await api.funded_user("5.00")
    activation = await api.bought(user)
    await api.deliver_sms(activation["phoneNumber"], "Telegram code: 77123")
    before = await snapshot(user)
    payload = await revoke(api, user.token, activation["id"])
    assert codes(payload) == ["FORBIDDEN"]
    assert payload["activation"] is None
    assert await snapshot(user) == before
    assert (await Activation.get(id=int(activation["id"]))).status == ActivationStatus.RECEIVED
    assert not await Transfer.exists(
        activation_id=int(activation["id"]), kind=TransferKind.REVERSAL
    )


@pytest.mark.backends("postgres")
async def test_r14_a_block_stops_the_users_credentials_in_another_process(
    api: Api, backend: backends.Backend
) -> None:
    """The revocation wake-up reaches every process: a second app, which has the user's
    identity cached and a socket of theirs open, forgets the one and closes the other."""
    user = await api.funded_user("1.00")
    async with (
        running(settings_for(backend, auth_cache_seconds=3600.0)) as second,
        httpx.AsyncClient(base_url=second.url, timeout=30) as client,
        live.raw_socket(second.url) as socket,
    ):
        other = Api(client, second)
        assert (await other.gql("{ me { id } }", token=user.token))["me"] is not None
        await live.send(
            socket,
            {"type": "connection_init", "payload": {"authorization": f"Bearer {user.token}"}},
        )
        assert (await live.receive(socket))["type"] == "connection_ack"
        assert (await block(api, await api.admin_token(), user.id))["errors"] == []
        assert await live.closed_with(socket) == 4403
        assert (await other.gql("{ me { id } }", token=user.token))["me"] is None
