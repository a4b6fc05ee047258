"""A bot written for sms-activate, on the official `smsactivate` 1.5 client, runs its normal flow
against SMS Rooms with only the base URL changed (issue 4, contract/compat.md).

The client is synchronous (requests): every call runs in a worker thread so that the server,
which lives in this test's event loop, keeps serving. Codes arrive through the signed supplier
webhook. After the flow, the balance the bot sees equals GraphQL `me.balance` and the ledger.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import pytest
import requests
import smsactivate.api
from smsactivate.api import SMSActivateAPI

from services import audit, ledger, money
from tests.api import Api
from tests.api import User as ApiUser
from tests.conftest import Server
from tests.snapshot import snapshot

TG_TEXT = "Telegram code: {code}. Do not give this code to anyone"


@pytest.fixture(autouse=True)
def many_requests_per_key(override_settings: Any) -> None:
    """A real bot spreads its calls over minutes; this one makes them back to back. The per-key
    limit is tested on its own in test_compat_http.py."""
    override_settings(api_requests_per_second=10_000)


class RecordingRequests:
    """Stands in for `requests` inside the client module: the same HTTP calls, and the raw
    answer kept, for the tokens the client 1.5 does not know and fails to parse."""

    def __init__(self) -> None:
        self.last_answer: str | None = None

    def get(self, url: str, params: dict[str, Any] | None = None) -> requests.Response:
        response = requests.get(url, params=params, timeout=30)
        self.last_answer = response.text
        return response


@pytest.fixture
def transport(monkeypatch: pytest.MonkeyPatch) -> RecordingRequests:
    recorder = RecordingRequests()
    monkeypatch.setattr(smsactivate.api, "requests", recorder)
    return recorder


def client_for(server: Server, key: str) -> SMSActivateAPI:
    client = SMSActivateAPI(key)
    client._SMSActivateAPI__api_url = f"{server.url}/stubs/handler_api.php"  # the one change
    return client


async def run(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(call, *args, **kwargs)


async def create_api_key(api: Api, user: ApiUser) -> str:
    data = await api.gql(
        'mutation { createApiKey(name: "my bot") { key errors { code } } }', token=user.token
    )
    assert data["createApiKey"]["errors"] == []
    return data["createApiKey"]["key"]  # type: ignore[no-any-return]


async def bot_of(api: Api, amount: str | None = "10.00") -> tuple[ApiUser, SMSActivateAPI]:
    user = await api.funded_user(amount) if amount else await api.register()
    return user, client_for(api.server, await create_api_key(api, user))


async def deliver(api: Api, phone: int | str, code: str) -> None:
    response = await api.deliver_sms(f"+{phone}", TG_TEXT.format(code=code))
    assert response.json() == {"status": "delivered"}


async def offer(api: Api, country: str, service: str) -> dict[str, Any]:
    data = await api.gql(
        "query($c: String, $s: String) { prices(country: $c, service: $s)"
        " { price { amount } available } }",
        {"c": country, "s": service},
    )
    [found] = data["prices"]
    return found  # type: ignore[no-any-return]


# -- the whole flow -------------------------------------------------------------------------
async def test_r1_r3_r4_a_bot_runs_its_whole_flow_unchanged_but_for_the_base_url(
    api: Api, transport: RecordingRequests, ledger_is_consistent: None
) -> None:
    user, client = await bot_of(api, "10.00")
    assert await run(client.getBalance) == {"balance": "10.00"}
    assert await run(client.getBalanceAndCashBack) == {"balance": "10.00"}

    # The catalog, as the bot reads it before buying.
    gb = await offer(api, "GB", "tg")
    prices = await run(client.getPrices, service="tg", country=16)
    assert prices == {
        "16": {"tg": {"cost": float(gb["price"]["amount"]), "count": gb["available"]}}
    }
    assert (await run(client.getCountries))["16"]["eng"] == "United Kingdom"
    assert (await run(client.getNumbersStatus, country=16))["tg_0"] == str(gb["available"])
    assert await run(client.getOperators, country=16) == {
        "status": "success",
        "countryOperators": {"16": ["any"]},
    }

    # getNumber (V1): the price is charged at purchase (R1); the id is GraphQL's too.
    number = await run(client.getNumber, service="tg", country=16)
    activation_id, phone = number["activation_id"], number["phone"]
    seen = await api.activation(user, str(activation_id))
    assert seen is not None
    assert seen["phoneNumber"] == f"+{phone}"
    assert seen["status"] == "WAITING_SMS"
    assert await run(client.getBalance) == {"balance": "9.52"}
    assert await run(client.getStatus, id=activation_id) == "STATUS_WAIT_CODE"
    assert await run(client.setStatus, id=activation_id, status=1) == "ACCESS_READY"
    [active] = (await run(client.getActiveActivations))["activeActivations"]
    assert (active["activationId"], active["phoneNumber"]) == (activation_id, str(phone))

    # The code comes through the supplier webhook.
    await deliver(api, phone, "11111")
    assert await run(client.getStatus, id=activation_id) == "STATUS_OK:11111"
    full = TG_TEXT.format(code="11111")
    assert await run(client.getFullSms, id=activation_id) == f"FULL_SMS:{full}"

    # R3: another code on the same number.
    assert await run(client.setStatus, id=activation_id, status=3) == "ACCESS_RETRY_GET"
    assert await run(client.getStatus, id=activation_id) == "STATUS_WAIT_RETRY:11111"
    await deliver(api, phone, "22222")
    assert await run(client.getStatus, id=activation_id) == "STATUS_OK:22222"
    assert await run(client.setStatus, id=activation_id, status=6) == "ACCESS_ACTIVATION"
    finished = await api.activation(user, str(activation_id))
    assert finished is not None
    assert (finished["status"], finished["code"]) == ("FINISHED", "22222")
    assert [m["code"] for m in finished["messages"]] == ["11111", "22222"]

    # getNumberV2, then cancelled before any SMS: refunded in full (R4).
    v2 = await run(client.getNumberV2, service="wa", country=187)
    assert isinstance(v2["activationId"], int)
    assert re.fullmatch(r"1\d{10}", v2["phoneNumber"])
    assert (v2["activationCost"], v2["currency"], v2["countryCode"]) == (0.9, 840, "187")
    assert v2["canGetAnotherSms"] is True
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", v2["activationTime"])
    assert await run(client.getBalance) == {"balance": "8.62"}
    assert await run(client.setStatus, id=v2["activationId"], status=8) == "ACCESS_CANCEL"
    # The client 1.5 lists STATUS_CANCEL among its errors, so it hands it back as one.
    assert await run(client.getStatus, id=v2["activationId"]) == {
        "error": "STATUS_CANCEL",
        "message": "Current activation canceled and no longer available",
    }
    cancelled = await api.activation(user, str(v2["activationId"]))
    assert cancelled is not None
    assert (cancelled["status"], cancelled["refunded"]) == ("CANCELLED", True)
    # NO_ACTIVATIONS (contract/compat.md) is a token the client 1.5 feeds to json.loads.
    with pytest.raises(ValueError, match="Expecting value"):
        await run(client.getActiveActivations)
    assert transport.last_answer == "NO_ACTIVATIONS"

    # The balance the bot sees is the GraphQL balance and the ledger's.
    seen_by_bot = (await run(client.getBalance))["balance"]
    assert seen_by_bot == "9.52"
    assert seen_by_bot == await api.balance(user)
    assert seen_by_bot == money.format_minor(await ledger.balance_minor(user.id))
    assert await audit.ledger_violations() == []


# -- what the bot sees when it is refused ---------------------------------------------------
async def test_r13_bad_and_session_keys_are_bad_key(api: Api) -> None:
    user, _client = await bot_of(api)
    before = await snapshot(user)
    bad_key = {"error": "BAD_KEY", "message": "Invalid API access key"}
    for key in ("garbage", user.token):  # a session token is for the apps, not for bots
        client = client_for(api.server, key)
        assert await run(client.getBalance) == bad_key
        assert await run(client.getNumber, service="tg", country=16) == bad_key
    after = await snapshot(user)
    assert after == before
    assert (after.user.balance_minor, after.user.activations) == (1000, ())


async def test_r1_no_balance(api: Api) -> None:
    user, client = await bot_of(api, None)
    before = await snapshot(user)
    answer = await run(client.getNumber, service="tg", country=16)
    assert answer["error"] == "NO_BALANCE"
    after = await snapshot(user)
    assert after == before
    assert (after.user.balance_minor, after.user.activations) == (0, ())


async def test_r9_bad_service(api: Api) -> None:
    user, client = await bot_of(api)
    before = await snapshot(user)
    for service in ("zz", "qw"):  # unknown, and Qiwi (never sold)
        answer = await run(client.getNumber, service=service, country=16)
        assert answer["error"] == "BAD_SERVICE"
    after = await snapshot(user)
    assert after == before
    assert (after.user.balance_minor, after.user.activations) == (1000, ())


async def test_r11_wrong_country_and_wrong_max_price_tokens(
    api: Api, transport: RecordingRequests
) -> None:
    # The client 1.5 lists neither token among its errors and fails parsing them as a number,
    # exactly as it does against sms-activate itself; the raw answers are the protocol's.
    user, client = await bot_of(api)
    before = await snapshot(user)
    for country in (999, 57):  # unknown, and Iran (never sold)
        with pytest.raises(ValueError, match="invalid literal"):
            await run(client.getNumber, service="tg", country=country)
        assert transport.last_answer == "WRONG_COUNTRY_ID"
    with pytest.raises(ValueError, match="invalid literal"):
        await run(client.getNumber, service="tg", country=16, maxPrice=0.1)
    assert transport.last_answer == "WRONG_MAX_PRICE:0.48"
    with pytest.raises(ValueError, match="Expecting value"):
        await run(client.getNumberV2, service="tg", country=16, maxPrice=0.47)
    assert transport.last_answer == "WRONG_MAX_PRICE:0.48"
    after = await snapshot(user)
    assert after == before
    assert (after.user.balance_minor, after.user.activations) == (1000, ())


async def test_another_users_activation_is_no_activation(api: Api) -> None:
    owner, owner_client = await bot_of(api)
    _stranger, stranger_client = await bot_of(api)
    number = await run(owner_client.getNumber, service="tg", country=16)
    before = await snapshot(owner)
    foreign = number["activation_id"]
    for call, kwargs in (
        (stranger_client.getStatus, {}),
        (stranger_client.getFullSms, {}),
        (stranger_client.setStatus, {"status": 8}),
        (stranger_client.setStatus, {"status": 6}),
    ):
        answer = await run(call, id=foreign, **kwargs)
        assert answer == {
            "error": "NO_ACTIVATION",
            "message": "The specified activation id does not exist",
        }
    assert await snapshot(owner) == before
    assert await run(owner_client.getStatus, id=foreign) == "STATUS_WAIT_CODE"


async def test_r4_cancel_after_the_code_is_bad_status(api: Api) -> None:
    user, client = await bot_of(api)
    number = await run(client.getNumber, service="tg", country=16)
    await deliver(api, number["phone"], "55555")
    before = await snapshot(user)
    answer = await run(client.setStatus, id=number["activation_id"], status=8)
    assert answer["error"] == "BAD_STATUS"
    assert await snapshot(user) == before
    assert await run(client.getStatus, id=number["activation_id"]) == "STATUS_OK:55555"
