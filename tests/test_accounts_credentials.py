"""Credentials through the GraphQL API (R13), on both backend pairs: passwords stored as
argon2id, tokens and keys only as SHA-256; signing in, rate-limited per email and per address;
sessions and API keys listed and revocable. Every refusal changes nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from argon2 import PasswordHasher

from models import Credential, CredentialKind, User
from settings import Settings
from tests.account_helpers import (
    CREDENTIALS,
    PASSWORD,
    create_key,
    credentials,
    login,
    me,
    revoke,
    sha256,
    single_error,
    top_level_code,
    unique_email,
    unique_ip,
)
from tests.api import Api
from tests.snapshot import snapshot

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
    before = await snapshot(user)  # with the live sessions
    wrong_password = await login(api, user.email, "not the password", unique_ip())
    unknown_email = await login(api, unique_email("ghost"), PASSWORD, unique_ip())
    for payload in (wrong_password, unknown_email):
        assert payload["token"] is None
        assert payload["viewer"] is None
        assert single_error(payload)["code"] == "INVALID_CREDENTIALS"
    assert wrong_password["errors"] == unknown_email["errors"]
    assert await snapshot(user) == before


async def test_r13_login_is_case_insensitive_and_opens_a_session(api: Api) -> None:
    user = await api.register()
    payload = await login(api, user.email.upper(), PASSWORD, unique_ip())
    assert payload["errors"] == []
    assert payload["viewer"] == {"id": str(user.id), "email": user.email, "role": "USER"}
    assert (await me(api, payload["token"]))["id"] == str(user.id)  # type: ignore[index]


async def test_r13_a_stranger_cannot_lock_the_owner_out(api: Api) -> None:
    """Ten wrong passwords from one address close sign-in to that address, for that email,
    even with the right password; the owner, from their own address, signs in as usual."""
    user = await api.register()
    before = await snapshot(user)  # with the live sessions
    stranger = unique_ip()
    for _ in range(api.rt.settings.login_attempts_per_minute):
        wrong = await login(api, user.email, "not the password", stranger)
        assert single_error(wrong)["code"] == "INVALID_CREDENTIALS"
    limited = await login(api, user.email, PASSWORD, stranger)
    assert limited["token"] is None
    assert single_error(limited)["code"] == "RATE_LIMITED"
    assert await snapshot(user) == before
    owner = await login(api, user.email, PASSWORD, unique_ip())
    assert owner["errors"] == []
    assert (await me(api, owner["token"]))["id"] == str(user.id)  # type: ignore[index]


async def test_r13_only_failed_sign_ins_count(api: Api, override_settings: Any) -> None:
    override_settings(login_attempts_per_minute=2)
    user = await api.register()
    ip = unique_ip()
    for _ in range(4):  # twice the limit, every one right
        assert (await login(api, user.email, PASSWORD, ip))["errors"] == []


async def test_r13_failed_sign_ins_are_limited_per_ip(api: Api, override_settings: Any) -> None:
    override_settings(login_ip_attempts_per_minute=3)
    user = await api.register()
    before = await snapshot(user)  # with the live sessions
    ip = unique_ip()
    for _ in range(3):  # each for its own email: only the per-IP count can trip
        wrong = await login(api, unique_email("ghost"), "whatever password", ip)
        assert single_error(wrong)["code"] == "INVALID_CREDENTIALS"
    limited = await login(api, user.email, PASSWORD, ip)
    assert single_error(limited)["code"] == "RATE_LIMITED"
    assert await snapshot(user) == before
    # Another address is not affected.
    assert (await login(api, user.email, PASSWORD, unique_ip()))["errors"] == []


async def test_r13_failed_sign_ins_have_a_ceiling_per_email(
    api: Api, override_settings: Any
) -> None:
    """LOGIN_EMAIL_ATTEMPTS_PER_HOUR: guesses spread over many addresses stop at a ceiling."""
    override_settings(login_email_attempts_per_hour=3)
    user = await api.register()
    before = await snapshot(user)  # with the live sessions
    for _ in range(3):  # each from its own address: only the per-email count can trip
        wrong = await login(api, user.email, "not the password", unique_ip())
        assert single_error(wrong)["code"] == "INVALID_CREDENTIALS"
    limited = await login(api, user.email, PASSWORD, unique_ip())
    assert limited["token"] is None
    assert single_error(limited)["code"] == "RATE_LIMITED"
    assert await snapshot(user) == before


def test_r13_the_per_email_ceiling_must_be_out_of_one_address_reach() -> None:
    """LOGIN_EMAIL_ATTEMPTS_PER_HOUR at or below what one address may try in an hour (60 x
    LOGIN_ATTEMPTS_PER_MINUTE) would let a stranger lock the owner out: refused at start-up."""
    with pytest.raises(ValueError, match="LOGIN_EMAIL_ATTEMPTS_PER_HOUR"):
        Settings.from_env(env_file=None, login_email_attempts_per_hour=600)
    assert Settings.from_env(env_file=None, login_email_attempts_per_hour=601)


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
    stored = (await snapshot(user)).user.credentials
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
    before = await snapshot(owner, stranger)

    for credential_id in [*owner_ids, "0", "-1", "abc", "99999999999", "1" * 40]:
        refused = await revoke(api, stranger.token, credential_id)
        assert refused["revoked"] is False
        assert single_error(refused)["code"] == "NOT_FOUND"
        assert single_error(refused)["field"] == "id"
    assert await snapshot(owner, stranger) == before
    assert (await me(api, owner.token))["id"] == str(owner.id)  # type: ignore[index]
    assert len(before.of(stranger).credentials) == 1


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
    before = await snapshot(user)
    for name in ["", "   ", "x" * 201]:
        refused = await create_key(api, user.token, name)
        assert refused["key"] is None, name
        assert single_error(refused)["code"] == "INVALID_INPUT", name
        assert single_error(refused)["field"] == "name", name
        assert await snapshot(user) == before, name
    assert (await create_key(api, user.token, "n" * 200))["errors"] == []
    assert (await credentials(api, user.token))[0]["name"] == "n" * 200
