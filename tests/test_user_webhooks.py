"""Users' SMS webhooks (issue 13): setSmsWebhook, the signed POST with sms-activate's body, the
retries through the outbox, the delivery log, and the SSRF rules. The receiver is a real HTTP
server on loopback (tests/webhook_receiver.py), so these tests set WEBHOOKS_ALLOW_PRIVATE but
the one that checks the refusals."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from herosms import WebhookSMSIncoming
from pydantic import ConfigDict

from models import Country, DeliveryStatus, OutboxMessage, SmsWebhook, WebhookDelivery
from services import user_webhooks
from settings import Settings
from suppliers.signature import verify
from tests import compat_helpers
from tests.activation_helpers import code_sms
from tests.api import Api, User
from tests.webhook_receiver import WAIT_SECONDS, Received, Receiver, receiving

SET = "mutation($url: String) { setSmsWebhook(url: $url) { url secret errors { code field } } }"
DELIVERIES = (
    "{ webhookDeliveries { id activationId idempotencyKey status attempts lastError "
    "lastStatusCode responseExcerpt nextAttemptAt deliveredAt } "
    "me { smsWebhook { url lastDeliveries(first: 1) { status } } } }"
)


class SmsIncoming(WebhookSMSIncoming):
    """herosms's model of the body. herosms 0.1.1 types activationId as a string where
    sms-activate (and the issue, and our compatible API's JSON) send a number; its users
    parse with numbers taken as strings, as here."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", coerce_numbers_to_str=True)


@pytest.fixture
def local_receivers(override_settings: Callable[..., Settings]) -> Settings:
    """Receivers on loopback allowed, and quick retries."""
    return override_settings(
        webhooks_allow_private=True, outbox_backoff_base_seconds=0.05, outbox_poll_seconds=0.05
    )


async def set_webhook(api: Api, user: User, url: str | None) -> dict[str, Any]:
    data = await api.gql(SET, {"url": url}, token=user.token, ip=user.ip)
    return data["setSmsWebhook"]  # type: ignore[no-any-return]


async def webhook_user(api: Api, url: str) -> tuple[User, str]:
    user = await api.funded_user("50.00")
    answer = await set_webhook(api, user, url)
    assert (answer["errors"], answer["url"]) == ([], url), answer
    return user, answer["secret"]


async def sms_to_new_activation(api: Api, user: User, code: str) -> dict[str, Any]:
    activation = await api.bought(user, "GB", "tg")
    await code_sms(api, activation["phoneNumber"], code)
    return activation


async def delivery_when(activation_id: str, done: Callable[[WebhookDelivery], bool]) -> Any:
    """The activation's delivery row once `done` holds for it (polled, bounded)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        row = await WebhookDelivery.get_or_none(activation_id=int(activation_id))
        if row is not None and done(row):
            return row
        await asyncio.sleep(0.02)
    raise AssertionError(f"no delivery of activation {activation_id} reached the state wanted")


def assert_signed(received: Received, secret: str) -> None:
    header = received.headers["x-signature"]
    assert verify(secret, received.body, header, now=time.time(), tolerance=300), header


async def test_sms_is_pushed_at_once_with_sms_activates_body_signed(
    api: Api, local_receivers: Settings, override_settings: Callable[..., Settings]
) -> None:
    async with receiving(Receiver()) as receiver:
        user, secret = await webhook_user(api, receiver.url)
        # Polling only once a minute: the POST can only come from the wake-up after the commit.
        override_settings(outbox_poll_seconds=60.0)
        activation = await sms_to_new_activation(api, user, "48213")
        received = await receiver.next()

    assert_signed(received, secret)
    assert not verify(
        "another-secret",
        received.body,
        received.headers["x-signature"],
        now=time.time(),
        tolerance=300,
    )
    body = received.json
    country = await Country.get(code="GB")
    assert body["activationId"] == int(activation["id"])
    assert (body["service"], body["code"], body["country"]) == ("tg", "48213", country.compat_id)
    assert body["text"].startswith("Telegram code: 48213")
    assert isinstance(body["country"], int)
    assert isinstance(body["activationId"], int)
    datetime.strptime(body["receivedAt"], "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007 (UTC, as written)
    assert set(body) == {"activationId", "service", "text", "code", "country", "receivedAt"}
    parsed = SmsIncoming.model_validate_json(received.body)
    assert (parsed.activation_id, parsed.code, parsed.country) == (
        activation["id"],
        "48213",
        country.compat_id,
    )
    assert received.headers["content-type"] == "application/json"

    row = await delivery_when(activation["id"], lambda d: d.status == DeliveryStatus.DELIVERED)
    assert received.headers["idempotency-key"] == row.idempotency_key
    assert (row.attempts, row.last_status_code, row.response_excerpt) == (1, 200, "ok")
    data = await api.gql(DELIVERIES, token=user.token)
    [shown] = data["webhookDeliveries"]
    assert shown["status"] == "DELIVERED"
    assert shown["attempts"] == 1
    assert shown["idempotencyKey"] == row.idempotency_key
    assert shown["nextAttemptAt"] is None
    assert data["me"]["smsWebhook"] == {
        "url": receiver.url,
        "lastDeliveries": [{"status": "DELIVERED"}],
    }


async def test_a_receiver_failing_twice_gets_the_sms_three_times(
    api: Api, local_receivers: Settings
) -> None:
    async with receiving(Receiver(statuses=[500, 500])) as receiver:
        user, secret = await webhook_user(api, receiver.url)
        activation = await sms_to_new_activation(api, user, "90125")
        attempts = [await receiver.next() for _ in range(3)]
        row = await delivery_when(activation["id"], lambda d: d.status == DeliveryStatus.DELIVERED)

    assert len({a.headers["idempotency-key"] for a in attempts}) == 1
    assert len({a.body for a in attempts}) == 1
    for attempt in attempts:
        assert_signed(attempt, secret)
    assert (row.attempts, row.last_status_code, row.last_error) == (3, 200, None)
    assert receiver.received.empty()  # acknowledged: never sent again
    [shown] = (await api.gql(DELIVERIES, token=user.token))["webhookDeliveries"]
    assert (shown["status"], shown["attempts"]) == ("DELIVERED", 3)


async def test_a_failed_attempt_is_logged_with_its_next_attempt(
    api: Api, override_settings: Callable[..., Settings]
) -> None:
    override_settings(webhooks_allow_private=True, outbox_backoff_base_seconds=3600.0)
    async with receiving(Receiver(statuses=[503])) as receiver:
        user, _ = await webhook_user(api, receiver.url)
        activation = await sms_to_new_activation(api, user, "11111")
        await receiver.next()
        await delivery_when(activation["id"], lambda d: d.attempts == 1)
        for _ in range(100):  # the outbox records the retry just after the handler returns
            [shown] = (await api.gql(DELIVERIES, token=user.token))["webhookDeliveries"]
            if shown["nextAttemptAt"] is not None:
                break
            await asyncio.sleep(0.02)
    assert (shown["status"], shown["attempts"], shown["lastError"]) == ("PENDING", 1, "HTTP 503")
    assert shown["lastStatusCode"] == 503
    assert len(shown["responseExcerpt"]) == 200
    # The first backoff (an hour here) capped at OUTBOX_BACKOFF_MAX_SECONDS, less at most half
    # of it (jitter).
    cap = timedelta(seconds=api.rt.settings.outbox_backoff_max_seconds)
    wait = datetime.fromisoformat(shown["nextAttemptAt"]) - datetime.now(UTC)
    assert cap / 2 - timedelta(minutes=1) < wait <= cap


async def test_a_receiver_that_never_answers_holds_up_neither_ingest_nor_other_users(
    api: Api, local_receivers: Settings
) -> None:
    async with receiving(Receiver(silent=True)) as silent, receiving(Receiver()) as healthy:
        stuck_user, _ = await webhook_user(api, silent.url)
        other_user, _ = await webhook_user(api, healthy.url)
        await sms_to_new_activation(api, stuck_user, "22222")
        await silent.next()  # its POST is open, and stays so
        # Ingest of further SMS for that user answers while the receiver still has not.
        later = await sms_to_new_activation(api, stuck_user, "33333")
        seen = await api.activation(stuck_user, later["id"])
        assert seen is not None
        assert (seen["status"], seen["code"]) == ("RECEIVED", "33333")
        # Another user's SMS reaches their receiver meanwhile.
        other = await sms_to_new_activation(api, other_user, "44444")
        assert (await healthy.next()).json["activationId"] == int(other["id"])
        assert silent.answered == 0


async def test_private_addresses_are_refused_when_the_setting_is_off(
    api: Api, override_settings: Callable[..., Settings]
) -> None:
    override_settings(webhooks_allow_private=False)
    user = await api.funded_user("5.00")
    public = "https://hooks.example.com/sms"
    first = await set_webhook(api, user, public)
    assert first["errors"] == []
    assert first["secret"].startswith("whsec_")
    stored = await SmsWebhook.get(user_id=user.id)
    for url in (
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]:8443/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://100.64.0.1/hook",
        "https://localhost/hook",
        "http://hooks.example.com/sms",
        "ftp://hooks.example.com/sms",
        "https://user:pw@hooks.example.com/sms",
    ):
        answer = await set_webhook(api, user, url)
        refused = {
            "url": None,
            "secret": None,
            "errors": [{"code": "INVALID_INPUT", "field": "url"}],
        }
        assert answer == refused, url
    again = await SmsWebhook.get(user_id=user.id)
    assert (again.url, again.secret_sealed) == (public, stored.secret_sealed)


async def test_a_host_that_is_private_at_send_time_is_not_posted_to(
    api: Api, override_settings: Callable[..., Settings]
) -> None:
    override_settings(webhooks_allow_private=True)
    async with receiving(Receiver()) as receiver:
        user, _ = await webhook_user(api, receiver.url)  # allowed when set (development)
        override_settings(webhooks_allow_private=False, outbox_backoff_base_seconds=3600.0)
        activation = await sms_to_new_activation(api, user, "55555")
        row = await delivery_when(activation["id"], lambda d: d.attempts == 1)
        assert receiver.received.empty()
    assert row.status == DeliveryStatus.PENDING
    assert row.last_error.startswith("AddressRefused: 127.0.0.1"), row.last_error


async def test_rotating_and_removing_the_webhook(api: Api, local_receivers: Settings) -> None:
    async with receiving(Receiver()) as receiver:
        user, old_secret = await webhook_user(api, receiver.url)
        rotated = await set_webhook(api, user, receiver.url)
        assert rotated["secret"] != old_secret
        await sms_to_new_activation(api, user, "66666")
        received = await receiver.next()
        assert_signed(received, rotated["secret"])
        assert not verify(
            old_secret,
            received.body,
            received.headers["x-signature"],
            now=time.time(),
            tolerance=300,
        )

        off = await set_webhook(api, user, None)
        assert off == {"url": None, "secret": None, "errors": []}
        quiet = await sms_to_new_activation(api, user, "77777")
        seen = await api.activation(user, quiet["id"])
        assert seen is not None
        assert seen["code"] == "77777"
    assert not await WebhookDelivery.exists(activation_id=int(quiet["id"]))
    assert (await api.gql(DELIVERIES, token=user.token))["me"]["smsWebhook"] is None


async def test_a_number_bought_through_the_compatible_api_pushes_to_the_same_webhook(
    api: Api, local_receivers: Settings, many_requests_per_key: None
) -> None:
    async with receiving(Receiver()) as receiver:
        bot = await compat_helpers.new_bot(api)
        answer = await set_webhook(api, bot.user, receiver.url)
        activation_id, digits = await compat_helpers.bought(api, bot, country="16")
        await compat_helpers.deliver(api, digits, "80808")
        received = await receiver.next()
    assert_signed(received, answer["secret"])
    body = received.json
    assert (body["activationId"], body["code"], body["country"]) == (activation_id, "80808", 16)


async def test_a_burst_of_sms_is_each_posted_once_and_each_recorded_delivered(
    api: Api, local_receivers: Settings
) -> None:
    """Many POSTs delivered at once (on PostgreSQL their outcomes are written a batch at a
    time, services/webhook_acks.py): every delivery and its outbox message end recorded."""
    async with receiving(Receiver()) as receiver:
        users = [await webhook_user(api, receiver.url) for _ in range(3)]
        activations = [await api.bought(user, "GB", "tg") for user, _ in users for _ in range(8)]
        codes = [f"{70000 + i}" for i in range(len(activations))]
        await asyncio.gather(
            *(code_sms(api, a["phoneNumber"], c) for a, c in zip(activations, codes, strict=True))
        )
        received = [await receiver.next() for _ in activations]
        rows = [
            await delivery_when(a["id"], lambda d: d.status == DeliveryStatus.DELIVERED)
            for a in activations
        ]

    expected = {(int(a["id"]), c) for a, c in zip(activations, codes, strict=True)}
    assert {(r.json["activationId"], r.json["code"]) for r in received} == expected
    assert receiver.received.empty()  # each once
    assert {(row.attempts, row.last_status_code) for row in rows} == {(1, 200)}
    messages = {
        json.loads(m.payload)["delivery"]: m
        for m in await OutboxMessage.filter(kind=user_webhooks.KIND)
    }
    for row in rows:
        message = messages[row.id]
        assert message.sent_at is not None
        assert (message.claim_token, message.claimed_until, message.attempts) == (None, None, 1)


async def test_an_answer_with_a_nul_byte_is_recorded_with_it_replaced(
    api: Api, local_receivers: Settings
) -> None:
    """PostgreSQL's text refuses NUL: a receiver's 2xx excerpt holding one is stored with it
    replaced, and the delivery (and any written with it) recorded as delivered."""
    async with receiving(Receiver(body="ok\x00then")) as receiver:
        user, _ = await webhook_user(api, receiver.url)
        activation = await sms_to_new_activation(api, user, "61616")
        await receiver.next()
        row = await delivery_when(activation["id"], lambda d: d.status == DeliveryStatus.DELIVERED)
    assert (row.attempts, row.response_excerpt) == (1, "ok\ufffdthen")
