"""R8 and R17: an account unused for INACTIVE_ACCOUNT_DAYS is deactivated by a job, and a user
may delete their own account at once; both erase the personal data, revoke every credential
and move the balance to the forfeit account, and keep the history (R7) without personal data.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from models import (
    AccountKind,
    Activation,
    ActivityLog,
    Credential,
    Transfer,
    TransferKind,
    User,
    UserState,
)
from services import deactivation, ledger
from tests import backends
from tests.account_helpers import top_level_code
from tests.api import Api
from tests.compat_helpers import ask, new_bot
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, running, settings_for
from tests.operator_helpers import DELETE_ACCOUNT, USER, codes
from tests.snapshot import snapshot

pytestmark = pytest.mark.usefixtures("ledger_is_consistent", "many_requests_per_key")
PASSWORD = "correct horse 1"


async def delete_account(api: Api, token: str, password: str) -> dict[str, object]:
    data = await api.gql(DELETE_ACCOUNT, {"p": password}, token=token)
    return data["deleteAccount"]  # type: ignore[no-any-return]


async def assert_deactivated(api: Api, user_id: int, *, forfeited_minor: int, action: str) -> None:
    """What R8 and R17 leave behind, as an admin sees it and as stored."""
    shown = await api.gql(USER, {"id": str(user_id)}, token=await api.admin_token())
    summary = shown["user"]["user"]
    assert (summary["email"], summary["state"]) == (None, "DELETED")
    assert summary["balance"]["amount"] == "0.00"
    stored = await User.get(id=user_id)
    assert stored.email == f"deleted-{user_id}@deleted.invalid"
    assert stored.password_hash == "!"
    assert stored.email_verified_at is None
    assert await Credential.filter(user_id=user_id, revoked_at=None).count() == 0
    assert await Credential.filter(user_id=user_id).exclude(name="").count() == 0
    assert await ActivityLog.filter(user_id=user_id, ip__isnull=False).count() == 0
    assert await ActivityLog.filter(user_id=user_id, action=action).count() == 1
    account = await ledger.user_account(user_id)
    forfeits = await Transfer.filter(kind=TransferKind.FORFEIT, debit_account_id=account.id)
    assert [t.amount_minor for t in forfeits] == ([forfeited_minor] if forfeited_minor else [])


async def test_r17_a_user_deletes_their_account_and_the_history_stays(api: Api) -> None:
    bot = await new_bot(api, "4.00")
    user = bot.user
    used = await api.bought(user)
    await api.deliver_sms(used["phoneNumber"], "Telegram code: 31337")
    waiting = await api.bought(user)
    spent = await Activation.get(id=int(used["id"]))
    transfers_before = (await snapshot(user)).user.transfers

    assert await delete_account(api, user.token, PASSWORD) == {"deleted": True, "errors": []}

    await assert_deactivated(
        api, user.id, forfeited_minor=400 - spent.price_minor, action="delete_account"
    )
    # Credentials are gone at once; the email no longer signs in and is free again.
    assert (await api.gql("{ me { id } }", token=user.token))["me"] is None
    assert await ask(api, bot, "getBalance") == "BAD_KEY"
    login = await api.login(user.email, PASSWORD)
    assert [e["code"] for e in login["errors"]] == ["INVALID_CREDENTIALS"]
    assert (await api.register(user.email)).id != user.id
    # R7: activations and transfers are kept; the waiting one was refunded before forfeiting.
    statuses = (
        await Activation.filter(user_id=user.id).order_by("id").values_list("status", flat=True)
    )
    assert statuses == ["RECEIVED", "CANCELLED"]
    assert waiting["id"] != used["id"]
    after = (await snapshot(user.id)).user
    assert after.transfers == transfers_before + 2  # the refund and the forfeiture


@pytest.mark.parametrize("password", ["wrong password 1", "", "x" * 5000])
async def test_r17_a_wrong_password_deletes_nothing(api: Api, password: str) -> None:
    user = await api.funded_user("1.00")
    before = await snapshot(user)
    payload = await delete_account(api, user.token, password)
    assert payload["deleted"] is False
    assert codes(payload) == ["INVALID_CREDENTIALS"]  # type: ignore[arg-type]
    assert await snapshot(user) == before
    assert (await User.get(id=user.id)).state == UserState.ACTIVE


async def test_r17_deleting_needs_a_signed_in_user(api: Api) -> None:
    answer = await api.post(DELETE_ACCOUNT, {"p": PASSWORD})
    assert top_level_code(answer) == "UNAUTHENTICATED"


async def test_r17_the_last_admin_cannot_delete_their_account(
    backend: backends.Backend, tmp_path: Path
) -> None:
    """On a database of its own, where the settings' admin is the only one."""
    async with backends.own_database(backend, tmp_path, "admins") as url:
        settings = settings_for(
            backend, database_url=url, redis_prefix=f"{backend.redis_prefix}adm:"
        )
        async with running(settings) as server, httpx.AsyncClient(base_url=server.url) as client:
            api = Api(client, server)
            admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
            with server.runtime.database.activate():
                before = await snapshot(int(admin["viewer"]["id"]))
                payload = await delete_account(api, admin["token"], ADMIN_PASSWORD)
                assert codes(payload) == ["INVALID_INPUT"]  # type: ignore[arg-type]
                assert await snapshot(int(admin["viewer"]["id"])) == before


async def test_r8_unused_accounts_are_deactivated_once_by_any_number_of_jobs(api: Api) -> None:
    days = api.rt.settings.inactive_account_days
    assert days == 270  # INACTIVE_ACCOUNT_DAYS by default (tests/test_cli.py sets another)
    stale, recent = await api.funded_user("2.50"), await api.funded_user("1.00")
    now = api.rt.clock.now()
    await User.filter(id=stale.id).update(last_seen_at=now - timedelta(days=days + 1))
    await User.filter(id=recent.id).update(last_seen_at=now - timedelta(days=days - 1))
    forfeit = await ledger.system_account(AccountKind.FORFEIT)
    recent_before = await snapshot(recent)

    # Two processes' rounds at once: each account is deactivated by one of them.
    rounds = await asyncio.gather(*(deactivation.deactivate_inactive(api.rt) for _ in range(2)))
    assert sum(rounds) >= 1

    await assert_deactivated(api, stale.id, forfeited_minor=250, action="deactivated_inactive")
    assert (await api.gql("{ me { id } }", token=stale.token))["me"] is None
    assert (await ledger.system_account(AccountKind.FORFEIT)).balance_minor >= (
        forfeit.balance_minor + 250
    )
    assert (await snapshot(recent)).user == recent_before.user  # the world changed: stale
    assert await deactivation.deactivate_inactive(api.rt) == 0  # nothing left to do
