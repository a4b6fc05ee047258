"""The live code feed (`activationEvents`) through real subscription clients, on both pairs."""

from __future__ import annotations

import asyncio

import pytest

from services import clock
from tests import live
from tests.api import Api


async def test_code_is_pushed_the_moment_it_arrives(api: Api) -> None:
    user = await api.funded_user()
    activation = await api.bought(user)
    async with live.events(api.server.url, user.token, activationId=activation["id"]) as feed:
        await asyncio.sleep(0.2)  # the subscription is live once its first read has run
        await api.deliver_sms(activation["phoneNumber"], "Telegram code: 55123. Do not share")
        sms, status = await feed.take(2)
    assert sms["kind"] == "SMS_RECEIVED"
    assert sms["sms"]["code"] == "55123"
    assert status["kind"] == "STATUS_CHANGED"
    assert status["activation"]["status"] == "RECEIVED"
    assert sms["cursor"] != status["cursor"]


@pytest.mark.parametrize("protocol", [live.TRANSPORT_WS, live.LEGACY_WS])
async def test_both_protocols_deliver(api: Api, protocol: str) -> None:
    user = await api.funded_user()
    activation = await api.bought(user)
    async with live.events(api.server.url, user.token, protocol, activationId=activation["id"]) as feed:
        await asyncio.sleep(0.2)
        await api.deliver_sms(activation["phoneNumber"], "Telegram code: 77001")
        event = await feed.next()
    assert event["sms"]["code"] == "77001"


async def test_replay_sends_stored_sms_first(api: Api) -> None:
    user = await api.funded_user()
    activation = await api.bought(user)
    await api.deliver_sms(activation["phoneNumber"], "Telegram code: 11111")
    await api.deliver_sms(activation["phoneNumber"], "Telegram code: 22222")
    async with live.events(api.server.url, user.token, activationId=activation["id"]) as feed:
        replayed = await feed.take(2)
        assert [e["sms"]["code"] for e in replayed] == ["11111", "22222"]
        assert await feed.nothing_more()
        await api.deliver_sms(activation["phoneNumber"], "Telegram code: 33333")
        live_event = await feed.next()
    assert live_event["sms"]["code"] == "33333"


async def test_resume_after_cursor_sends_what_was_missed_once(api: Api) -> None:
    user = await api.funded_user()
    first = await api.bought(user)
    async with live.events(api.server.url, user.token) as feed:
        await asyncio.sleep(0.2)
        await api.deliver_sms(first["phoneNumber"], "Telegram code: 40001")
        seen = await feed.take(2)  # SMS_RECEIVED, STATUS_CHANGED
    cursor = seen[0]["cursor"]  # resume from the middle: the status change is "missed" too
    # While disconnected: another SMS, and a new purchase that gets cancelled.
    await api.deliver_sms(first["phoneNumber"], "Telegram code: 40002")
    second = await api.bought(user, "US", "wa")
    await api.act(user, "cancelActivation", second["id"])
    async with live.events(api.server.url, user.token, after=cursor) as feed:
        missed = await feed.take(4)
        assert await feed.nothing_more()
    assert [(e["kind"], e["activation"]["id"], e["activation"]["status"]) for e in missed] == [
        ("STATUS_CHANGED", first["id"], "RECEIVED"),
        ("SMS_RECEIVED", first["id"], "RECEIVED"),
        ("STATUS_CHANGED", second["id"], "WAITING_SMS"),
        ("STATUS_CHANGED", second["id"], "CANCELLED"),
    ]
    assert missed[1]["sms"]["code"] == "40002"
