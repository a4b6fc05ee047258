"""Helpers of the tests of the sms-activate-compatible API over raw HTTP
(tests/test_compat_http_*.py): a bot (a user and its API key), one request to the handler, the
checks every answer passes (status, content type), the protocol's time format, and a purchase
and a code through it. `many_requests_per_key` is registered in tests/conftest.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from string import Template
from typing import Any

import httpx
import pytest

from tests.api import Api
from tests.api import User as ApiUser

HANDLER = "/stubs/handler_api.php"
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"
MISSING_ID = str(2**31 - 1)  # a valid id that no activation reaches in a test run
POLL_TIMEOUT_SECONDS = 10.0  # the sweeper runs every 0.1 s in tests
BANNED = re.compile(r"^BANNED:(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)$")
TG_TEXT = "Telegram code: {code}. Do not give this code to anyone"


@pytest.fixture
def many_requests_per_key(override_settings: Any) -> None:
    """These tests send dozens of requests a second with one key; the per-key limit has a test
    of its own (`test_rate_limit_per_api_key_...`), which sets it low again."""
    override_settings(api_requests_per_second=10_000)


@dataclass(frozen=True)
class Bot:
    """A user and the API key its bot uses."""

    user: ApiUser
    key: str


async def create_api_key(api: Api, user: ApiUser, name: str = "bot") -> str:
    data = await api.gql(
        "mutation($n: String!) { createApiKey(name: $n) { key errors { code } } }",
        {"n": name},
        token=user.token,
    )
    assert data["createApiKey"]["errors"] == []
    return data["createApiKey"]["key"]  # type: ignore[no-any-return]


async def new_bot(api: Api, amount: str | None = "10.00") -> Bot:
    user = await api.funded_user(amount) if amount else await api.register()
    return Bot(user, await create_api_key(api, user))


async def compat(
    api: Api,
    key: str | None,
    action: str | None,
    *,
    method: str = "GET",
    form: dict[str, str] | None = None,
    **params: str,
) -> httpx.Response:
    query = {k: v for k, v in {"api_key": key, "action": action, **params}.items() if v is not None}
    if method == "GET":
        return await api.client.get(HANDLER, params=query)
    return await api.client.post(HANDLER, params=query, data=form)


def text(response: httpx.Response) -> str:
    """The body of a plain-text answer, after checking status and content type."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == TEXT, response.headers
    return response.text


def json_text(response: httpx.Response) -> str:
    """The raw body of a JSON answer (compared byte for byte), after the same checks."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == JSON, response.headers
    assert response.content.isascii()
    return response.text


async def ask(api: Api, bot: Bot, action: str, **params: str) -> str:
    return text(await compat(api, bot.key, action, **params))


def pinned(template: str, **values: object) -> str:
    """An expected answer: `template` with `$name` placeholders filled in."""
    return Template(template).substitute(values)


def banned_until(answer: str) -> datetime:
    match = BANNED.match(answer)
    assert match, answer
    return datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def protocol_time(iso: str) -> str:
    return f"{datetime.fromisoformat(iso).astimezone(UTC):%Y-%m-%d %H:%M:%S}"


async def bought(api: Api, bot: Bot, country: str = "16", service: str = "tg") -> tuple[int, str]:
    """Buys through the compatible API: (activation id, phone digits)."""
    answer = await ask(api, bot, "getNumber", service=service, country=country)
    match = re.fullmatch(r"ACCESS_NUMBER:(\d+):(\d+)", answer)
    assert match, answer
    return int(match[1]), match[2]


async def deliver(api: Api, digits: str, code: str) -> None:
    response = await api.deliver_sms(f"+{digits}", TG_TEXT.format(code=code))
    assert response.json() == {"status": "delivered"}


async def graphql_offers(api: Api, country: str | None = None, service: str | None = None) -> Any:
    data = await api.gql(
        "query($c: String, $s: String) { prices(country: $c, service: $s)"
        " { country { code } service { code name } price { amount } available } }",
        {"c": country, "s": service},
    )
    return data["prices"]
