"""The whole flow once, on both backend pairs: register, fund, buy, code arrives, history."""

from __future__ import annotations

from tests.api import Api


async def test_health_and_readiness(api: Api) -> None:
    assert (await api.client.get("/healthz")).status_code == 200
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {
        "status": "ready",
        "database": "ok",
        "event_bus": "ok",
        "maintenance": {"on": False, "message": None},  # R14
    }
    metrics = await api.client.get("/metrics")
    assert "smsrooms_http_requests_total" in metrics.text


async def test_buy_receive_code_and_history(api: Api) -> None:
    user = await api.funded_user("5.00")
    activation = await api.bought(user, "GB", "tg")
    assert activation["status"] == "WAITING_SMS"
    price = activation["price"]["amount"]

    response = await api.deliver_sms(activation["phoneNumber"], "Telegram code: 48213. Do not give")
    assert response.json() == {"status": "delivered"}

    seen = await api.activation(user, activation["id"])
    assert seen is not None
    assert seen["status"] == "RECEIVED"
    assert seen["code"] == "48213"
    assert [m["code"] for m in seen["messages"]] == ["48213"]
    data = await api.gql(
        "{ transactions { edges { node { kind amount { amount } balanceAfter { amount }"
        " activationId } } } }",
        token=user.token,
    )
    kinds = [
        (e["node"]["kind"], e["node"]["amount"]["amount"]) for e in data["transactions"]["edges"]
    ]
    assert kinds == [("PURCHASE", f"-{price}"), ("ADJUSTMENT", "5.00")]


async def test_ledger_audit_is_clean_after_the_flow(api: Api, ledger_is_consistent: None) -> None:
    user = await api.funded_user("1.00")
    activation = await api.bought(user, "US", "wa")
    cancelled = await api.act(user, "cancelActivation", activation["id"])
    assert cancelled["activation"]["refunded"] is True
    assert await api.balance(user) == "1.00"
