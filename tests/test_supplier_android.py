"""Android gateway suppliers (issue 8, step 3; contract/suppliers.md, 2): a phone running "SMS
Gateway for Android" reports its SIM cards and forwards every SMS it receives, signed.

The phone is tests/android_gateway.py, written from the app's published protocol.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from models import (
    ActivationStatus,
    Country,
    NumberState,
    PhoneNumber,
    Sms,
    Supplier,
    SupplierKind,
    SupplierState,
)
from services import sealing, suppliers
from settings import Settings
from suppliers import demo
from tests import backends
from tests.android_gateway import AndroidGateway
from tests.api import Api
from tests.backends import own_database
from tests.conftest import SECRETS_KEY, Server, running, settings_for

SIM_1 = "+77011234567"  # Kazakh mobile numbers: phonenumbers places them in KZ
SIM_2 = "+77017654321"


async def gateway_supplier(code: str | None = None) -> tuple[Supplier, str]:
    """A registered Android gateway supplier and its signing key (sealed, as the registry keeps
    it), with its payable account."""
    key = secrets.token_urlsafe(24)
    supplier = await Supplier.create(
        code=code or f"phone-{secrets.token_hex(4)}",
        name="A phone",
        kind=SupplierKind.ANDROID_GATEWAY,
        secret_sealed=sealing.seal(Settings(secrets_key=(SECRETS_KEY,)), key),
    )
    await suppliers.open_payable_account(supplier)
    return supplier, key


async def stored_state(supplier: Supplier) -> tuple[int, list[tuple[str, str]]]:
    """What a refused request must leave unchanged: the supplier's SMS and its numbers."""
    numbers = await PhoneNumber.filter(supplier_id=supplier.id).order_by("e164")
    return (
        await Sms.filter(supplier_id=supplier.id).count(),
        [(n.e164, n.state.value) for n in numbers],
    )


@pytest.fixture
async def shop(backend: backends.Backend, tmp_path: Path) -> AsyncIterator[tuple[Server, Api]]:
    """A shop of its own whose only Kazakh numbers are the phone's: the demo pool's are retired."""
    async with own_database(backend, tmp_path, "android") as url:
        settings = settings_for(backend, database_url=url, redis_prefix=f"{backend.redis_prefix}a:")
        async with (
            running(settings) as server,
            httpx.AsyncClient(base_url=server.url, timeout=30) as client,
        ):
            with server.runtime.database.activate():
                kz = await Country.get(code="KZ")
                demo_supplier = await Supplier.get(code=demo.CODE)
                await PhoneNumber.filter(supplier=demo_supplier, country=kz).update(
                    state=NumberState.RETIRED
                )
                server.runtime.catalog.invalidate()
                yield server, Api(client, server)


async def test_a_phones_sims_are_sold_and_their_codes_reach_the_buyer(
    shop: tuple[Server, Api],
) -> None:
    server, api = shop
    with server.runtime.database.activate():
        supplier, key = await gateway_supplier()
        phone = AndroidGateway(api.client, supplier.code, key)

        started = await phone.app_started((1, SIM_1), (2, SIM_2))
        assert started.status_code == 200
        assert sorted(started.json()["added"]) == [SIM_1, SIM_2]

        user = await api.funded_user("5.00")
        first = await api.bought(user, "KZ", "tg")
        second = await api.bought(user, "KZ", "wa")
        assert {first["phoneNumber"], second["phoneNumber"]} <= {SIM_1, SIM_2}

        # The phone names the SIM slot only (no recipient): the slot gives the number.
        slot = 1 if first["phoneNumber"] == SIM_1 else 2
        sms = phone.sms("Telegram code: 12345. Do not give it to anyone", slot=slot)
        delivered = await phone.send("sms:received", sms)
        assert delivered.json() == {"status": "delivered"}
        seen = await api.activation(user, first["id"])
        assert seen is not None
        assert seen["status"] == ActivationStatus.RECEIVED.value
        assert seen["code"] == "12345"

        # Older app versions name the sender `phoneNumber`, and may send the recipient.
        legacy = phone.sms(
            "WhatsApp code 777-111",
            "WhatsApp",
            recipient=second["phoneNumber"],
            slot=None,
            legacy=True,
        )
        assert (await phone.send("sms:received", legacy)).json() == {"status": "delivered"}
        seen = await api.activation(user, second["id"])
        assert seen is not None
        assert seen["code"] == "777111"


async def test_a_retried_event_is_stored_once_and_a_repeated_sms_again(api: Api) -> None:
    """The app retries for two days with the same event; its messageId comes from the content,
    so only the moment of receipt tells a retry from the same code sent a second time."""
    supplier, key = await gateway_supplier()
    phone = AndroidGateway(api.client, supplier.code, key)
    moment = datetime.now(UTC) - timedelta(seconds=5)
    sms = phone.sms("Telegram code: 55555", recipient="+77050000001", received_at=moment)

    answers = [(await phone.send("sms:received", sms, event_id="event-1")).json() for _ in range(3)]
    assert answers == [{"status": "stored"}, {"status": "duplicate"}, {"status": "duplicate"}]
    again = phone.sms(
        "Telegram code: 55555", recipient="+77050000001", received_at=datetime.now(UTC)
    )
    assert (await phone.send("sms:received", again)).json() == {"status": "stored"}
    stored = await Sms.filter(supplier_id=supplier.id).order_by("id")
    assert [(s.to_e164, s.text) for s in stored] == [("+77050000001", "Telegram code: 55555")] * 2


async def test_an_sms_on_an_unknown_sim_is_stored_for_the_admins(api: Api) -> None:
    """R2: kept whatever its fate; with neither a recipient nor a known slot it matches nothing."""
    supplier, key = await gateway_supplier()
    phone = AndroidGateway(api.client, supplier.code, key)
    answer = await phone.send("sms:received", phone.sms("Google code G-424242", "Google", slot=2))
    assert answer.json() == {"status": "stored"}
    stored = await Sms.get(supplier_id=supplier.id)
    assert (stored.to_e164, stored.activation_id) == ("", None)


async def test_a_sim_taken_out_is_no_longer_sold(shop: tuple[Server, Api]) -> None:
    server, api = shop
    with server.runtime.database.activate():
        supplier, key = await gateway_supplier()
        phone = AndroidGateway(api.client, supplier.code, key)
        await phone.app_started((1, SIM_1), (2, SIM_2))
        answer = await phone.app_started((1, SIM_1))  # SIM 2 removed
        assert answer.json()["retired"] == [SIM_2]
        assert await PhoneNumber.get(e164=SIM_2).values_list("state", flat=True) == "retired"

        user = await api.funded_user("5.00")
        assert (await api.bought(user, "KZ", "tg"))["phoneNumber"] == SIM_1
        refused = await api.buy(user, "KZ", "tg")
        assert [e["code"] for e in refused["errors"]] == ["NO_NUMBERS"]

        # Put back (into another slot): sold again.
        assert (await phone.app_started((1, SIM_1), (2, None), (3, SIM_2))).json()["added"] == [
            SIM_2
        ]
        assert (await api.bought(user, "KZ", "tg"))["phoneNumber"] == SIM_2


async def test_another_suppliers_number_and_an_unplaceable_one_are_refused(api: Api) -> None:
    supplier, key = await gateway_supplier()
    phone = AndroidGateway(api.client, supplier.code, key)
    demo_number = await PhoneNumber.filter(supplier__code=demo.CODE).first()
    assert demo_number is not None
    answer = await phone.app_started((1, demo_number.e164), (2, "+6767712345"))
    assert answer.status_code == 200
    assert answer.json()["refused"] == [demo_number.e164, "+6767712345"]
    assert await stored_state(supplier) == (0, [])
    assert (await PhoneNumber.get(id=demo_number.id)).supplier_id != supplier.id


async def test_forged_stale_or_unsigned_events_are_refused_and_change_nothing(api: Api) -> None:
    supplier, key = await gateway_supplier()
    phone = AndroidGateway(api.client, supplier.code, key)
    before = await stored_state(supplier)
    sms = phone.sms("Telegram code: 99999", recipient="+77050000002")
    stale = str(int(datetime.now(UTC).timestamp()) - 301)
    attempts = [
        await phone.send("sms:received", sms, key="not-the-key"),
        await phone.send("sms:received", sms, timestamp=stale),
        await phone.send("sms:received", sms, timestamp="1e9"),
        await phone.send(
            "app:started", {"simCards": [{"simNumber": 1, "phoneNumber": SIM_1}]}, key=key[::-1]
        ),
        await api.client.post(phone.path, json={"event": "sms:received"}),
    ]
    assert [a.status_code for a in attempts] == [401] * 5
    assert await stored_state(supplier) == before


async def test_malformed_events_answer_400_and_change_nothing(api: Api) -> None:
    supplier, key = await gateway_supplier()
    phone = AndroidGateway(api.client, supplier.code, key)
    before = await stored_state(supplier)
    good = phone.sms("Telegram code: 31337", recipient="+77050000003")
    cases = {
        "not JSON": b"{not json",
        "deeply nested": b"[" * 5000 + b"]" * 5000,
    }
    answers = [await phone.send("sms:received", {}, body=body) for body in cases.values()]
    for payload in (
        {**good, "message": None},
        {**good, "message": "x" * 2001},
        {**good, "receivedAt": "2026-11-30T10:00:00"},  # no offset: the phone's zone is unknown
        {**good, "receivedAt": "yesterday"},
        {**good, "simNumber": "1"},
        {k: v for k, v in good.items() if k != "messageId"},
    ):
        answers.append(await phone.send("sms:received", payload))
    answers.append(await phone.send("app:started", {"simCards": [{"phoneNumber": SIM_1}]}))
    answers.append(await phone.send("app:started", {"simCards": "all of them"}))
    assert [a.status_code for a in answers] == [400] * len(answers)
    assert all("error" in a.json() for a in answers)
    assert await stored_state(supplier) == before


async def test_pings_and_other_events_are_acknowledged(api: Api) -> None:
    supplier, key = await gateway_supplier()
    phone = AndroidGateway(api.client, supplier.code, key)
    assert (await phone.send("system:ping", {}, key="forged")).status_code == 401
    assert (await Supplier.get(id=supplier.id)).last_contact_at is None
    assert (await phone.ping()).json() == {"status": "ok"}
    assert (await Supplier.get(id=supplier.id)).last_contact_at is not None  # lastContactAt
    assert (await phone.send("sms:delivered", {"messageId": "x"})).json() == {"status": "ignored"}
    assert await stored_state(supplier) == (0, [])


async def test_an_unknown_or_disabled_supplier_is_not_found(api: Api) -> None:
    supplier, key = await gateway_supplier()
    supplier.state = SupplierState.DISABLED
    await supplier.save(update_fields=["state"])
    phone = AndroidGateway(api.client, supplier.code, key)
    assert (await phone.ping()).status_code == 404
    assert (await AndroidGateway(api.client, "no-such-phone", key).ping()).status_code == 404
