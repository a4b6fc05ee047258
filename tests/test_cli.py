"""The command line (cli.py): each command run as an operator would, `smsrooms ...` in a folder
of its own with settings from the environment, then checked through the API and the stored state.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tortoise import connections

from models import Activation, Credential, User, UserState
from settings import Settings
from tests import backends
from tests.api import Api
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Server, running, settings_for
from tests.live import events, wait_subscribed
from tests.operator_helpers import REVOKE_ACTIVATION
from tests.processes import ROOT, Finished, run_command
from tests.test_runtime import own_database

SMSROOMS = Path(sys.executable).with_name("smsrooms")  # the console script of the package
SETTING_NAMES = {field.name.upper() for field in dataclasses.fields(Settings)}
MIGRATIONS = sorted(p.stem for p in (ROOT / "models" / "migrations").glob("[0-9]*.py"))
SMS_WAIT_SECONDS = 300
WINDOW_SECONDS = 1200


def environment(
    backend: backends.Backend, database_url: str | None, **extra: str
) -> dict[str, str]:
    """The process's environment without any setting of its own, plus the backend pair's."""
    env = {name: value for name, value in os.environ.items() if name not in SETTING_NAMES}
    if database_url:
        env["DATABASE_URL"] = database_url
    env |= {"EVENT_BUS_URL": backend.event_bus_url, "REDIS_PREFIX": backend.redis_prefix}
    if backend.redis_url:
        env["REDIS_URL"] = backend.redis_url
    return env | extra


async def smsrooms(
    *args: str, env: dict[str, str], cwd: Path, stdin: str = "", expect: int | None = 0
) -> Finished:
    done = await run_command([str(SMSROOMS), *args], env=env, cwd=cwd, stdin=stdin)
    if expect is not None:
        assert done.status == expect, f"{args}: {done.status}\n{done.stdout}\n{done.stderr}"
    return done


# -- migrate --------------------------------------------------------------------------------


async def test_migrate_prepares_an_empty_database(
    backend: backends.Backend, tmp_path: Path
) -> None:
    """On SQLite with the default DATABASE_URL: the file and its folder appear under ./data of
    the working directory. A second run finds nothing to do: the first one recorded its work."""
    async with own_database(backend, tmp_path, "migrate", migrated=False) as url:
        env = environment(backend, None if backend.name == "sqlite" else url)
        first = await smsrooms("migrate", env=env, cwd=tmp_path)
        assert [f"applied models.{name}" for name in MIGRATIONS] == first.stdout.splitlines()[:-1]
        assert f"({len(MIGRATIONS)} migrations applied now)" in first.stdout
        if backend.name == "sqlite":
            assert (tmp_path / "data" / "smsrooms.sqlite3").stat().st_size > 0

        again = await smsrooms("migrate", env=env, cwd=tmp_path)
        assert again.stdout.strip().endswith("is up to date (0 migrations applied now)")


# -- create-admin ---------------------------------------------------------------------------


async def test_create_admin_then_sign_in_as_admin(
    api: Api, backend: backends.Backend, tmp_path: Path
) -> None:
    """ADMIN_PASSWORD with ADMIN_EMAIL unset: the password of the new account, which signs in
    over GraphQL as an admin and may credit a user."""
    email = f"ops-{tmp_path.name[-8:]}@example.com"
    env = environment(
        backend, api.server.settings.database_url, ADMIN_PASSWORD="a long admin password"
    )

    done = await smsrooms("create-admin", email.upper(), env=env, cwd=tmp_path)

    with api.rt.database.activate():
        user = await User.get(email=email)
    assert done.stdout.strip() == f"{email} is an admin (user {user.id})"
    signed_in = await api.login(email, "a long admin password")
    assert signed_in["errors"] == []
    assert signed_in["viewer"]["role"] == "ADMIN"
    customer = await api.register()
    credited = await api.gql(
        'mutation($u: ID!) { adjustBalance(userId: $u, amount: "2.50", reason: "welcome")'
        " { errors { code } } }",
        {"u": str(customer.id)},
        token=signed_in["token"],
    )
    assert credited["adjustBalance"]["errors"] == []
    assert await api.balance(customer) == "2.50"


@pytest.mark.backends("sqlite")
async def test_create_admin_asks_for_a_password_rather_than_take_another_accounts(
    api: Api, backend: backends.Backend, tmp_path: Path
) -> None:
    """ADMIN_PASSWORD belongs to ADMIN_EMAIL: an admin of another address gets the password
    typed at the prompt (twice), never that one."""
    email = f"second-{tmp_path.name[-8:]}@example.com"
    env = environment(
        backend,
        api.server.settings.database_url,
        ADMIN_EMAIL=ADMIN_EMAIL,
        ADMIN_PASSWORD=ADMIN_PASSWORD,
    )

    await smsrooms("create-admin", email, env=env, cwd=tmp_path, stdin="typed password 1\n" * 2)

    assert (await api.login(email, "typed password 1"))["viewer"]["role"] == "ADMIN"
    refused = await api.login(email, ADMIN_PASSWORD)
    assert [e["code"] for e in refused["errors"]] == ["INVALID_CREDENTIALS"]


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("short@example.com", "seven c", "the password needs 8 to 256 characters"),
        ("not an address", "a long enough password", "not a valid email address"),
    ],
)
async def test_create_admin_refuses_bad_input_and_creates_nothing(
    api: Api, backend: backends.Backend, tmp_path: Path, email: str, password: str, message: str
) -> None:
    env = environment(backend, api.server.settings.database_url, ADMIN_PASSWORD=password)
    with api.rt.database.activate():
        users_before = await User.all().count()

    done = await smsrooms("create-admin", email, env=env, cwd=tmp_path, expect=1)

    assert done.stderr.strip() == f"error: {message}"
    with api.rt.database.activate():
        assert await User.all().count() == users_before


@pytest.mark.backends("sqlite")
async def test_a_bad_setting_is_refused_before_anything_runs(
    backend: backends.Backend, tmp_path: Path
) -> None:
    env = environment(backend, None, SMS_WAIT_SECONDS="600", ACTIVATION_WINDOW_SECONDS="300")

    done = await smsrooms("audit", env=env, cwd=tmp_path, expect=2)

    assert "invalid setting: need 0 < SMS_WAIT_SECONDS <= ACTIVATION_WINDOW_SECONDS" in done.stderr
    assert os.listdir(tmp_path) == []  # no database made


# -- sweep and audit ------------------------------------------------------------------------


@dataclass
class Due:
    """A server of its own database, whose clock runs behind real time: its two activations
    are due (one waiting past its SMS deadline, one received past its window) for a command,
    which runs on real time, but not for the server's own sweeper."""

    api: Api
    server: Server
    user_token: str
    waiting: dict[str, Any]
    received: dict[str, Any]
    env: dict[str, str]


@pytest.fixture
async def due(backend: backends.Backend, tmp_path: Path) -> AsyncIterator[Due]:
    async with own_database(backend, tmp_path, "due") as url:
        prefix = f"{backend.redis_prefix}due:"
        settings = settings_for(
            backend,
            database_url=url,
            redis_prefix=prefix,
            sms_wait_seconds=SMS_WAIT_SECONDS,
            activation_window_seconds=WINDOW_SECONDS,
        )
        async with (
            running(settings) as server,
            httpx.AsyncClient(base_url=server.url, timeout=30) as client,
        ):
            api = Api(client, server)
            user = await api.funded_user("5.00")
            server.runtime.clock.advance(-(WINDOW_SECONDS + 60))  # bought 21 minutes "ago"
            waiting = await api.bought(user, "GB", "tg")
            received = await api.bought(user, "US", "wa")
            delivered = await api.deliver_sms(
                received["phoneNumber"], "Your WhatsApp code: 123-456"
            )
            assert delivered.json() == {"status": "delivered"}
            env = environment(backend, url, REDIS_PREFIX=prefix)
            yield Due(api, server, user.token, waiting, received, env)


async def balance(due: Due) -> str:
    answer = await due.api.gql("{ me { balance { amount } } }", token=due.user_token)
    return answer["me"]["balance"]["amount"]  # type: ignore[no-any-return]


async def test_sweep_expires_and_closes_what_is_due_then_the_audit_is_clean(
    due: Due, tmp_path: Path
) -> None:
    query = "query($id: ID!) { activation(id: $id) { status refunded code } }"
    token = due.user_token
    balance_before = Decimal(await balance(due))

    swept = await smsrooms("sweep", env=due.env, cwd=tmp_path)

    assert swept.stdout.strip() == "expired 1 activations (refunded), finished 1"
    waiting = await due.api.gql(query, {"id": due.waiting["id"]}, token=token)
    received = await due.api.gql(query, {"id": due.received["id"]}, token=token)
    assert waiting["activation"] == {"status": "EXPIRED", "refunded": True, "code": None}
    assert received["activation"] == {"status": "FINISHED", "refunded": False, "code": "123456"}
    price = Decimal(due.waiting["price"]["amount"])
    assert Decimal(await balance(due)) == balance_before + price  # the hold came back

    audited = await smsrooms("audit", env=due.env, cwd=tmp_path)
    assert audited.stdout.strip().endswith("is consistent")


async def test_deactivate_inactive_deactivates_accounts_unused_for_the_days_set(
    due: Due, tmp_path: Path
) -> None:
    """R8 as a scheduled job apart from the servers, with INACTIVE_ACCOUNT_DAYS=30: the user
    last seen 31 days ago is deactivated (the admin never is), and the ledger stays whole."""
    with due.server.runtime.database.activate():
        user_id = int((await due.api.gql("{ me { id } }", token=due.user_token))["me"]["id"])
        last_seen = due.server.runtime.clock.now() - timedelta(days=31)
        await User.filter(id=user_id).update(last_seen_at=last_seen)
    env = due.env | {"INACTIVE_ACCOUNT_DAYS": "30"}

    done = await smsrooms("deactivate-inactive", env=env, cwd=tmp_path)

    assert done.stdout.strip() == "deactivated 1 unused accounts (R8)"
    with due.server.runtime.database.activate():
        assert (await User.get(id=user_id)).state == UserState.DELETED
        assert await Credential.filter(user_id=user_id, revoked_at=None).count() == 0
    again = await smsrooms("deactivate-inactive", env=env, cwd=tmp_path)
    assert again.stdout.strip() == "deactivated 0 unused accounts (R8)"
    audited = await smsrooms("audit", env=due.env, cwd=tmp_path)
    assert audited.stdout.strip().endswith("is consistent")


async def test_audit_prints_the_violations_and_exits_1(due: Due, tmp_path: Path) -> None:
    """A cached balance that disagrees with its journal (written behind the ledger's back)."""
    with due.server.runtime.database.activate():
        await connections.get("default").execute_query(
            "UPDATE ledger_account SET balance_minor = balance_minor + 7"
            " WHERE kind = 'revenue' AND shard = 0"  # one account (revenue has 16 shards)
        )

    audited = await smsrooms("audit", env=due.env, cwd=tmp_path, expect=1)

    lines = audited.stdout.splitlines()
    assert len(lines) == 2, audited.stdout
    assert "(revenue): cached" in lines[0]
    assert lines[1] == "the journal does not balance: accounts sum to 7"
    assert audited.stderr.strip().endswith("has 2 violations")


@pytest.mark.parametrize(
    ("tampering", "says"),
    [
        # The price no longer the one captured and given back.
        ("SET price_minor = price_minor + 1", "price {p1}, captured {p}, 1 reversal(s) of {p}"),
        # A reversal although the activation is live again: its money is not as its status says.
        ("SET status = 'RECEIVED', refunded = false", "reversals=1"),
    ],
)
async def test_audit_checks_the_reversal_of_an_activation_revoked_after_its_code(
    due: Due, tmp_path: Path, tampering: str, says: str
) -> None:
    activation_id = int(due.received["id"])
    answer = await due.api.gql(
        REVOKE_ACTIVATION,
        {"id": activation_id, "r": "reported"},
        token=await due.api.admin_token(),
    )
    assert answer["revokeActivation"]["activation"]["status"] == "CANCELLED"
    clean = await smsrooms("audit", env=due.env, cwd=tmp_path)
    assert clean.stdout.strip().endswith("is consistent")
    with due.server.runtime.database.activate():
        price = (await Activation.get(id=activation_id)).price_minor
        await connections.get("default").execute_query(
            f"UPDATE activation {tampering} WHERE id = {activation_id}"  # noqa: S608 (constants)
        )

    audited = await smsrooms("audit", env=due.env, cwd=tmp_path, expect=1)

    expected = says.format(p=price, p1=price + 1)
    assert any(
        line.startswith(f"activation {activation_id} (") and expected in line
        for line in audited.stdout.splitlines()
    ), audited.stdout


@pytest.mark.backends("postgres")
async def test_swept_activations_reach_live_subscribers_of_a_running_server(
    due: Due, tmp_path: Path
) -> None:
    """The command publishes its events on the shared bus (Redis): a subscriber of the server
    sees the expiry the command made, without waiting for anything else to wake it."""
    user_id = int((await due.api.gql("{ me { id } }", token=due.user_token))["me"]["id"])
    async with events(due.server.url, due.user_token, activationId=due.waiting["id"]) as feed:
        await wait_subscribed(due.server.runtime.bus, user_id)

        await smsrooms("sweep", env=due.env, cwd=tmp_path)

        event = await feed.next()
        assert event["kind"] == "STATUS_CHANGED"
        assert event["activation"]["status"] == "EXPIRED"
        assert event["activation"]["refunded"] is True
