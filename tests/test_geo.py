"""R11: sign-up and purchase are refused from IPs in the sanctioned territories."""

from __future__ import annotations

from models import Activation, User
from services import ledger
from tests.api import Api

IRAN = "2.176.0.1"  # delegated to Iran (RIPE); sent as X-Forwarded-For, which uvicorn trusts
ELSEWHERE = "8.8.8.8"


async def test_r11_sign_up_from_a_sanctioned_country_is_refused(api: Api) -> None:
    users = await User.all().count()
    data = await api.gql(
        'mutation { register(email: "r11-signup@example.com", password: "long enough 1")'
        " { token errors { code } } }",
        ip=IRAN,
    )
    assert data["register"] == {"token": None, "errors": [{"code": "COUNTRY_UNAVAILABLE"}]}
    assert await User.all().count() == users


async def test_r11_purchase_from_a_sanctioned_country_is_refused(api: Api) -> None:
    user = await api.funded_user("2.00")
    activations = await Activation.filter(user_id=user.id).count()
    user.ip = IRAN
    refused = await api.buy(user, "GB", "tg")
    assert refused["activation"] is None
    assert [e["code"] for e in refused["errors"]] == ["COUNTRY_UNAVAILABLE"]
    assert await ledger.balance_minor(user.id) == 200
    assert await Activation.filter(user_id=user.id).count() == activations
    user.ip = ELSEWHERE
    assert (await api.buy(user, "GB", "tg"))["errors"] == []
