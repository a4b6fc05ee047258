"""The upstream client (issue 8, step 4; contract/suppliers.md, 3) against a real upstream: the
session's SMS Rooms server, through its sms-activate-compatible API, as a reseller would buy
from it; and against an upstream that misbehaves in every way one can (a small server here)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from suppliers.upstream import protocol
from suppliers.upstream.client import UpstreamClient
from suppliers.upstream.protocol import State, UpstreamError
from tests.api import Api
from tests.compat_helpers import HANDLER, new_bot
from tests.serving import served

GB, TG = 16, "tg"  # the protocol's United Kingdom, and Telegram


@pytest.fixture
async def upstream(api: Api) -> AsyncIterator[UpstreamClient]:
    """Our account at the upstream: a bot with 10.00 and an API key."""
    bot = await new_bot(api, "10.00")
    client = UpstreamClient(f"{api.server.url}{HANDLER}", bot.key, timeout_seconds=10)
    yield client
    await client.aclose()


async def test_a_purchase_from_the_upstream_from_offer_to_code_and_finish(
    api: Api, upstream: UpstreamClient
) -> None:
    assert await upstream.balance() == 1000
    offers = {(o.country_id, o.service): o for o in await upstream.prices(country=GB)}
    assert offers[(GB, TG)].count > 0
    assert offers[(GB, TG)].cost_minor > 0

    bought = await upstream.buy(TG, GB, deadline_seconds=5)
    assert bought.phone.startswith("+44")
    assert bought.cost_minor == offers[(GB, TG)].cost_minor
    assert await upstream.balance() == 1000 - bought.cost_minor
    assert (await upstream.status(bought.activation_id)).state == State.WAITING

    await api.deliver_sms(bought.phone, "Telegram code: 24680")
    assert await upstream.status(bought.activation_id) == protocol.Status(State.CODE, "24680")
    await upstream.set_status(bought.activation_id, 3)  # another SMS
    assert await upstream.status(bought.activation_id) == protocol.Status(
        State.WAITING_RETRY, "24680"
    )
    await upstream.set_status(bought.activation_id, 6)  # finished


async def test_a_cancelled_purchase_is_refunded_by_the_upstream(upstream: UpstreamClient) -> None:
    bought = await upstream.buy(TG, GB)
    await upstream.set_status(bought.activation_id, 8)
    assert (await upstream.status(bought.activation_id)).state == State.CANCELLED
    assert await upstream.balance() == 1000


async def test_the_upstreams_refusals_come_back_with_their_token(
    api: Api, upstream: UpstreamClient
) -> None:
    with pytest.raises(UpstreamError) as no_country:
        await upstream.buy(TG, 999)
    assert no_country.value.refusal == "WRONG_COUNTRY_ID"
    bought = await upstream.buy(TG, GB)
    await api.deliver_sms(bought.phone, "Telegram code: 11111")
    with pytest.raises(UpstreamError) as too_late:
        await upstream.set_status(bought.activation_id, 8)  # no cancel after a code
    assert too_late.value.refusal == "BAD_STATUS"
    wrong_key = UpstreamClient(f"{api.server.url}{HANDLER}", "not-a-key", timeout_seconds=5)
    with pytest.raises(UpstreamError) as bad_key:
        await wrong_key.balance()
    await wrong_key.aclose()
    assert bad_key.value.refusal == "BAD_KEY"


# -- an upstream that misbehaves --------------------------------------------------------------
ANSWERS: dict[str, tuple[int, bytes]] = {
    "html": (200, b"<html><body>502 Bad Gateway</body></html>"),
    "http-500": (500, b"ACCESS_BALANCE:5.00"),
    "unknown": (200, b"ACCESS_SOMETHING_NEW"),
    "garbage-json": (200, b'{"activationId": 1, "phoneNumber": "call me", "activationCost": 1}'),
    "json-list": (200, b"[1, 2, 3]"),
    "nested": (200, b"{" + b'"a":[' * 3000 + b"]" * 3000 + b"}"),
    "bad-cost": (200, b'{"activationId": 1, "phoneNumber": "447700900123", "activationCost": "x"}'),
    "negative": (200, b"ACCESS_BALANCE:-5.00"),
    "latin1": (200, "ACCESS_BALANCE:5.00 \u00e9".encode("latin-1")),
    "huge": (200, b"ACCESS_BALANCE:" + b"9" * (protocol.MAX_ANSWER + 10)),
}


@pytest.fixture(scope="module")
async def bad_upstream() -> AsyncIterator[str]:
    """Answers `ANSWERS[api_key]`; the key "silent" never answers."""

    async def handler(request: Request) -> Response:
        key = request.query_params.get("api_key", "")
        if key == "silent":
            await asyncio.sleep(3600)
        status, body = ANSWERS[key]
        return Response(body, status_code=status)

    app = Starlette(routes=[Route(HANDLER, handler)])
    async with served(app, cut_open_requests=True) as (url, _):
        yield url + HANDLER


@pytest.mark.parametrize("behaviour", sorted(ANSWERS))
async def test_every_odd_answer_is_a_failure_never_a_success(
    bad_upstream: str, behaviour: str
) -> None:
    client = UpstreamClient(bad_upstream, behaviour, timeout_seconds=5)
    try:
        with pytest.raises(UpstreamError) as balance:
            await client.balance()
        with pytest.raises(UpstreamError) as bought:
            await client.buy(TG, GB)
    finally:
        await client.aclose()
    assert balance.value.refusal is None
    assert bought.value.refusal is None


async def test_a_silent_upstream_costs_a_purchase_its_deadline_only(bad_upstream: str) -> None:
    client = UpstreamClient(bad_upstream, "silent", timeout_seconds=60)
    try:
        with pytest.raises(UpstreamError, match="in time"):
            await client.buy(TG, GB, deadline_seconds=0.5)
    finally:
        await client.aclose()


def test_prices_keep_the_offers_they_can_read() -> None:
    body = (
        '{"16": {"tg": {"cost": 0.155, "count": 7}, "wa": {"cost": "abc", "count": 1},'
        ' "go": {"cost": 1, "count": -1}, "<b>": {"cost": 1, "count": 1}},'
        ' "x": {"tg": {"cost": 1, "count": 1}}, "2": "none"}'
    )
    # 0.155 is 15.5 cents: rounded up, what we pay is never understated.
    assert protocol.prices(body) == [protocol.Offer(16, "tg", 16, 7)]
