"""R14: maintenance mode. While on, every mutation but an admin's answers MAINTENANCE with the
operator's message, over GraphQL and the compatible API, and changes nothing; queries, live
feeds and suppliers' SMS keep working; /readyz says so. The state lives in the database, so
another process sees it too.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from models import Activation
from tests import backends, live
from tests.api import Api
from tests.compat_helpers import ask, new_bot
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, running, settings_for
from tests.operator_helpers import MAINTENANCE, set_maintenance
from tests.snapshot import snapshot

pytestmark = pytest.mark.usefixtures("maintenance_ends", "many_requests_per_key")
MESSAGE = "Upgrading the database; back at 14:00 UTC."
BUY = 'mutation { buyNumber(country: "GB", service: "tg") { activation { id } errors { code } } }'
CANCEL = "mutation($id: ID!) { cancelActivation(id: $id) { errors { code } } }"
REGISTER = (
    'mutation { register(email: "during-maintenance@example.com", password: "correct horse 1")'
    " { token } }"
)


def refused_for_maintenance(answer: dict[str, Any]) -> bool:
    return answer == {
        "data": None,
        "errors": [{"message": MESSAGE, "extensions": {"code": "MAINTENANCE"}}],
    }


async def test_r14_mutations_are_refused_with_the_message_and_change_nothing(api: Api) -> None:
    admin = await api.admin_token()
    bot = await new_bot(api, "5.00")
    user = bot.user
    waiting = await api.bought(user)
    turned = await set_maintenance(api, admin, True, MESSAGE)
    assert turned["data"]["setMaintenance"] == {
        "maintenance": {"on": True, "message": MESSAGE},
        "errors": [],
    }
    before = await snapshot(user)

    assert refused_for_maintenance(await api.post(BUY, token=user.token))
    assert refused_for_maintenance(await api.post(CANCEL, {"id": waiting["id"]}, token=user.token))
    assert refused_for_maintenance(await api.post("mutation { logout }", token=user.token))
    assert refused_for_maintenance(await api.post(REGISTER))
    refused_login = await api.login(user.email, "correct horse 1")
    assert refused_login["errors"] == [{"code": "MAINTENANCE", "message": MESSAGE, "field": None}]
    # The compatible API: what changes something answers the protocol's NO_CONNECTION.
    assert await ask(api, bot, "getNumber", service="tg", country="16") == "NO_CONNECTION"
    assert await ask(api, bot, "setStatus", id=waiting["id"], status="8") == "NO_CONNECTION"
    assert await snapshot(user) == before

    # Queries keep working, for everybody.
    assert await api.gql(MAINTENANCE) == {"maintenance": {"on": True, "message": MESSAGE}}
    left = Decimal("5.00") - Decimal(waiting["price"]["amount"])
    assert await api.balance(user) == str(left)
    assert await ask(api, bot, "getBalance") == f"ACCESS_BALANCE:{left}"
    assert await ask(api, bot, "getStatus", id=waiting["id"]) == "STATUS_WAIT_CODE"
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["maintenance"] == {"on": True, "message": MESSAGE}

    # An admin's mutations go through, sign-in included (the admin must be able to turn it off).
    assert (await api.login(ADMIN_EMAIL, ADMIN_PASSWORD))["errors"] == []
    await api.fund(user, "1.00", "goodwill during maintenance")
    assert await api.balance(user) == str(left + 1)
    turned_off = await set_maintenance(api, admin, False)
    assert turned_off["data"]["setMaintenance"] == {
        "maintenance": {"on": False, "message": None},
        "errors": [],
    }
    assert await api.gql(MAINTENANCE) == {"maintenance": {"on": False, "message": None}}
    assert (await api.buy(user))["errors"] == []
    assert await ask(api, bot, "setStatus", id=waiting["id"], status="8") == "ACCESS_CANCEL"


async def test_r14_without_a_message_the_refusal_says_it_is_maintenance(api: Api) -> None:
    user = await api.funded_user("1.00")
    await set_maintenance(api, await api.admin_token(), True)
    answer = await api.post(BUY, token=user.token)
    [error] = answer["errors"]
    assert error["extensions"] == {"code": "MAINTENANCE"}
    assert "maintenance" in error["message"]


async def test_r14_live_feeds_and_supplier_sms_keep_working(api: Api) -> None:
    user = await api.funded_user("5.00")
    activation = await api.bought(user)
    async with live.events(api.server.url, user.token, activationId=activation["id"]) as feed:
        await live.wait_subscribed(api.rt.bus, user.id)
        await set_maintenance(api, await api.admin_token(), True, MESSAGE)
        delivered = await api.deliver_sms(activation["phoneNumber"], "Telegram code: 55123")
        assert delivered.json() == {"status": "delivered"}
        sms, status = await feed.take(2)
    assert sms["sms"]["code"] == "55123"
    assert status["activation"]["status"] == "RECEIVED"
    assert (await Activation.get(id=int(activation["id"]))).code == "55123"


async def test_r14_an_empty_message_is_refused_and_nothing_changes(api: Api) -> None:
    answer = await set_maintenance(api, await api.admin_token(), True, "   ")
    assert [e["code"] for e in answer["data"]["setMaintenance"]["errors"]] == ["INVALID_INPUT"]
    assert await api.gql(MAINTENANCE) == {"maintenance": {"on": False, "message": None}}


@pytest.mark.backends("postgres")
async def test_r14_another_process_sees_maintenance(api: Api, backend: backends.Backend) -> None:
    """The switch is in the database: a second app on it refuses mutations too (it trusts its
    copy for MAINTENANCE_CACHE_SECONDS; 0 here, so that the test need not wait)."""
    user = await api.funded_user("5.00")
    second_settings = settings_for(backend, maintenance_cache_seconds=0.0)
    async with (
        running(second_settings) as second,
        httpx.AsyncClient(base_url=second.url, timeout=30) as client,
    ):
        other = Api(client, second)
        assert (await other.buy(user))["errors"] == []
        await set_maintenance(api, await api.admin_token(), True, MESSAGE)
        assert refused_for_maintenance(await other.post(BUY, token=user.token))
        await set_maintenance(api, await api.admin_token(), False)
        assert (await other.buy(user))["errors"] == []
