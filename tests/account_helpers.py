"""Helpers and fixtures of the account tests (tests/test_accounts_*.py): the GraphQL documents,
unique emails and addresses, the mailbox the verification links are read from, the admin's
token, and one call per operation. The fixtures are registered in tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from structlog.testing import capture_logs

from models import User
from tests.api import Api
from tests.api import User as ApiUser

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
