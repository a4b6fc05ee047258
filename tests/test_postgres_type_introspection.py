"""The app's SQL on PostgreSQL uses no type asyncpg must introspect (services/db.py text_array).

asyncpg decodes `text[]` and `oid[]` by itself; any other array type among a statement's
parameters or results makes it run a recursive catalog query (between two JIT toggles) on each
new connection. When the pool grew under load, every new connection paid it at once and the
feed's reads stalled behind them (issue 11, ADR 0021). Every test is watched for that by the
`introspected` fixture (tests/conftest.py); this one runs the statements that once did it, and
checks that the watch is not dead."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from tortoise import connections

from models import ActivationStatus, DeliveryStatus, WebhookDelivery
from settings import Settings
from tests.activation_helpers import code_sms, wait_for_status
from tests.api import Api
from tests.test_user_webhooks import webhook_user
from tests.webhook_receiver import WAIT_SECONDS, Receiver, receiving

pytestmark = pytest.mark.backends("postgres")


async def all_delivered(activation_id: int, count: int) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    statuses: list[str] = []
    while time.monotonic() < deadline:
        statuses = list(
            await WebhookDelivery.filter(activation_id=activation_id).values_list(
                "status", flat=True
            )
        )
        if statuses == [DeliveryStatus.DELIVERED] * count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"deliveries of activation {activation_id}: {statuses}")


async def test_buying_codes_webhooks_and_cancelling_introspect_no_type(
    api: Api,
    introspected: list[list[int]],
    override_settings: Callable[..., Settings],
) -> None:
    override_settings(webhooks_allow_private=True)
    async with receiving(Receiver()) as receiver:
        user, _ = await webhook_user(api, receiver.url)
        activation = await api.bought(user)
        await code_sms(api, activation["phoneNumber"], "48213")  # the first code: captured
        await code_sms(api, activation["phoneNumber"], "51972")  # a further SMS
        await receiver.next()
        await receiver.next()
        await all_delivered(int(activation["id"]), count=2)  # the acknowledgements written
    await wait_for_status(activation["id"], ActivationStatus.RECEIVED)
    other = await api.bought(user)
    assert (await api.act(user, "cancelActivation", other["id"]))["errors"] == []
    assert introspected == [], "a statement made asyncpg introspect types (OIDs above)"

    # The watch sees what it must: a bigint[] result, on a connection that never decoded one.
    await connections.get("default").execute_query("SELECT ARRAY[1::bigint] AS a")
    assert introspected == [[1016]]
    introspected.clear()  # made on purpose
