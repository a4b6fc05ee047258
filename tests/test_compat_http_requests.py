"""The sms-activate-compatible API over raw HTTP: GET and POST, query string and form body
alike; only a live API key authenticates (R13); a missing or unknown action is BAD_ACTION.

Answers are always HTTP 200 with `text/plain; charset=utf-8` (tokens) or `application/json`;
the business rules are the services', these tests check that the protocol layer maps them
faithfully (contract/compat.md, issue 4).
"""

from __future__ import annotations

import re

import pytest

from tests.api import Api
from tests.compat_helpers import ask, compat, create_api_key, new_bot, text
from tests.snapshot import snapshot

# These tests send dozens of requests a second with one key; the per-key limit has a test of
# its own, which sets it low again.
pytestmark = pytest.mark.usefixtures("many_requests_per_key")


# -- transport ------------------------------------------------------------------------------
async def test_get_post_query_and_form_body_answer_alike_and_extra_params_are_ignored(
    api: Api,
) -> None:
    bot = await new_bot(api, "3.00")
    expected = "ACCESS_BALANCE:3.00"
    auth = {"api_key": bot.key, "action": "getBalance"}
    extra = {"json": "1", "ref": "someone", "freePrice": "true", "lang": "en"}
    answers = [
        await compat(api, bot.key, "getBalance"),
        await compat(api, bot.key, "getBalance", **extra),
        await compat(api, bot.key, "getBalance", method="POST"),  # query only, empty body
        await compat(api, None, None, method="POST", form=auth),
        await compat(api, None, None, method="POST", form={**auth, **extra}),
        await compat(api, bot.key, None, method="POST", form={"action": "getBalance"}),
        # The body wins over the query string, as PHP's $_REQUEST has it.
        await compat(api, "srk_wrong", "getNumber", method="POST", form=auth),
    ]
    for response in answers:
        assert text(response) == expected
    assert (
        await snapshot(bot.user)
    ).user.activations == ()  # the overridden getNumber bought nothing


async def test_form_body_buys_like_the_query_string(api: Api) -> None:
    bot = await new_bot(api)
    form = {"api_key": bot.key, "action": "getNumber", "service": "tg", "country": "16"}
    answer = text(await compat(api, None, None, method="POST", form=form))
    assert re.fullmatch(r"ACCESS_NUMBER:\d+:44\d+", answer)
    assert len((await snapshot(bot.user)).user.activations) == 1


async def test_oversized_form_body_is_refused_and_changes_nothing(api: Api) -> None:
    bot = await new_bot(api)
    before = await snapshot(bot.user)
    form = {"service": "tg", "country": "16", "padding": "x" * 20_000}
    response = await compat(api, bot.key, "getNumber", method="POST", form=form)
    assert text(response) == "ERROR_SQL"
    assert await snapshot(bot.user) == before


# -- authentication and actions -------------------------------------------------------------
async def test_r13_only_a_live_api_key_authenticates(api: Api) -> None:
    bot = await new_bot(api)
    revoked = await create_api_key(api, bot.user, "old")
    data = await api.gql("{ credentials { id kind name } }", token=bot.user.token)
    [old_id] = [c["id"] for c in data["credentials"] if c["name"] == "old"]
    revoke = await api.gql(
        "mutation($id: ID!) { revokeCredential(id: $id) { revoked errors { code } } }",
        {"id": old_id},
        token=bot.user.token,
    )
    assert revoke["revokeCredential"]["revoked"] is True
    before = await snapshot(bot.user)
    for key in (None, "", "garbage", "srk_" + "x" * 43, bot.user.token, revoked, "k" * 5000):
        for action in ("getBalance", "getNumber"):
            response = await compat(api, key, action, service="tg", country="16")
            assert text(response) == "BAD_KEY", (key, action)
    assert await snapshot(bot.user) == before
    assert await ask(api, bot, "getBalance") == "ACCESS_BALANCE:10.00"


async def test_missing_or_unknown_action_is_bad_action(api: Api) -> None:
    bot = await new_bot(api)
    before = await snapshot(bot.user)
    for action in (None, "", "getbalance", "getRentList", "buyNumber", "x" * 500):
        answer = await compat(api, bot.key, action, service="tg", country="16")
        assert text(answer) == "BAD_ACTION", action
    assert await snapshot(bot.user) == before
