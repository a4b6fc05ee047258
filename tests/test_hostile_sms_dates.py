"""A supplier's `receivedAt` cannot move an SMS into an activation's life (issue 10, R2).

A signed SMS dated year 0001 captured a live activation's hold. Now an SMS older than the
activation is stored for audit and not delivered; a date beyond the clock skew the signature
tolerates (WEBHOOK_TOLERANCE_SECONDS) is clamped to the moment the webhook arrived; a date
that has no UTC equivalent is refused with 400.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from models import Sms, Supplier
from tests.android_gateway import AndroidGateway
from tests.api import Api, User
from tests.server_log import ServerLog
from tests.snapshot import snapshot
from tests.test_sms_webhook import assert_still_waiting, live_activation, recorded, send
from tests.test_supplier_android import gateway_supplier


def iso(moment: datetime) -> str:
    return moment.isoformat()


async def sent_dated(api: Api, activation: dict[str, Any], received_at: str) -> Any:
    payload = recorded("telegram_code.json", activation["phoneNumber"], receivedAt=received_at)
    response = await send(api, payload)
    return response, payload["id"]


async def delivered_at(api: Api, user: User, activation: dict[str, Any]) -> datetime:
    """The receivedAt of the one SMS the user sees on the activation, which got its code."""
    seen = await api.activation(user, activation["id"])
    assert seen is not None
    assert (seen["status"], seen["code"]) == ("RECEIVED", "48213")
    [message] = seen["messages"]
    return datetime.fromisoformat(message["receivedAt"])


@pytest.mark.parametrize(
    "when",
    [
        "0001-01-01T00:00:00Z",
        "1970-01-01T00:00:00+00:00",
        "a second before the purchase",
    ],
)
async def test_r2_sms_older_than_the_activation_is_stored_not_delivered(
    api: Api, server_log: ServerLog, ledger_is_consistent: None, when: str
) -> None:
    user, activation = await live_activation(api)
    before = await snapshot(user)
    if when == "a second before the purchase":
        when = iso(datetime.fromisoformat(activation["createdAt"]) - timedelta(seconds=1))
    response, message_id = await sent_dated(api, activation, when)
    assert (response.status_code, response.json()) == (200, {"status": "stored"})
    [row] = await Sms.filter(supplier_message_id=message_id)
    assert row.activation_id is None
    assert row.received_at == datetime.fromisoformat(when.replace("Z", "+00:00"))
    await assert_still_waiting(api, user, activation)
    assert await snapshot(user) == before
    assert server_log.errors() == []


async def test_sms_dated_within_the_clock_skew_is_delivered_as_dated(
    api: Api, server_log: ServerLog
) -> None:
    user, activation = await live_activation(api)
    ahead = api.rt.clock.now().replace(microsecond=0) + timedelta(seconds=60)
    response, _ = await sent_dated(api, activation, iso(ahead))
    assert (response.status_code, response.json()) == (200, {"status": "delivered"})
    assert await delivered_at(api, user, activation) == ahead
    assert server_log.errors() == []


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59Z", "far ahead of the skew"])
async def test_sms_dated_beyond_the_clock_skew_is_delivered_dated_now(
    api: Api, server_log: ServerLog, when: str
) -> None:
    user, activation = await live_activation(api)
    if when == "far ahead of the skew":
        skew = api.server.settings.webhook_tolerance_seconds
        when = iso(api.rt.clock.now() + timedelta(seconds=skew + 60))
    sent_at = api.rt.clock.now()
    response, _ = await sent_dated(api, activation, when)
    assert (response.status_code, response.json()) == (200, {"status": "delivered"})
    assert sent_at <= await delivered_at(api, user, activation) <= api.rt.clock.now()
    assert server_log.errors() == []


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
async def test_sms_date_with_no_utc_equivalent_is_400(
    api: Api, server_log: ServerLog, when: str
) -> None:
    user, activation = await live_activation(api)
    before, sms_before = await snapshot(user), await Sms.all().count()
    response, _ = await sent_dated(api, activation, when)
    assert response.status_code == 400, response.text
    assert "receivedAt" in response.json()["error"]
    assert await Sms.all().count() == sms_before
    await assert_still_waiting(api, user, activation)
    assert await snapshot(user) == before
    assert server_log.errors() == []


# -- the Android gateway's sms:received takes the same path ------------------------------------
async def android_sms_dated(api: Api, received_at: str) -> tuple[Any, Supplier]:
    """An SMS to no known SIM (stored for the admins), dated `received_at` by the phone."""
    supplier, key = await gateway_supplier()
    phone = AndroidGateway(api.client, supplier.code, key)
    payload = phone.sms("Telegram code: 48213", slot=None) | {"receivedAt": received_at}
    return await phone.send("sms:received", payload), supplier


async def test_android_sms_dated_beyond_the_clock_skew_is_stored_dated_now(
    api: Api, server_log: ServerLog
) -> None:
    sent_at = api.rt.clock.now()
    response, supplier = await android_sms_dated(api, "9999-12-31T23:59:59Z")
    assert (response.status_code, response.json()) == (200, {"status": "stored"})
    [row] = await Sms.filter(supplier_id=supplier.id)
    assert sent_at <= row.received_at <= api.rt.clock.now()
    assert server_log.errors() == []


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
async def test_android_sms_date_with_no_utc_equivalent_is_400(
    api: Api, server_log: ServerLog, when: str
) -> None:
    response, supplier = await android_sms_dated(api, when)
    assert response.status_code == 400, response.text
    assert "receivedAt" in response.json()["error"]
    assert await Sms.filter(supplier_id=supplier.id).count() == 0
    assert server_log.errors() == []
