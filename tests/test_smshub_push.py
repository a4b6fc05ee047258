"""PUSH_SMS at `POST /suppliers/{code}/smshub` (contract/suppliers.md, section 1), sent by the
reference SMSHub agent of tests/smshub_agent.py: the key is checked before anything is stored,
a repeat of an smsId is SUCCESS and changes nothing, and every message is stored (R2)."""

from __future__ import annotations

import gzip
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from models import Country, Service, Sms, Supplier, Transfer, TransferKind
from suppliers.smshub import names
from tests import supplier_helpers as sh
from tests.api import Api, User
from tests.conftest import Server
from tests.smshub_agent import SmsHubAgent
from tests.smshub_helpers import registered, stocked, until_available
from tests.snapshot import snapshot
from tests.test_catalog import fictional_e164, fresh_country, set_price


@dataclass
class Agent:
    simulator: SmsHubAgent
    supplier: Supplier
    country: Country
    hub_url: str


_agents: dict[str, Agent] = {}  # server URL -> this module's agent, with a country of its own
NUMBERS = 200  # the agent's SIMs: one per purchase of this module


@pytest.fixture(scope="module", autouse=True)
async def served_agent(server: Server) -> AsyncIterator[Agent]:
    """This module's agent, served and registered, with SIMs of a country of its own (so that
    its numbers are the only ones on sale there), for the module's tests on this server."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        api = Api(client, server)
        country = await fresh_country()
        await set_price(country, await Service.get(code="tg"))
        simulator = stocked(SmsHubAgent(), country, "tg", NUMBERS)
        async with registered(api, simulator) as found:
            await until_available(api, country.code, "tg", NUMBERS)
            supplier = await Supplier.get(code=found.code)
            _agents[server.url] = Agent(simulator, supplier, country, found.hub_url(server.url))
            yield _agents[server.url]
            del _agents[server.url]


async def an_agent(api: Api) -> Agent:
    return _agents[api.server.url]


async def live_activation(api: Api, agent: Agent) -> tuple[User, dict[str, Any], int]:
    """A WAITING_SMS tg activation on a number the agent gave (GET_NUMBER); the number as the
    agent writes it (digits with the country code, a JSON number)."""
    user = await api.funded_user("5.00")
    activation = await api.bought(user, agent.country.code, "tg")
    phone = int(activation["phoneNumber"].removeprefix("+"))
    assert phone in agent.simulator.numbers[names.name_of(agent.country)]
    return user, activation, phone


def an_sms_id() -> int:
    return secrets.randbelow(2**62) + 1


async def stored(agent: Agent, sms_id: int) -> list[Sms]:
    return await Sms.filter(supplier_id=agent.supplier.id, supplier_message_id=str(sms_id))


async def test_push_sms_delivers_the_code(api: Api) -> None:
    agent = await an_agent(api)
    user, activation, phone = await live_activation(api, agent)
    sms_id = an_sms_id()
    response = await agent.simulator.push_sms(
        agent.hub_url, sms_id=sms_id, phone=phone, text="Telegram code 48213"
    )
    assert (response.status_code, response.json()) == (200, {"status": "SUCCESS"})
    seen = await api.activation(user, activation["id"])
    assert seen is not None
    assert (seen["status"], seen["code"]) == ("RECEIVED", "48213")
    [row] = await stored(agent, sms_id)
    assert (row.activation_id, row.to_e164, row.sender) == (  # type: ignore[attr-defined]
        int(activation["id"]),
        activation["phoneNumber"],
        "Telegram",
    )


async def test_push_sms_repeated_is_success_and_stored_once(
    api: Api, ledger_is_consistent: None
) -> None:
    """The agent retries until SUCCESS (and after a lost answer, once more): one message, one
    capture, however many times it comes."""
    agent = await an_agent(api)
    user, activation, phone = await live_activation(api, agent)
    sms_id = an_sms_id()
    answers = [
        await agent.simulator.push_sms(
            agent.hub_url, sms_id=sms_id, phone=phone, text="Telegram code 48213"
        )
        for _ in range(3)
    ]
    assert [(r.status_code, r.json()) for r in answers] == [(200, {"status": "SUCCESS"})] * 3
    assert len(await stored(agent, sms_id)) == 1
    kinds = await Transfer.filter(activation_id=int(activation["id"])).values_list(
        "kind", flat=True
    )
    # One capture, with the agent's cost credited to it beside it (settlement).
    assert sorted(kinds) == sorted([TransferKind.HOLD, TransferKind.CAPTURE, TransferKind.COST])
    seen = await api.activation(user, activation["id"])
    assert seen is not None
    assert len(seen["messages"]) == 1


async def test_a_gzip_compressed_push_is_read(api: Api) -> None:
    agent = await an_agent(api)
    user, activation, phone = await live_activation(api, agent)
    response = await agent.simulator.push_sms(
        agent.hub_url, sms_id=an_sms_id(), phone=phone, text="Telegram code 31337", compressed=True
    )
    assert (response.status_code, response.json()) == (200, {"status": "SUCCESS"})
    seen = await api.activation(user, activation["id"])
    assert seen is not None
    assert seen["code"] == "31337"


@pytest.mark.parametrize(
    "body",
    [b"not gzip at all", gzip.compress(b"{" + b" " * 100_000 + b"}")],
    ids=["not gzip", "decodes past the size bound"],
)
async def test_a_bad_gzip_body_is_refused(api: Api, body: bytes) -> None:
    agent = await an_agent(api)
    before = await snapshot()
    response = await api.client.post(
        agent.hub_url, content=body, headers={"content-encoding": "gzip"}
    )
    assert response.status_code == 400
    assert response.json()["status"] == "ERROR"
    assert await snapshot() == before


async def test_push_sms_to_a_number_without_an_activation_is_stored(api: Api) -> None:
    agent = await an_agent(api)
    sms_id = an_sms_id()
    phone = int(fictional_e164().removeprefix("+"))
    response = await agent.simulator.push_sms(agent.hub_url, sms_id=sms_id, phone=phone, text="hi")
    assert (response.status_code, response.json()) == (200, {"status": "SUCCESS"})
    [row] = await stored(agent, sms_id)
    assert row.activation_id is None  # type: ignore[attr-defined]


async def refused_push(
    api: Api, changes: dict[str, object], without: tuple[str, ...] = ()
) -> dict[str, object]:
    """Pushes a code for a live activation, changed as given; asserts the push was refused
    and nothing was stored nor changed; returns the refusal's status and body."""
    agent = await an_agent(api)
    user, activation, phone = await live_activation(api, agent)
    before = await snapshot(user)
    sms_id = an_sms_id()
    response = await agent.simulator.push_sms(
        agent.hub_url,
        sms_id=sms_id,
        phone=phone,
        text="Telegram code 48213",
        changes=changes,
        without=without,
    )
    assert await stored(agent, sms_id) == []
    assert await snapshot(user) == before
    return {"status_code": response.status_code, **response.json()}


@pytest.mark.parametrize("key", ["not-the-key", "", 12345, None], ids=repr)
async def test_a_wrong_or_missing_key_is_refused_and_nothing_is_stored(
    api: Api, key: object
) -> None:
    refusal = await (
        refused_push(api, {}, without=("key",))  # no key at all
        if key is None
        else refused_push(api, {"key": key})
    )
    assert refusal == {"status_code": 401, "status": "ERROR", "error": "wrong key"}


@pytest.mark.parametrize(
    "changes",
    [
        {"smsId": "1234"},
        {"smsId": 1.5},
        {"smsId": True},
        {"smsId": 0},
        {"phone": "79281234567"},
        {"phone": 79281234567.0},
        {"phone": 123},
        {"text": None},
        {"text": 42},
        {"text": "x" * 2001},
        {"phoneFrom": 7},
        {"action": "GET_NUMBER"},
    ],
    ids=repr,
)
async def test_a_bad_push_is_refused_and_nothing_is_stored(
    api: Api, changes: dict[str, object]
) -> None:
    refusal = await refused_push(api, changes)
    assert (refusal["status_code"], refusal["status"]) == (400, "ERROR")


@pytest.mark.parametrize(
    "body", [b"<html><body>hi</body></html>", b"", b'{"action":"PUSH_SMS"', b"[1]"], ids=repr
)
async def test_a_body_that_is_not_a_json_object_is_refused(api: Api, body: bytes) -> None:
    agent = await an_agent(api)
    before = await snapshot()
    response = await api.client.post(agent.hub_url, content=body)
    assert response.status_code == 400
    assert response.json()["status"] == "ERROR"
    assert await snapshot() == before


async def test_an_unknown_or_disabled_supplier_is_not_found(api: Api) -> None:
    created, key = await sh.smshub_agent(api, "http://127.0.0.1:9/smshub")
    await sh.switch_off(api, created["id"])
    disabled = await Supplier.get(id=int(created["id"]))
    agent = SmsHubAgent(key=key)
    for code in (disabled.code, "no-such-supplier"):
        response = await agent.push_sms(
            f"{api.server.url}/suppliers/{code}/smshub",
            sms_id=an_sms_id(),
            phone=79281234567,
            text="hi",
        )
        assert (response.status_code, response.json()["status"]) == (404, "ERROR")
    assert not await Sms.exists(supplier_id=disabled.id)
