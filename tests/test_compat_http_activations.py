"""The sms-activate-compatible API over raw HTTP, one activation: bad and foreign ids read
alike, status changes follow R2 and R4 or answer BAD_STATUS and change nothing, and an
unexpected failure is a plain token, never a traceback.

Answers are always HTTP 200 with `text/plain; charset=utf-8` (tokens) or `application/json`;
the business rules are the services', these tests check that the protocol layer maps them
faithfully (contract/compat.md, issue 4).
"""

from __future__ import annotations

import asyncio
import json

import pytest

import services.activations
import services.ledger
from models import Activation
from tests.api import Api
from tests.compat_helpers import (
    MISSING_ID,
    POLL_TIMEOUT_SECONDS,
    TG_TEXT,
    ask,
    bought,
    compat,
    deliver,
    graphql_offers,
    json_text,
    new_bot,
    text,
)
from tests.snapshot import snapshot

# These tests send dozens of requests a second with one key; the per-key limit has a test of
# its own, which sets it low again.
pytestmark = pytest.mark.usefixtures("many_requests_per_key")


# -- one activation: bad ids and statuses ---------------------------------------------------
ID_ACTIONS = [
    ("getStatus", {}),
    ("getFullSms", {}),
    ("getStatusV2", {}),
    ("setStatus", {"status": "1"}),
    ("setStatus", {"status": "3"}),
    ("setStatus", {"status": "6"}),
    ("setStatus", {"status": "8"}),
    ("setStatus", {"status": "-1"}),
]


async def test_bad_and_foreign_activation_ids_are_no_activation_alike(api: Api) -> None:
    owner, stranger = await new_bot(api), await new_bot(api)
    foreign_id, _digits = await bought(api, owner)
    before = await snapshot(owner.user, stranger.user)
    for action, extra in ID_ACTIONS:
        unknown = await compat(api, stranger.key, action, id=MISSING_ID, **extra)
        foreign = await compat(api, stranger.key, action, id=str(foreign_id), **extra)
        # Another user's activation reads exactly like one that does not exist.
        assert (foreign.status_code, foreign.headers["content-type"], foreign.content) == (
            unknown.status_code,
            unknown.headers["content-type"],
            unknown.content,
        )
        assert text(foreign) == "NO_ACTIVATION", (action, extra)
        for bad in (None, "", "abc", "-1", "0", "1.5", "1_2", "１２", "9" * 11, "9" * 5000):
            answer = await compat(api, stranger.key, action, id=bad, **extra)
            assert text(answer) == "NO_ACTIVATION", (action, extra, bad)
    assert await snapshot(owner.user, stranger.user) == before


async def test_unknown_set_status_value_is_bad_status(api: Api) -> None:
    bot = await new_bot(api)
    activation_id, _digits = await bought(api, bot)
    before = await snapshot(bot.user)
    for status in (None, "", "0", "2", "4", "7", "9", "-2", "abc", "8.0", "1" * 300):
        answer = await compat(api, bot.key, "setStatus", id=str(activation_id), status=status)
        assert text(answer) == "BAD_STATUS", status
    assert await snapshot(bot.user) == before


async def test_r4_set_status_8_and_legacy_minus_1_cancel_with_full_refund(
    api: Api, ledger_is_consistent: None
) -> None:
    bot = await new_bot(api, "10.00")
    for status in ("8", "-1"):
        activation_id, _digits = await bought(api, bot)
        aid = str(activation_id)
        assert await ask(api, bot, "setStatus", id=aid, status=status) == "ACCESS_CANCEL"
        assert await ask(api, bot, "getStatus", id=aid) == "STATUS_CANCEL"
        assert await ask(api, bot, "getFullSms", id=aid) == "STATUS_CANCEL"
        seen = await api.activation(bot.user, aid)
        assert seen is not None
        assert (seen["status"], seen["refunded"]) == ("CANCELLED", True)
    assert await ask(api, bot, "getBalance") == "ACCESS_BALANCE:10.00"
    assert await api.balance(bot.user) == "10.00"


async def test_r4_no_sms_in_five_minutes_reads_status_cancel_and_refunds(api: Api) -> None:
    bot = await new_bot(api, "10.00")
    activation_id, _digits = await bought(api, bot)
    api.rt.clock.advance(301)
    deadline = asyncio.get_running_loop().time() + POLL_TIMEOUT_SECONDS
    while (answer := await ask(api, bot, "getStatus", id=str(activation_id))) != "STATUS_CANCEL":
        assert answer == "STATUS_WAIT_CODE"
        assert asyncio.get_running_loop().time() < deadline, "the sweeper did not expire it"
        await asyncio.sleep(0.05)
    assert (await Activation.get(id=activation_id)).status == "EXPIRED"
    assert await ask(api, bot, "getBalance") == "ACCESS_BALANCE:10.00"


async def test_r4_cancel_after_the_code_is_bad_status_and_keeps_the_charge(api: Api) -> None:
    bot = await new_bot(api, "10.00")
    activation_id, digits = await bought(api, bot)
    aid = str(activation_id)
    assert await ask(api, bot, "setStatus", id=aid, status="6") == "BAD_STATUS"  # no code yet
    await deliver(api, digits, "31337")
    before = await snapshot(bot.user)
    for status in ("8", "-1"):
        assert await ask(api, bot, "setStatus", id=aid, status=status) == "BAD_STATUS"
    assert await snapshot(bot.user) == before
    assert await ask(api, bot, "getStatus", id=aid) == "STATUS_OK:31337"


async def test_every_status_change_of_a_finished_activation_is_bad_status(api: Api) -> None:
    bot = await new_bot(api, "10.00")
    activation_id, digits = await bought(api, bot)
    aid = str(activation_id)
    await deliver(api, digits, "27182")
    assert await ask(api, bot, "setStatus", id=aid, status="6") == "ACCESS_ACTIVATION"
    before = await snapshot(bot.user)
    for status in ("1", "3", "6", "8", "-1"):
        assert await ask(api, bot, "setStatus", id=aid, status=status) == "BAD_STATUS"
    assert await snapshot(bot.user) == before
    assert await ask(api, bot, "getStatus", id=aid) == "STATUS_OK:27182"
    assert await ask(api, bot, "getFullSms", id=aid) == f"FULL_SMS:{TG_TEXT.format(code='27182')}"


async def test_r2_an_sms_without_a_readable_code_shows_its_text(api: Api) -> None:
    bot = await new_bot(api)
    activation_id, digits = await bought(api, bot)
    aid = str(activation_id)
    message = "Telegram: вход в аккаунт подтверждён"  # from Telegram, and no code in it
    response = await api.deliver_sms(f"+{digits}", message)
    assert response.json() == {"status": "delivered"}
    assert await ask(api, bot, "getStatus", id=aid) == f"STATUS_OK:{message}"
    assert await ask(api, bot, "getFullSms", id=aid) == f"FULL_SMS:{message}"
    v2 = json_text(await compat(api, bot.key, "getStatusV2", id=aid))  # ASCII, \u escapes
    assert json.loads(v2)["sms"]["code"] == ""
    assert json.loads(v2)["sms"]["text"] == message


async def test_another_sms_before_the_first_is_bad_status(api: Api) -> None:
    bot = await new_bot(api)
    activation_id, _digits = await bought(api, bot)
    before = await snapshot(bot.user)
    assert await ask(api, bot, "setStatus", id=str(activation_id), status="3") == "BAD_STATUS"
    assert await snapshot(bot.user) == before


# -- never a traceback ----------------------------------------------------------------------
@pytest.mark.logs_errors("a bug injected on purpose: the server logs it, the client sees none")
async def test_an_unexpected_error_is_a_plain_token_never_a_traceback(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await new_bot(api)

    async def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(services.ledger, "balance_minor", broken)
    response = await compat(api, bot.key, "getBalance")
    assert text(response) == "ERROR_SQL"
    assert "Traceback" not in response.text
    assert "fire" not in response.text


@pytest.mark.logs_errors("a bug injected on purpose: the server logs it, the client sees none")
async def test_a_failure_inside_a_purchase_answers_error_sql_and_changes_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await new_bot(api)
    before = await snapshot(bot.user)
    [gb] = await graphql_offers(api, "GB", "tg")

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("ledger unavailable")

    monkeypatch.setattr(services.activations.ledger, "post", broken)
    response = await compat(api, bot.key, "getNumber", service="tg", country="16")
    monkeypatch.undo()
    assert text(response) == "ERROR_SQL"
    assert await snapshot(bot.user) == before
    [after] = await graphql_offers(api, "GB", "tg")
    assert after["available"] == gb["available"]  # the number went back to the pool
