"""Text users send, through the GraphQL API on both backend pairs (issue 10, item 6;
services/text.py): control characters (NUL, ESC sequences), bidi overrides, zero-width and other
invisible characters are refused in emails, passwords, API key names, reasons and idempotency
keys, and nothing changes; readable text is NFKC-normalised (full-width letters are the ASCII
ones), so two spellings that look the same are one account.
"""

from __future__ import annotations

import pytest

from models import Credential, RefundRequest, User
from tests.account_helpers import (
    ADJUST,
    PASSWORD,
    create_key,
    credentials,
    login,
    register,
    single_error,
    unique_email,
    unique_ip,
)
from tests.api import Api
from tests.payments import request_refund
from tests.snapshot import snapshot

HIDDEN = {
    "nul": "\x00",
    "escape sequence": "\x1b[2J\x1b[31m",
    "bidi override": "\u202e",
    "zero-width space": "\u200b",
    "zero-width joiner": "\u200d",
    "newline": "\n",
    "line separator": "\u2028",
    "private use": "\ue000",
}
CASES = pytest.mark.parametrize("hidden", list(HIDDEN.values()), ids=list(HIDDEN))


@CASES
async def test_email_with_hidden_characters_is_refused(api: Api, hidden: str) -> None:
    local = unique_email("hid").split("@")[0]
    users_before = await User.all().count()
    payload = await register(api, f"{local}{hidden}x@example.com")
    assert payload["token"] is None
    assert single_error(payload)["code"] == "INVALID_INPUT"
    assert single_error(payload)["field"] == "email"
    assert await User.all().count() == users_before
    assert await User.filter(email__startswith=local).count() == 0


async def test_full_width_email_is_the_ascii_one(api: Api) -> None:
    ascii_email = unique_email("wide")
    wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in ascii_email)
    assert wide != ascii_email
    payload = await register(api, wide)
    assert payload["errors"] == []
    assert payload["viewer"]["email"] == ascii_email
    assert await User.filter(email=ascii_email).count() == 1
    assert (await login(api, ascii_email, PASSWORD, unique_ip()))["errors"] == []
    assert (await login(api, wide, PASSWORD, unique_ip()))["errors"] == []
    users_before = await User.all().count()
    taken = await register(api, ascii_email)
    assert single_error(taken)["code"] == "EMAIL_TAKEN"
    assert await User.all().count() == users_before


@CASES
async def test_password_with_hidden_characters_is_refused(api: Api, hidden: str) -> None:
    email = unique_email("pw")
    users_before = await User.all().count()
    payload = await register(api, email, f"a long{hidden}password")
    assert single_error(payload)["code"] == "INVALID_INPUT"
    assert single_error(payload)["field"] == "password"
    assert await User.all().count() == users_before


@CASES
async def test_api_key_name_with_hidden_characters_is_refused(api: Api, hidden: str) -> None:
    user = await api.register()
    before = await snapshot(user)
    refused = await create_key(api, user.token, f"my{hidden}bot")
    assert refused["key"] is None
    assert single_error(refused)["code"] == "INVALID_INPUT"
    assert single_error(refused)["field"] == "name"
    assert await snapshot(user) == before
    assert await Credential.filter(user_id=user.id, name__contains="bot").count() == 0


async def test_api_key_name_is_normalised(api: Api) -> None:
    user = await api.register()
    assert (await create_key(api, user.token, " ｍｙ ｂｏｔ "))["errors"] == []
    assert [c["name"] for c in await credentials(api, user.token)][0] == "my bot"


@CASES
async def test_idempotency_key_with_hidden_characters_is_refused(api: Api, hidden: str) -> None:
    user = await api.funded_user("5.00")
    before = await snapshot(user)
    refused = await api.buy(user, "GB", "tg", idempotencyKey=f"key{hidden}1")
    assert refused["activation"] is None
    assert single_error(refused)["code"] == "INVALID_INPUT"
    assert single_error(refused)["field"] == "idempotencyKey"
    assert await snapshot(user) == before


async def test_idempotency_keys_are_not_normalised(api: Api) -> None:
    """Opaque: a full-width key is another key than its ASCII look-alike, not a replay."""
    user = await api.funded_user("5.00")
    first = await api.buy(user, "GB", "tg", idempotencyKey="key-1")
    second = await api.buy(user, "GB", "tg", idempotencyKey="ｋｅｙ-1")
    assert first["errors"] == second["errors"] == []
    assert first["activation"]["id"] != second["activation"]["id"]


@CASES
async def test_adjustment_reason_with_hidden_characters_is_refused(
    api: Api, admin: str, hidden: str
) -> None:
    user = await api.register()
    before = await snapshot(user)
    data = await api.gql(
        ADJUST, {"u": str(user.id), "a": "1.00", "r": f"good{hidden}will"}, token=admin
    )
    assert single_error(data["adjustBalance"])["field"] == "reason"
    assert await snapshot(user) == before


@CASES
async def test_refund_reason_with_hidden_characters_is_refused(api: Api, hidden: str) -> None:
    user = await api.funded_user("5.00")
    before = await snapshot(user)
    refused = await request_refund(api, user, "1.00", f"moving{hidden}away")
    assert single_error(refused)["code"] == "INVALID_INPUT"
    assert single_error(refused)["field"] == "reason"
    assert await snapshot(user) == before
    assert await RefundRequest.filter(user_id=user.id).count() == 0
