"""Sign-up and email verification through the GraphQL API (R12), on both backend pairs: the
link is sent and works once, bad emails and passwords are refused and change nothing, and with
verification required buying waits for it.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

import pytest

from models import EmailToken, User
from tests.account_helpers import (
    Mailbox,
    email_verified_at,
    fund,
    login,
    me,
    register,
    sha256,
    single_error,
    unique_email,
    unique_ip,
    verify,
)
from tests.api import Api
from tests.snapshot import snapshot

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
    before = await snapshot(user)

    refused = await api.buy(user, "GB", "tg")
    assert refused["activation"] is None
    assert single_error(refused)["code"] == "EMAIL_NOT_VERIFIED"
    assert await snapshot(user) == before

    assert (await verify(api, await mailbox.token_for(user.email)))["errors"] == []
    activation = await api.bought(user, "GB", "tg")
    after = (await snapshot(user)).user
    price_minor = int(Decimal(activation["price"]["amount"]) * 100)
    assert (after.balance_minor, after.transfers, len(after.activations)) == (
        before.user.balance_minor - price_minor,
        before.user.transfers + 1,
        1,
    )


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
