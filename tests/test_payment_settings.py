"""The payment settings take effect when a server starts from an environment that sets them
(as tests/test_settings.py does for the others)."""

from __future__ import annotations

import httpx
import pytest

from settings import Settings
from tests import backends, payments
from tests.api import Api
from tests.conftest import Processors, running
from tests.standins import nowpayments_api, stripe_api
from tests.test_settings import environment, settings_from


def test_demo_payments_follow_the_demo_supplier_unless_set() -> None:
    assert settings_from({"DEMO_SUPPLIER": "off"}).demo_payments is False
    assert settings_from({}).demo_payments is True
    assert settings_from({"DEMO_SUPPLIER": "off", "DEMO_PAYMENTS": "on"}).demo_payments is True
    with pytest.raises(ValueError, match="STRIPE_WEBHOOK_SECRET"):
        settings_from({"STRIPE_API_KEY": "sk_live_x"})
    with pytest.raises(ValueError, match="TOP_UP_MIN_MINOR"):
        settings_from({"TOP_UP_MIN_MINOR": "0"})


@pytest.mark.backends("sqlite")
async def test_processors_and_amounts_come_from_the_environment(
    backend: backends.Backend,
    tmp_path_factory: pytest.TempPathFactory,
    standins: tuple[Processors, str],
) -> None:
    _, base = standins
    url = f"sqlite://{tmp_path_factory.mktemp('payments') / 'db.sqlite3'}"
    env = environment(
        backend,
        url,
        DEMO_PAYMENTS="off",
        STRIPE_API_KEY=stripe_api.API_KEY,
        STRIPE_WEBHOOK_SECRET=stripe_api.WEBHOOK_SECRET,
        STRIPE_API_BASE=f"{base}/stripe",
        NOWPAYMENTS_API_KEY=nowpayments_api.API_KEY,
        NOWPAYMENTS_IPN_SECRET=nowpayments_api.IPN_SECRET,
        NOWPAYMENTS_API_BASE=f"{base}/np/v1",
        TOP_UP_MIN_MINOR="500",
        TOP_UP_MAX_MINOR="5000",
        PUBLIC_URL="https://shop.example",
    )
    settings: Settings = settings_from(env)
    async with (
        running(settings) as server,
        httpx.AsyncClient(base_url=server.url, timeout=30) as client,
    ):
        api = Api(client, server)
        listed = await api.gql(
            "{ paymentProviders { code minAmount { amount } maxAmount { amount } } }"
        )
        assert listed["paymentProviders"] == [
            {"code": code, "minAmount": {"amount": "5.00"}, "maxAmount": {"amount": "50.00"}}
            for code in ("stripe", "nowpayments")
        ]
        user = await api.register()
        refused = await payments.create_top_up(api, user, "5.00", "demo")
        assert [e["code"] for e in refused["errors"]] == ["PAYMENT_PROVIDER_UNAVAILABLE"]
        too_much = await payments.create_top_up(api, user, "50.01", "stripe")
        assert [e["code"] for e in too_much["errors"]] == ["AMOUNT_OUT_OF_RANGE"]
        crypto = await payments.started(api, user, "20.00", "nowpayments")
        with server.runtime.database.activate():  # this app's database, not the suite's
            reference = (await payments.stored(crypto)).reference or ""
        invoice = standins[0].nowpayments.invoices[reference]
        assert invoice["ipn_callback_url"] == "https://shop.example/payments/nowpayments/webhook"
        assert (await client.get("/payments/demo/checkout/demo_x")).status_code == 404
