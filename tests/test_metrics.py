"""/metrics business counters (issue 12): purchases, codes, refunds, top-ups, supplier errors
and latencies, websocket connections and the outbox depth, read as Prometheus text through the
endpoint, before and after the operations they count."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.api import Api
from tests.payments import paid_user
from tests.test_pricing import fresh_offer
from tests.test_suppliers_routing import Make
from tests.test_suppliers_routing import upstreams as upstreams  # the fixture

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def samples(api: Api) -> Samples:
    response = await api.client.get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def rise(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_purchases_codes_refunds_and_top_ups_are_counted(api: Api) -> None:
    country, service = await fresh_offer(numbers=2)
    before = await samples(api)
    buyer = await paid_user(api, "1.00")  # a demo processor top-up
    coded = await api.bought(buyer, country, service)
    cancelled = await api.bought(buyer, country, service)
    response = await api.deliver_sms(coded["phoneNumber"], "Your code: 123456", sender=service)
    assert response.status_code == 200
    assert (await api.act(buyer, "cancelActivation", cancelled["id"]))["errors"] == []
    after = await samples(api)
    assert rise(before, after, "smsrooms_purchases_total") == 2
    assert rise(before, after, "smsrooms_codes_total") == 1
    assert rise(before, after, "smsrooms_refunds_total", status="CANCELLED") == 1
    assert rise(before, after, "smsrooms_top_ups_total", provider="demo") == 1
    assert rise(before, after, "smsrooms_top_up_minor_total", provider="demo") == 100
    assert ("smsrooms_outbox_depth", ()) in after
    assert ("smsrooms_websocket_connections", ()) in after


async def test_supplier_errors_and_latencies_are_counted(api: Api, upstreams: Make) -> None:
    broken = await upstreams("0.01", "error")
    before = await samples(api)
    await api.bought(await api.funded_user(), "GB", "tg")
    after = await samples(api)
    code = broken.code
    assert rise(before, after, "smsrooms_supplier_errors_total", supplier=code, reason="error") == 1
    assert rise(before, after, "smsrooms_supplier_acquire_seconds_count", supplier=code) == 1
