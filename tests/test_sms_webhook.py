"""`POST /suppliers/{supplier}/sms` (contract/http.md, "Supplier SMS webhook") and R2.

Message shapes are recorded payloads in tests/fixtures/sms/, one file per shape; each test gives
the payload the number it targets and a fresh message id (ids are unique per supplier).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from models import Activation, Service, Sms, Transfer, TransferKind
from suppliers.signature import sign
from tests import supplier_helpers
from tests.activation_helpers import CAPTURED_TRANSFERS
from tests.api import Api, User
from tests.snapshot import snapshot
from tests.test_catalog import add_numbers, fictional_e164, fresh_country, set_price

FIXTURES = Path(__file__).parent / "fixtures" / "sms"
# fixture -> (the service it comes from, the code a user must see)
SHAPES = {
    "telegram_code.json": ("tg", "48213"),
    "telegram_code_without_sender.json": ("tg", "90125"),
    "whatsapp_dashed_code.json": ("wa", "123456"),
    "google_code_from_short_number.json": ("go", "123456"),
    "instagram_spaced_code_without_time.json": ("ig", "654321"),
}
ABSENT = object()  # a field value meaning "leave the field out"


def recorded(name: str, to: str, /, **changes: object) -> dict[str, Any]:
    """A recorded payload sent to `to` under a fresh message id, dated now (an SMS older than
    an activation is not its own), with fields changed/removed."""
    payload: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    payload.update(to=to, id=f"{payload['id']}-{uuid.uuid4().hex[:12]}")
    if "receivedAt" in payload:
        payload["receivedAt"] = redated(payload["receivedAt"])
    for field, value in changes.items():
        if value is ABSENT:
            payload.pop(field, None)
        else:
            payload[field] = value
    return payload


def redated(recorded_at: str) -> str:
    """A recorded date moved to the next whole second from now, written as it was recorded
    (its offset, "Z", a fraction): never before an activation bought a moment ago, and within
    the clock skew the webhook keeps a date as sent."""
    written = datetime.fromisoformat(recorded_at.replace("Z", "+00:00"))
    now = datetime.now(written.tzinfo).replace(microsecond=0) + timedelta(seconds=1)
    text = now.isoformat(timespec="microseconds" if "." in recorded_at else "seconds")
    return text.replace("+00:00", "Z") if recorded_at.endswith("Z") else text


def encoded(payload: object) -> bytes:
    return json.dumps(payload).encode()


async def send(api: Api, payload: object, **kw: Any) -> Any:
    return await api.send_webhook(encoded(payload), **kw)


_buyers: dict[str, User] = {}  # server URL -> one funded buyer for this module's activations


async def live_activation(api: Api, service: str = "tg", country: str = "GB") -> tuple[User, Any]:
    """A fresh WAITING_SMS activation (from a buyer shared by this module: sign-up is slow)."""
    if api.server.url not in _buyers:
        _buyers[api.server.url] = await api.funded_user("500.00")
    user = _buyers[api.server.url]
    return user, await api.bought(user, country, service)


async def stored(message_id: str) -> list[Sms]:
    return await Sms.filter(supplier_message_id=message_id)


async def transfer_kinds(activation_id: str) -> list[TransferKind]:
    rows = await Transfer.filter(activation_id=int(activation_id)).order_by("id")
    return [row.kind for row in rows]


async def assert_still_waiting(api: Api, user: User, activation: dict[str, Any]) -> None:
    """Nothing reached the activation: no message, no code, no capture."""
    seen = await api.activation(user, activation["id"])
    assert seen is not None
    assert (seen["status"], seen["code"], seen["messages"]) == ("WAITING_SMS", None, [])
    assert await transfer_kinds(activation["id"]) == [TransferKind.HOLD]
    assert not await Sms.exists(activation_id=int(activation["id"]))


# -- recorded message shapes ---------------------------------------------------------------------
def test_every_recorded_shape_is_tested() -> None:
    assert {path.name for path in FIXTURES.glob("*.json")} == set(SHAPES)


@pytest.mark.parametrize("shape", sorted(SHAPES))
async def test_r2_matching_sms_is_delivered_with_its_code(api: Api, shape: str) -> None:
    service, code = SHAPES[shape]
    user, activation = await live_activation(api, service)
    balance = await api.balance(user)
    payload = recorded(shape, activation["phoneNumber"])
    response = await send(api, payload)
    assert (response.status_code, response.json()) == (200, {"status": "delivered"})

    seen = await api.activation(user, activation["id"])
    assert seen is not None
    assert (seen["status"], seen["code"]) == ("RECEIVED", code)
    [message] = seen["messages"]
    assert (message["code"], message["text"], message["sender"]) == (
        code,
        payload["text"],
        payload["from"],
    )
    if "receivedAt" in payload:
        assert datetime.fromisoformat(message["receivedAt"]) == datetime.fromisoformat(
            payload["receivedAt"].replace("Z", "+00:00")
        )
    [row] = await stored(payload["id"])
    assert (row.activation_id, row.code, row.to_e164) == (  # type: ignore[attr-defined]
        int(activation["id"]),
        code,
        activation["phoneNumber"],
    )
    # The first SMS captures the hold; the user's balance was debited at purchase and stays.
    assert await transfer_kinds(activation["id"]) == CAPTURED_TRANSFERS
    assert await api.balance(user) == balance


# -- R2: other services' SMS are stored, never shown ---------------------------------------------
@pytest.mark.parametrize(
    "shape",
    [
        "whatsapp_dashed_code.json",
        "google_code_from_short_number.json",
        "instagram_spaced_code_without_time.json",
    ],
)
async def test_r2_sms_of_another_service_is_stored_not_shown(
    api: Api, shape: str, ledger_is_consistent: None
) -> None:
    user, activation = await live_activation(api, "tg")
    before = await snapshot(user)
    balance = await api.balance(user)
    payload = recorded(shape, activation["phoneNumber"])
    response = await send(api, payload)
    assert (response.status_code, response.json()) == (200, {"status": "stored"})
    [row] = await stored(payload["id"])
    assert (row.activation_id, row.to_e164, row.text) == (  # type: ignore[attr-defined]
        None,
        activation["phoneNumber"],
        payload["text"],
    )
    await assert_still_waiting(api, user, activation)
    assert await snapshot(user) == before
    assert await api.balance(user) == balance


async def test_r2_sms_to_a_number_with_no_activation_is_stored(api: Api) -> None:
    payload = recorded("telegram_code.json", fictional_e164())
    response = await send(api, payload)
    assert (response.status_code, response.json()) == (200, {"status": "stored"})
    [row] = await stored(payload["id"])
    assert row.activation_id is None  # type: ignore[attr-defined]


async def test_r2_one_number_two_services_each_user_sees_only_their_own(api: Api) -> None:
    # A country whose pool is one number: A's tg and B's wa activation must share it.
    country = await fresh_country()
    for service in ("tg", "wa"):
        await set_price(country, await Service.get(code=service))
    [number] = await add_numbers(country, [fictional_e164()])
    alice, bob = await api.funded_user(), await api.funded_user()
    for_tg = await api.bought(alice, country.code, "tg")
    for_wa = await api.bought(bob, country.code, "wa")
    assert for_tg["phoneNumber"] == for_wa["phoneNumber"] == number.e164

    responses = [
        await send(api, recorded(shape, number.e164))
        for shape in (
            "whatsapp_dashed_code.json",
            "telegram_code.json",
            "google_code_from_short_number.json",
        )
    ]
    assert [r.json()["status"] for r in responses] == ["delivered", "delivered", "stored"]

    alice_sees = await api.activation(alice, for_tg["id"])
    bob_sees = await api.activation(bob, for_wa["id"])
    assert alice_sees is not None
    assert bob_sees is not None
    assert [(m["sender"], m["code"]) for m in alice_sees["messages"]] == [("Telegram", "48213")]
    assert [(m["sender"], m["code"]) for m in bob_sees["messages"]] == [("WhatsApp", "123456")]
    assert (alice_sees["code"], bob_sees["code"]) == ("48213", "123456")
    # Neither can read the other's activation at all.
    assert await api.activation(alice, for_wa["id"]) is None
    assert await api.activation(bob, for_tg["id"]) is None


async def test_r2_sms_from_a_supplier_not_owning_the_number_is_not_delivered(api: Api) -> None:
    """A supplier may only deliver to its own numbers: a webhook is never trusted blindly."""
    other = await a_supplier(api)
    user, activation = await live_activation(api)
    before = await snapshot(user)
    payload = recorded("telegram_code.json", activation["phoneNumber"])
    response = await send(api, payload, supplier=other.code, secret=other.secret)
    assert (response.status_code, response.json()) == (200, {"status": "stored"})
    [row] = await stored(payload["id"])
    assert row.activation_id is None  # type: ignore[attr-defined]
    await assert_still_waiting(api, user, activation)
    assert await snapshot(user) == before


@dataclass(frozen=True)
class OtherSupplier:
    code: str
    secret: str


async def a_supplier(api: Api, *, active: bool = True) -> OtherSupplier:
    """A WEBHOOK supplier registered by the admin, with the secret it was shown once."""
    supplier, secret = await supplier_helpers.created(api)
    assert secret is not None
    if not active:
        await supplier_helpers.switch_off(api, supplier["id"])
    return OtherSupplier(supplier["code"], secret)


# -- idempotency ---------------------------------------------------------------------------------
async def test_same_message_id_twice_is_a_duplicate_and_changes_nothing(
    api: Api, ledger_is_consistent: None
) -> None:
    user, activation = await live_activation(api)
    payload = recorded("telegram_code.json", activation["phoneNumber"])
    assert (await send(api, payload)).json() == {"status": "delivered"}
    balance = await api.balance(user)
    before = await api.activation(user, activation["id"])
    stored_before = await snapshot(user)

    retry = await send(api, payload)
    # The id alone decides: a different text under the same id is the same message.
    altered = await send(api, {**payload, "text": "Telegram code: 11111. Do not give"})
    assert [(r.status_code, r.json()) for r in (retry, altered)] == [
        (200, {"status": "duplicate"})
    ] * 2

    assert len(await stored(payload["id"])) == 1
    assert await transfer_kinds(activation["id"]) == CAPTURED_TRANSFERS
    assert await api.activation(user, activation["id"]) == before
    assert await api.balance(user) == balance
    assert await snapshot(user) == stored_before


async def test_same_message_id_from_another_supplier_is_another_message(api: Api) -> None:
    other = await a_supplier(api)
    payload = recorded("telegram_code.json", fictional_e164())
    assert (await send(api, payload)).json() == {"status": "stored"}
    again = await send(api, payload, supplier=other.code, secret=other.secret)
    assert again.json() == {"status": "stored"}
    assert len(await stored(payload["id"])) == 2


# -- signature -------------------------------------------------------------------------------
def _signatures(secret: str, body: bytes) -> dict[str, str | None]:
    now = int(time.time())
    digest = sign(secret, body, now).split("v1=")[1]
    return {
        "missing": None,
        "empty": "",
        "wrong digest": f"t={now},v1={'0' * 64}",
        "wrong secret": sign("not-the-supplier-secret", body, now),
        "other body": sign(secret, body + b" ", now),
        "no timestamp": f"v1={digest}",
        "timestamp not a number": f"t=soon,v1={digest}",
        "401 s old": sign(secret, body, now - 401),
        "an hour old": sign(secret, body, now - 3600),
        "401 s ahead": sign(secret, body, now + 401),
        "oversized": sign(secret, body, now) + ",x=" + "0" * 600,
    }


@pytest.mark.parametrize("case", list(_signatures("s", b"")))
async def test_bad_signature_is_refused_401_and_nothing_stored(api: Api, case: str) -> None:
    user, activation = await live_activation(api)
    before = await snapshot(user)
    payload = recorded("telegram_code.json", activation["phoneNumber"])
    body = encoded(payload)
    header = _signatures(api.server.settings.demo_supplier_secret, body)[case]
    headers = {"content-type": "application/json"}
    if header is not None:
        headers["x-signature"] = header
    response = await api.client.post("/suppliers/demo/sms", content=body, headers=headers)
    assert response.status_code == 401, response.text
    assert await stored(payload["id"]) == []
    await assert_still_waiting(api, user, activation)
    assert await snapshot(user) == before


@pytest.mark.parametrize("offset", [-200, 200])
async def test_timestamp_within_tolerance_is_accepted(api: Api, offset: int) -> None:
    payload = recorded("telegram_code.json", fictional_e164())
    response = await send(api, payload, timestamp=int(time.time()) + offset)
    assert (response.status_code, response.json()) == (200, {"status": "stored"})


@pytest.mark.parametrize("known_but_inactive", [False, True])
async def test_unknown_supplier_is_404_and_nothing_stored(
    api: Api, known_but_inactive: bool
) -> None:
    supplier = await a_supplier(api, active=False) if known_but_inactive else None
    code = supplier.code if supplier else "no-such-supplier"
    secret = supplier.secret if supplier else "whatever"
    payload = recorded("telegram_code.json", fictional_e164())
    before = await snapshot()
    response = await send(api, payload, supplier=code, secret=secret)
    assert response.status_code == 404
    assert await stored(payload["id"]) == []
    assert await snapshot() == before


# -- bad input -------------------------------------------------------------------------------
def _field(**changes: object) -> Callable[[str], bytes]:
    return lambda to: encoded(recorded("telegram_code.json", to, **changes))


BAD_BODIES: dict[str, Callable[[str], bytes]] = {
    "malformed JSON": lambda to: b'{"id": "x", "to": "' + to.encode() + b'", "text": ',
    "not UTF-8": lambda to: encoded(recorded("telegram_code.json", to)).replace(
        b"Telegram code", b"Telegram \xff code"
    ),
    "JSON array": lambda to: encoded([recorded("telegram_code.json", to)]),
    "JSON string": lambda to: encoded(to),
    "JSON null": lambda to: b"null",
    "missing id": _field(id=ABSENT),
    "missing to": _field(to=ABSENT),
    "missing text": _field(text=ABSENT),
    "blank id": _field(id="  "),
    "empty text": _field(text=""),
    "to without +": lambda to: encoded(recorded("telegram_code.json", to.lstrip("+"))),
    "to +0...": _field(to="+0447700900123"),
    "to with letters": _field(to="+44770090O123"),
    "to with spaces": _field(to="+44 7700 900123"),
    "to too long": _field(to="+4477009001234567"),
    "to too short": _field(to="+44123"),
    "id not a string": _field(id=12345),
    "to not a string": _field(to=447700900123),
    "text not a string": _field(text=["Telegram code: 48213"]),
    "from not a string": _field(**{"from": 5}),
    "id too long": _field(id="x" * 101),
    "text too long": _field(text="Telegram code: 48213 " + "x" * 2000),
    "receivedAt not ISO-8601": _field(receivedAt="yesterday at noon"),
    "receivedAt without offset": _field(receivedAt="2026-11-22T10:15:00"),
    "receivedAt a date only": _field(receivedAt="2026-11-22"),
    "receivedAt a number": _field(receivedAt=1795342500),
    "body over 16 KiB": _field(padding="x" * (16 * 1024)),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
async def test_bad_input_is_refused_400_and_nothing_stored(api: Api, case: str) -> None:
    user, activation = await live_activation(api)
    before = await snapshot(user)
    body = BAD_BODIES[case](activation["phoneNumber"])
    sms_before = await Sms.all().count()
    response = await api.send_webhook(body)
    assert response.status_code == 400, (case, response.status_code, response.text)
    assert response.json()["error"]
    assert await Sms.all().count() == sms_before
    await assert_still_waiting(api, user, activation)
    assert await snapshot(user) == before


async def test_streamed_body_over_16_kib_is_refused_400(api: Api) -> None:
    """No Content-Length (chunked): the limit holds while reading, not only on the header."""
    user, activation = await live_activation(api)
    before = await snapshot(user)
    body = encoded(
        recorded("telegram_code.json", activation["phoneNumber"], padding="x" * (16 * 1024))
    )

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    header = sign(api.server.settings.demo_supplier_secret, body, int(time.time()))
    response = await api.client.post(
        "/suppliers/demo/sms",
        content=chunks(),
        headers={"content-type": "application/json", "x-signature": header},
    )
    assert response.status_code == 400
    await assert_still_waiting(api, user, activation)
    assert await snapshot(user) == before


async def test_refused_sms_leaves_the_activation_able_to_receive(api: Api) -> None:
    """After refusals the genuine message still gets through (nothing was half-stored)."""
    user, activation = await live_activation(api)
    await api.send_webhook(BAD_BODIES["to +0..."](activation["phoneNumber"]))
    payload = recorded("telegram_code.json", activation["phoneNumber"])
    assert (await send(api, payload, secret="wrong-secret")).status_code == 401
    assert (await send(api, payload)).json() == {"status": "delivered"}
    assert (await Activation.get(id=int(activation["id"]))).code == "48213"


async def test_an_absurd_signature_timestamp_is_401_not_a_crash(api: Api) -> None:
    body = b'{"id": "x", "to": "+447700900000", "text": "Telegram code: 12345"}'
    answer = await api.send_webhook(body, signature="t=" + "9" * 400 + ",v1=ab")
    assert answer.status_code == 401


async def test_a_number_followed_by_a_newline_is_not_e164(api: Api) -> None:
    body = b'{"id": "nl", "to": "+123456789012345\\n", "text": "Telegram code: 12345"}'
    assert (await api.send_webhook(body)).status_code == 400
