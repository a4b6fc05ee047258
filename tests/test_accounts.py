"""Accounts and credentials through the GraphQL API, on both backend pairs.

R12 (sign-up with a verified email), R13 (argon2id passwords, hashed and revocable sessions and
API keys, rate-limited logins), the admin's balance adjustments, and who may call what.
Every refusal is followed by a check that nothing changed in the stored state.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import re
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from argon2 import PasswordHasher
from structlog.testing import capture_logs
from tortoise.expressions import Q

from models import (
    AccountKind,
    Activation,
    ActivityLog,
    Credential,
    CredentialKind,
    EmailToken,
    LedgerAccount,
    Transfer,
    TransferKind,
    User,
)
from services import ledger
from tests.api import Api
from tests.api import User as ApiUser
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

REGISTER = (
    "mutation($e: String!, $p: String!) { register(email: $e, password: $p) "
    "{ token viewer { id email emailVerified role } errors { code message field } } }"
)
LOGIN = (
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) "
    "{ token viewer { id email role } errors { code message field } } }"
)
VERIFY = (
    "mutation($t: String!) { verifyEmail(token: $t) "
    "{ viewer { id emailVerified } errors { code message field } } }"
)
CREDENTIALS = "{ credentials { id kind name current createdAt expiresAt } }"
CREATE_KEY = (
    "mutation($n: String!) { createApiKey(name: $n) { key errors { code message field } } }"
)
REVOKE = (
    "mutation($id: ID!) { revokeCredential(id: $id) { revoked errors { code message field } } }"
)
ADJUST = (
    "mutation($u: ID!, $a: Decimal!, $r: String!) { adjustBalance(userId: $u, amount: $a, "
    "reason: $r) { viewer { id balance { amount } } errors { code message field } } }"
)
HISTORY = (
    "{ transactions { edges { node { kind amount { amount } balanceAfter { amount } "
    "description activationId } } } }"
)
ME = "{ me { id email emailVerified role } }"
PASSWORD = "correct horse 1"  # what tests.api.Api.register signs up with

_ips = itertools.count(1)
_admin_tokens: dict[tuple[str, str], str] = {}


def unique_email(tag: str = "acct") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.com"


def unique_ip() -> str:
    """A TEST-NET-2 address no other test uses: rate-limit keys are per IP, so tests that trip
    a limit must not share an address with anyone (tests/api.py uses TEST-NET-3)."""
    return f"198.51.100.{next(_ips) % 254 + 1}"


def sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def single_error(payload: dict[str, Any]) -> dict[str, Any]:
    assert len(payload["errors"]) == 1, payload
    return payload["errors"][0]  # type: ignore[no-any-return]


def top_level_code(answer: dict[str, Any]) -> str:
    """The `extensions.code` of a request that failed at the top level (auth failures)."""
    errors = answer.get("errors") or []
    assert len(errors) == 1, answer
    return errors[0].get("extensions", {}).get("code")  # type: ignore[no-any-return]


# -- stored state ---------------------------------------------------------------------------


async def money_state(user_id: int) -> tuple[int, int, int]:
    """(balance, transfers touching the user's accounts, activations): what a refused money
    operation must leave exactly as it was."""
    accounts = await LedgerAccount.filter(user_id=user_id).values_list("id", flat=True)
    transfers = await Transfer.filter(
        Q(debit_account_id__in=accounts) | Q(credit_account_id__in=accounts)
    ).count()
    activations = await Activation.filter(user_id=user_id).count()
    return await ledger.balance_minor(user_id), transfers, activations


async def live_credentials(user_id: int) -> list[tuple[int, str]]:
    rows = await Credential.filter(user_id=user_id, revoked_at=None).order_by("id")
    return [(c.id, c.kind.value) for c in rows]


# -- fixtures and helpers -------------------------------------------------------------------


@dataclass
class Mailbox:
    """The mail the server wrote to its log. With SMTP_URL unset (as in tests) services.mail
    logs every message through structlog, and only the SHA-256 of a verification token is
    stored, so the log is the one place the token can be read back. Capturing structlog keeps
    the real sending path under test (unlike replacing `services.mail._send`)."""

    entries: list[dict[str, Any]]

    async def token_for(self, email: str, timeout_seconds: float = 5.0) -> str:
        """The token of the newest verification mail to `email` (mail goes out in a task)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_seconds
        while loop.time() < deadline:
            bodies = [e["body"] for e in self.entries if e.get("to") == email and "body" in e]
            if bodies:
                match = re.search(r"/verify-email\?token=([A-Za-z0-9_-]+)", bodies[-1])
                assert match, bodies[-1]
                return match.group(1)
            await asyncio.sleep(0.02)
        raise AssertionError(f"no verification mail to {email} within {timeout_seconds} s")


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with capture_logs() as entries:
        yield Mailbox(entries)


@pytest.fixture
async def admin(api: Api) -> str:
    """The admin's token, logged in once per server. Every login counts against R13's limit
    per email (10 a minute), so logging in again for every funding, as `Api.fund` does, would
    trip it in a file that funds many users."""
    key = (api.server.backend, api.server.url)
    if key not in _admin_tokens:
        _admin_tokens[key] = await api.admin_token()
    return _admin_tokens[key]


async def fund(api: Api, admin: str, user: ApiUser, amount: str) -> None:
    data = await api.gql(ADJUST, {"u": str(user.id), "a": amount, "r": "test top-up"}, token=admin)
    assert data["adjustBalance"]["errors"] == [], data


async def register(api: Api, email: str, password: str = PASSWORD) -> dict[str, Any]:
    data = await api.gql(REGISTER, {"e": email, "p": password}, ip=unique_ip())
    return data["register"]  # type: ignore[no-any-return]


async def verify(api: Api, token: str) -> dict[str, Any]:
    return (await api.gql(VERIFY, {"t": token}))["verifyEmail"]  # type: ignore[no-any-return]


async def login(api: Api, email: str, password: str, ip: str) -> dict[str, Any]:
    data = await api.gql(LOGIN, {"e": email, "p": password}, ip=ip)
    return data["login"]  # type: ignore[no-any-return]


async def me(api: Api, token: str | None) -> dict[str, Any] | None:
    return (await api.gql(ME, token=token))["me"]  # type: ignore[no-any-return]


async def credentials(api: Api, token: str) -> list[dict[str, Any]]:
    return (await api.gql(CREDENTIALS, token=token))["credentials"]  # type: ignore[no-any-return]


async def create_key(api: Api, token: str, name: str) -> dict[str, Any]:
    data = await api.gql(CREATE_KEY, {"n": name}, token=token)
    return data["createApiKey"]  # type: ignore[no-any-return]


async def revoke(api: Api, token: str, credential_id: str) -> dict[str, Any]:
    data = await api.gql(REVOKE, {"id": credential_id}, token=token)
    return data["revokeCredential"]  # type: ignore[no-any-return]


async def email_verified_at(user_id: int) -> Any:
    return (await User.get(id=user_id)).email_verified_at


# -- R12: sign-up and email verification ----------------------------------------------------


async def test_r12_register_sends_link_and_verify_email_marks_verified(
    api: Api, mailbox: Mailbox
) -> None:
    email = unique_email("Mixed.Case")
    payload = await register(api, email)
    assert payload["errors"] == []
    assert payload["viewer"]["email"] == email.lower()
    assert payload["viewer"]["emailVerified"] is False
    assert payload["viewer"]["role"] == "USER"
    user_id = int(payload["viewer"]["id"])
    assert await email_verified_at(user_id) is None

    token = await mailbox.token_for(email.lower())
    assert await EmailToken.filter(token_hash=sha256(token), user_id=user_id).count() == 1

    verified = await verify(api, token)
    assert verified["errors"] == []
    assert verified["viewer"] == {"id": str(user_id), "emailVerified": True}
    assert await email_verified_at(user_id) is not None
    assert (await me(api, payload["token"]))["emailVerified"] is True  # type: ignore[index]


async def test_r12_unknown_token_is_invalid(api: Api) -> None:
    user = await api.register()
    for token in ["not-a-token", secrets.token_urlsafe(32), "x" * 1000]:
        refused = await verify(api, token)
        assert refused["viewer"] is None
        assert single_error(refused)["code"] == "INVALID_TOKEN"
        assert single_error(refused)["field"] == "token"
    assert await email_verified_at(user.id) is None


async def test_r12_expired_token_is_invalid_and_changes_nothing(api: Api, mailbox: Mailbox) -> None:
    user = await api.register()
    token = await mailbox.token_for(user.email)
    api.rt.clock.advance(api.rt.settings.email_token_hours * 3600 + 1)
    refused = await verify(api, token)
    assert single_error(refused)["code"] == "INVALID_TOKEN"
    assert refused["viewer"] is None
    assert await email_verified_at(user.id) is None
    assert (await EmailToken.get(token_hash=sha256(token))).used_at is None


async def test_r12_used_token_is_invalid_and_changes_nothing(api: Api, mailbox: Mailbox) -> None:
    user = await api.register()
    token = await mailbox.token_for(user.email)
    assert (await verify(api, token))["errors"] == []
    verified_at = await email_verified_at(user.id)
    used_at = (await EmailToken.get(token_hash=sha256(token))).used_at

    replayed = await verify(api, token)
    assert replayed["viewer"] is None
    assert single_error(replayed)["code"] == "INVALID_TOKEN"
    assert await email_verified_at(user.id) == verified_at
    assert (await EmailToken.get(token_hash=sha256(token))).used_at == used_at


async def test_r12_required_verification_refuses_buying_until_verified(
    api: Api, admin: str, mailbox: Mailbox, override_settings: Any, ledger_is_consistent: None
) -> None:
    override_settings(email_verification="required")
    user = await api.register()
    await fund(api, admin, user, "5.00")
    before = await money_state(user.id)

    refused = await api.buy(user, "GB", "tg")
    assert refused["activation"] is None
    assert single_error(refused)["code"] == "EMAIL_NOT_VERIFIED"
    assert await money_state(user.id) == before

    assert (await verify(api, await mailbox.token_for(user.email)))["errors"] == []
    activation = await api.bought(user, "GB", "tg")
    balance, transfers, activations = await money_state(user.id)
    price_minor = int(Decimal(activation["price"]["amount"]) * 100)
    assert (balance, transfers, activations) == (before[0] - price_minor, before[1] + 1, 1)


INVALID_EMAILS = [
    "",
    "plain",
    "no-at.example.com",
    "a@b",
    "two@@example.com",
    "sp ace@example.com",
    "user@example.c",
    "@example.com",
    ("x" * 65) + "@example.com",
    "user@" + ("d" * 250) + ".com",
]


@pytest.mark.parametrize("email", INVALID_EMAILS)
async def test_r12_invalid_email_is_refused(api: Api, email: str) -> None:
    users_before = await User.all().count()
    payload = await register(api, email)
    assert payload["token"] is None
    assert payload["viewer"] is None
    assert single_error(payload)["code"] == "INVALID_INPUT"
    assert single_error(payload)["field"] == "email"
    assert await User.all().count() == users_before


@pytest.mark.parametrize("length", [0, 7, 257, 5000])
async def test_r12_password_of_wrong_length_is_refused(api: Api, length: int) -> None:
    users_before = await User.all().count()
    email = unique_email()
    payload = await register(api, email, "p" * length)
    assert payload["token"] is None
    assert single_error(payload)["code"] == "INVALID_INPUT"
    assert single_error(payload)["field"] == "password"
    assert await User.all().count() == users_before
    assert await User.filter(email=email).count() == 0


@pytest.mark.parametrize("length", [8, 256])
async def test_r12_password_at_the_length_bounds_is_accepted(api: Api, length: int) -> None:
    email = unique_email()
    password = "p" * length
    assert (await register(api, email, password))["errors"] == []
    assert (await login(api, email, password, unique_ip()))["errors"] == []


async def test_r12_duplicate_email_is_taken_case_insensitively(api: Api) -> None:
    email = unique_email("dup")
    assert (await register(api, email, "first password"))["errors"] == []
    users_before = await User.all().count()

    for variant in [email, email.upper(), f"  {email.title()}  "]:
        payload = await register(api, variant, "second password")
        assert payload["token"] is None
        assert single_error(payload)["code"] == "EMAIL_TAKEN"
        assert single_error(payload)["field"] == "email"
    assert await User.all().count() == users_before
    # The refused sign-ups did not touch the account: the first password still signs in.
    assert (await login(api, email.upper(), "first password", unique_ip()))["errors"] == []
    assert single_error(await login(api, email, "second password", unique_ip()))["code"] == (
        "INVALID_CREDENTIALS"
    )


# -- R13: how credentials are stored ----------------------------------------------------------


async def test_r13_password_is_stored_as_an_argon2id_hash(api: Api) -> None:
    password = f"secret-{uuid.uuid4().hex}"
    user = await api.register(password=password)
    stored = (await User.get(id=user.id)).password_hash
    assert stored.startswith("$argon2id$")
    assert password not in stored
    assert PasswordHasher().verify(stored, password)


async def test_r13_session_tokens_and_api_keys_are_stored_only_as_sha256(api: Api) -> None:
    user = await api.register()
    key = (await create_key(api, user.token, "bot"))["key"]
    rows = await Credential.filter(user_id=user.id).order_by("id")
    assert [(r.kind, r.token_hash) for r in rows] == [
        (CredentialKind.SESSION, sha256(user.token)),
        (CredentialKind.API_KEY, sha256(key)),
    ]
    # Neither secret appears anywhere in the credential table.
    every_value = await Credential.all().values_list("token_hash", "name")
    for secret in (user.token, key):
        assert not any(secret in str(value) for row in every_value for value in row)


# -- R13: signing in ------------------------------------------------------------------------


async def test_r13_wrong_password_and_unknown_email_get_the_same_answer(api: Api) -> None:
    user = await api.register()
    sessions_before = await live_credentials(user.id)
    wrong_password = await login(api, user.email, "not the password", unique_ip())
    unknown_email = await login(api, unique_email("ghost"), PASSWORD, unique_ip())
    for payload in (wrong_password, unknown_email):
        assert payload["token"] is None
        assert payload["viewer"] is None
        assert single_error(payload)["code"] == "INVALID_CREDENTIALS"
    assert wrong_password["errors"] == unknown_email["errors"]
    assert await live_credentials(user.id) == sessions_before


async def test_r13_login_is_case_insensitive_and_opens_a_session(api: Api) -> None:
    user = await api.register()
    payload = await login(api, user.email.upper(), PASSWORD, unique_ip())
    assert payload["errors"] == []
    assert payload["viewer"] == {"id": str(user.id), "email": user.email, "role": "USER"}
    assert (await me(api, payload["token"]))["id"] == str(user.id)  # type: ignore[index]


async def test_r13_login_attempts_are_limited_per_email(api: Api, override_settings: Any) -> None:
    override_settings(login_attempts_per_minute=3)
    user = await api.register()
    sessions_before = await live_credentials(user.id)
    for _ in range(3):  # each from its own address: only the per-email count can trip
        wrong = await login(api, user.email, "not the password", unique_ip())
        assert single_error(wrong)["code"] == "INVALID_CREDENTIALS"
    # Past the limit even the right password is refused, and no session is opened.
    limited = await login(api, user.email, PASSWORD, unique_ip())
    assert limited["token"] is None
    assert single_error(limited)["code"] == "RATE_LIMITED"
    assert await live_credentials(user.id) == sessions_before


async def test_r13_login_attempts_are_limited_per_ip(api: Api, override_settings: Any) -> None:
    override_settings(login_attempts_per_minute=3)
    user = await api.register()
    sessions_before = await live_credentials(user.id)
    ip = unique_ip()
    for _ in range(3):  # each for its own email: only the per-IP count can trip
        wrong = await login(api, unique_email("ghost"), "whatever password", ip)
        assert single_error(wrong)["code"] == "INVALID_CREDENTIALS"
    limited = await login(api, user.email, PASSWORD, ip)
    assert single_error(limited)["code"] == "RATE_LIMITED"
    assert await live_credentials(user.id) == sessions_before
    # Another address is not affected.
    assert (await login(api, user.email, PASSWORD, unique_ip()))["errors"] == []


# -- R13: sessions and API keys, listed and revocable -----------------------------------------


async def test_r13_logout_revokes_the_token(api: Api) -> None:
    user = await api.register()
    other = (await login(api, user.email, PASSWORD, unique_ip()))["token"]
    assert (await api.gql("mutation { logout }", token=user.token))["logout"] is True

    assert await me(api, user.token) is None
    assert top_level_code(await api.post(CREDENTIALS, token=user.token)) == "UNAUTHENTICATED"
    assert top_level_code(await api.post("mutation { logout }", token=user.token)) == (
        "UNAUTHENTICATED"
    )
    row = await Credential.get(token_hash=sha256(user.token))
    assert row.revoked_at is not None
    # Only that session ended: the other one still works.
    assert (await me(api, other))["id"] == str(user.id)  # type: ignore[index]


async def test_r13_credentials_lists_sessions_and_api_keys(api: Api) -> None:
    user = await api.register()
    await login(api, user.email, PASSWORD, unique_ip())
    key = (await create_key(api, user.token, "  my bot  "))["key"]
    assert key.startswith("srk_")

    listed = await credentials(api, user.token)
    assert [(c["kind"], c["name"], c["current"]) for c in listed] == [
        ("API_KEY", "my bot", False),
        ("SESSION", "", False),
        ("SESSION", "", True),
    ]
    assert listed[0]["expiresAt"] is None
    assert listed[1]["expiresAt"] is not None
    stored = await live_credentials(user.id)
    assert [int(c["id"]) for c in listed] == [i for i, _ in reversed(stored)]
    # The API key, used as a bearer token, sees itself as the current credential.
    as_key = await credentials(api, key)
    assert [c["current"] for c in as_key] == [True, False, False]


async def test_r13_revoke_another_session_and_an_api_key(api: Api) -> None:
    user = await api.register()
    second = (await login(api, user.email, PASSWORD, unique_ip()))["token"]
    key = (await create_key(api, user.token, "bot"))["key"]
    listed = await credentials(api, user.token)
    key_id, second_id = listed[0]["id"], listed[1]["id"]

    for credential_id, secret in [(second_id, second), (key_id, key)]:
        assert await revoke(api, user.token, credential_id) == {"revoked": True, "errors": []}
        assert await me(api, secret) is None
        assert (await Credential.get(id=int(credential_id))).revoked_at is not None
        # Revoking it again: it is no longer one of the viewer's live credentials.
        again = await revoke(api, user.token, credential_id)
        assert again["revoked"] is False
        assert single_error(again)["code"] == "NOT_FOUND"
    assert [c["current"] for c in await credentials(api, user.token)] == [True]


async def test_r13_another_users_credential_is_not_found(api: Api) -> None:
    owner = await api.register()
    stranger = await api.register()
    await create_key(api, owner.token, "bot")
    owner_ids = [c["id"] for c in await credentials(api, owner.token)]
    before = await live_credentials(owner.id)

    for credential_id in [*owner_ids, "0", "-1", "abc", "99999999999", "1" * 40]:
        refused = await revoke(api, stranger.token, credential_id)
        assert refused["revoked"] is False
        assert single_error(refused)["code"] == "NOT_FOUND"
        assert single_error(refused)["field"] == "id"
    assert await live_credentials(owner.id) == before
    assert (await me(api, owner.token))["id"] == str(owner.id)  # type: ignore[index]
    assert len(await live_credentials(stranger.id)) == 1


async def test_r13_api_key_is_shown_once_and_authenticates(api: Api) -> None:
    user = await api.register()
    payload = await create_key(api, user.token, "bot")
    assert payload["errors"] == []
    key = payload["key"]
    assert (await me(api, key))["id"] == str(user.id)  # type: ignore[index]
    # No later answer contains the secret again.
    listing = await api.post(CREDENTIALS, token=user.token)
    assert key not in str(listing)
    assert key[4:] not in str(listing)


async def test_r13_api_key_name_must_have_1_to_200_characters(api: Api) -> None:
    user = await api.register()
    before = await live_credentials(user.id)
    for name in ["", "   ", "x" * 201]:
        refused = await create_key(api, user.token, name)
        assert refused["key"] is None, name
        assert single_error(refused)["code"] == "INVALID_INPUT", name
        assert single_error(refused)["field"] == "name", name
        assert await live_credentials(user.id) == before, name
    assert (await create_key(api, user.token, "n" * 200))["errors"] == []
    assert (await credentials(api, user.token))[0]["name"] == "n" * 200


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
    before = await money_state(owner.id)
    answer = await api.post(
        ADJUST, {"u": str(owner.id), "a": "2.00", "r": "goodwill"}, token=tokens[actor]
    )
    if actor == "admin":
        assert answer["data"]["adjustBalance"]["viewer"]["balance"]["amount"] == "2.00"
        assert await money_state(owner.id) == (before[0] + 200, before[1] + 1, before[2])
        return
    if actor == "anonymous":
        assert top_level_code(answer) == "UNAUTHENTICATED"
    else:
        refused = answer["data"]["adjustBalance"]
        assert refused["viewer"] is None
        assert single_error(refused)["code"] == "FORBIDDEN"
    assert await money_state(owner.id) == before


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
    before = await money_state(user.id)
    adjustments = await _adjustments_total()
    refused = await api.gql(ADJUST, {"u": str(user.id), "a": "-1.01", "r": "too much"}, token=admin)
    assert refused["adjustBalance"]["viewer"] is None
    assert single_error(refused["adjustBalance"])["code"] == "INSUFFICIENT_BALANCE"
    assert await money_state(user.id) == before
    assert await _adjustments_total() == adjustments
    # Exactly the whole balance may be taken.
    emptied = await api.gql(ADJUST, {"u": str(user.id), "a": "-1.00", "r": "all"}, token=admin)
    assert emptied["adjustBalance"]["viewer"]["balance"]["amount"] == "0.00"


async def _adjustments_total() -> int:
    """The balance of the ledger's adjustments account: moves with every adjustment."""
    account = await ledger.system_account(AccountKind.ADJUSTMENTS)
    return account.balance_minor


# Amounts the Decimal scalar itself refuses: the request fails before any resolver runs.
UNPARSABLE_AMOUNTS = ["1e9", "NaN", "abc", "Infinity", "", "1,00", "0x10"]
# Amounts that parse but break a rule: the payload says which argument is at fault.
REFUSED_AMOUNTS = ["0", "0.00", "-0", "0.001", "-0.001", "1000000000", "1000000.01", "-1000000.01"]


async def test_adjust_balance_refuses_zero_and_absurd_amounts(api: Api, admin: str) -> None:
    user = await api.register()
    before = await money_state(user.id)
    for amount in REFUSED_AMOUNTS:
        refused = await api.gql(ADJUST, {"u": str(user.id), "a": amount, "r": "odd"}, token=admin)
        assert refused["adjustBalance"]["viewer"] is None, amount
        error = single_error(refused["adjustBalance"])
        assert (error["code"], error["field"]) == ("INVALID_INPUT", "amount"), amount
        assert await money_state(user.id) == before, amount


async def test_adjust_balance_refuses_amounts_that_are_not_decimals(api: Api, admin: str) -> None:
    user = await api.register()
    before = await money_state(user.id)
    for amount in UNPARSABLE_AMOUNTS:
        answer = await api.post(ADJUST, {"u": str(user.id), "a": amount, "r": "odd"}, token=admin)
        assert answer.get("data") is None, amount
        assert len(answer["errors"]) == 1, amount
        assert "Decimal must be a string such as" in answer["errors"][0]["message"], amount
        assert await money_state(user.id) == before, amount


@pytest.mark.parametrize("user_id", ["999999999", "0", "-5", "abc", "1.5", "99999999999999"])
async def test_adjust_balance_for_an_unknown_user_is_not_found(
    api: Api, admin: str, user_id: str
) -> None:
    adjustments = await _adjustments_total()
    transfers = await Transfer.filter(kind=TransferKind.ADJUSTMENT).count()
    refused = await api.gql(ADJUST, {"u": user_id, "a": "1.00", "r": "nobody"}, token=admin)
    error = single_error(refused["adjustBalance"])
    assert (error["code"], error["field"]) == ("NOT_FOUND", "userId")
    assert await _adjustments_total() == adjustments
    assert await Transfer.filter(kind=TransferKind.ADJUSTMENT).count() == transfers


async def test_adjust_balance_needs_a_reason(api: Api, admin: str) -> None:
    user = await api.register()
    before = await money_state(user.id)
    for reason in ["", "   ", "r" * 201]:
        refused = await api.gql(ADJUST, {"u": str(user.id), "a": "1.00", "r": reason}, token=admin)
        error = single_error(refused["adjustBalance"])
        assert (error["code"], error["field"]) == ("INVALID_INPUT", "reason"), reason
        assert await money_state(user.id) == before, reason
    assert await ActivityLog.filter(detail__startswith=f"user {user.id}:").count() == 0


# -- authorization: anonymous and garbage credentials ---------------------------------------

PROTECTED = {
    "activation": 'query { activation(id: "1") { id } }',
    "activations": "{ activations { edges { cursor } } }",
    "transactions": "{ transactions { edges { cursor } } }",
    "credentials": "{ credentials { id } }",
    "logout": "mutation { logout }",
    "buyNumber": 'mutation { buyNumber(country: "GB", service: "tg") { errors { code } } }',
    "cancelActivation": 'mutation { cancelActivation(id: "1") { errors { code } } }',
    "banNumber": 'mutation { banNumber(id: "1") { errors { code } } }',
    "finishActivation": 'mutation { finishActivation(id: "1") { errors { code } } }',
    "requestAnotherSms": 'mutation { requestAnotherSms(id: "1") { errors { code } } }',
    "createApiKey": 'mutation { createApiKey(name: "bot") { key errors { code } } }',
    "revokeCredential": 'mutation { revokeCredential(id: "1") { revoked errors { code } } }',
    "adjustBalance": (
        'mutation { adjustBalance(userId: "1", amount: "1.00", reason: "x") { errors { code } } }'
    ),
}
# What a request may carry instead of valid credentials: all of them mean "nobody".
NO_VALID_CREDENTIALS = {
    "none": None,
    "garbage": "Bearer garbage",
    "unknown session": "Bearer srs_" + "A" * 43,
    "unknown key": "Bearer srk_" + "A" * 43,
    "oversized": "Bearer " + "x" * 5000,
    "bare scheme": "Bearer",
    "other scheme": "Basic YWRtaW46YWRtaW4=",
}


async def _post_with(api: Api, query: str, authorization: str | None) -> dict[str, Any]:
    headers = {"authorization": authorization} if authorization is not None else {}
    response = await api.client.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def _world() -> tuple[int, int, int, int]:
    """Counts that an anonymous request must never change."""
    return (
        await Activation.all().count(),
        await Credential.all().count(),
        await Credential.filter(revoked_at__isnull=False).count(),
        await Transfer.filter(kind=TransferKind.ADJUSTMENT).count(),
    )


@pytest.mark.parametrize("operation", list(PROTECTED))
async def test_viewer_only_operations_need_valid_credentials(api: Api, operation: str) -> None:
    before = await _world()
    for credential, authorization in NO_VALID_CREDENTIALS.items():
        answer = await _post_with(api, PROTECTED[operation], authorization)
        assert top_level_code(answer) == "UNAUTHENTICATED", credential
        assert answer["errors"][0]["path"] == [operation], credential
        assert not any((answer.get("data") or {}).values()), credential
    assert await _world() == before


async def test_me_is_null_without_valid_credentials(api: Api) -> None:
    for credential, authorization in NO_VALID_CREDENTIALS.items():
        assert await _post_with(api, ME, authorization) == {"data": {"me": None}}, credential


async def test_public_queries_need_no_credentials(api: Api) -> None:
    answer = await _post_with(api, "{ countries { code } services { code } }", "Bearer garbage")
    assert "errors" not in answer
    assert {"GB", "US"} <= {c["code"] for c in answer["data"]["countries"]}
    assert "tg" in {s["code"] for s in answer["data"]["services"]}
