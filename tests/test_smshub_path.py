"""The whole path of a number from an SMSHub agent (issue 8, step 2), over real HTTP to the
reference agent of tests/smshub_agent.py: the admin registers the agent, the app's poller reads
its GET_SERVICES into `prices`, routing buys from it when it is the cheaper supplier (GET_NUMBER),
the agent pushes the code (PUSH_SMS) and the buyer sees it live, and when the activation ends
the agent is told how, once (FINISH_ACTIVATION through the outbox). An agent that cannot give a
number costs the buyer nothing but its deadline: the number comes from the demo pool.

The tests share one country of their own (`shop`), whose demo pool is small and known, so that
what `prices` shows is the pool's numbers plus the agent's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from models import (
    Activation,
    Country,
    OutboxMessage,
    PhoneNumber,
    Service,
    Supplier,
)
from services import outbox, policy
from settings import Settings
from suppliers import demo
from suppliers.smshub import finish, names
from tests import live
from tests import supplier_helpers as sh
from tests.api import Api, User
from tests.conftest import Server
from tests.smshub_agent import SmsHubAgent
from tests.smshub_helpers import Registered, registered, stocked, until, until_available
from tests.test_catalog import add_numbers, available, fictional_e164, fresh_country, set_price

POOL_NUMBERS = 30  # the demo pool's numbers in the shop's country
PRICE_MINOR = 40  # the offer's price; what the pool is paid is its cost, half of it
AGENT_SIMS = 4


@dataclass(frozen=True)
class Shop:
    country: Country

    @property
    def code(self) -> str:
        return self.country.code

    @property
    def agent_name(self) -> str:
        return names.name_of(self.country)


@pytest.fixture(scope="module")
async def shop(server: Server) -> Shop:
    """A country of this module's own, tg on sale there, with POOL_NUMBERS demo numbers."""
    country = await fresh_country()
    await set_price(country, await Service.get(code="tg"), PRICE_MINOR)
    await add_numbers(country, [fictional_e164() for _ in range(POOL_NUMBERS)])
    server.runtime.catalog.invalidate()
    return Shop(country)


@pytest.fixture
async def agent(api: Api, shop: Shop) -> AsyncIterator[Registered]:
    """An agent with AGENT_SIMS SIMs of the shop's country for tg, registered, its stock shown in
    `prices` beside the pool's; cheaper than the pool (an offer cost set by the admin)."""
    pool = await available(api, shop.code, "tg")
    async with registered(api, stocked(SmsHubAgent(), shop.country, "tg", AGENT_SIMS)) as found:
        await until_available(api, shop.code, "tg", pool + AGENT_SIMS)
        payload = await sh.set_cost(api, found.supplier["id"], "0.05", shop.code, "tg")
        assert payload["errors"] == [], payload
        yield found


async def supplier_of(activation: dict[str, Any]) -> str:
    number = await PhoneNumber.get(e164=activation["phoneNumber"]).prefetch_related("supplier")
    return number.supplier.code


def get_numbers(agent: Registered) -> list[dict[str, Any]]:
    return [r for r in agent.simulator.requests if r["action"] == "GET_NUMBER"]


async def bought_from(api: Api, shop: Shop, agent: Registered) -> tuple[User, dict[str, Any], int]:
    """A tg number of the agent's (routing picks it: it is cheaper), and its agent activation."""
    user = await api.funded_user("5.00")
    activation = await api.bought(user, shop.code, "tg")
    assert await supplier_of(activation) == agent.code
    row = await Activation.get(id=int(activation["id"]))
    assert row.supplier_activation_id is not None
    agent_activation = int(row.supplier_activation_id)
    number = agent.simulator.activations[agent_activation].number
    assert activation["phoneNumber"] == f"+{number}"
    return user, activation, agent_activation


async def finished_once(api: Api, agent: Registered, agent_activation: int, status: int) -> None:
    """The agent is told `status` for its activation once, and never again: the outbox row is
    sent, and later rounds of the worker, long after, send nothing more."""
    key = f"{agent.code}:{agent_activation}"

    async def sent() -> bool:
        row = await OutboxMessage.get_or_none(kind=finish.KIND, key=key)
        return row is not None and row.sent_at is not None

    await until(sent, f"FINISH_ACTIVATION {key} sent")
    assert agent.simulator.finish_calls == [(agent_activation, status)]
    assert agent.simulator.activations[agent_activation].finished_with == status
    api.rt.clock.advance(api.rt.settings.outbox_lease_seconds * 10)
    for _ in range(3):
        await outbox.run_once(api.rt, api.rt.outbox_handlers)
    assert agent.simulator.finish_calls == [(agent_activation, status)]


async def next_sms(feed: live.Events) -> dict[str, Any]:
    while True:
        event = await feed.next()
        if event["kind"] == "SMS_RECEIVED":
            return event


# -- the whole path ----------------------------------------------------------------------------
async def test_an_agent_is_registered_polled_bought_from_pushes_the_code_and_is_told_sold(
    api: Api, shop: Shop, ledger_is_consistent: None
) -> None:
    pool = await available(api, shop.code, "tg")
    simulator = stocked(SmsHubAgent(), shop.country, "tg", AGENT_SIMS)
    async with registered(api, simulator, defaultCost="0.30") as agent:
        # The poller reads GET_SERVICES: prices shows the agent's SIMs beside the pool's.
        await until_available(api, shop.code, "tg", pool + AGENT_SIMS)
        assert (await sh.listed(api))[agent.code]["available"] == AGENT_SIMS

        # Dearer than the pool (0.30 against the offer's cost 0.20): the pool sells.
        user = await api.funded_user("5.00")
        first = await api.bought(user, shop.code, "tg")
        assert await supplier_of(first) == demo.CODE
        assert get_numbers(agent) == []

        # The admin sets the agent's cost of this offer below the pool's: the agent sells.
        assert (await sh.set_cost(api, agent.supplier["id"], "0.05", shop.code, "tg"))[
            "errors"
        ] == []
        user, activation, agent_activation = await bought_from(api, shop, agent)
        [asked] = get_numbers(agent)
        assert {k: asked[k] for k in ("country", "operator", "service", "sum", "currency")} == {
            "country": shop.agent_name,
            "operator": "any",
            "service": "tg",
            "sum": 0.05,
            "currency": 840,  # USD, ISO 4217 numeric
        }
        crimea = {p.removeprefix("+") for p in policy.CRIMEAN_PREFIXES}
        assert set(asked["exceptionPhoneSet"]) == crimea  # R11; nothing of this agent sold yet
        row = await Activation.get(id=int(activation["id"]))
        assert (row.cost_minor, row.price_minor) == (5, PRICE_MINOR)

        # The agent pushes the code; the buyer sees it on the live feed.
        async with live.events(api.server.url, user.token, activationId=activation["id"]) as feed:
            await live.wait_subscribed(api.rt.bus, user.id)
            answer = await agent.simulator.push_sms(
                agent.hub_url(api.server.url),
                sms_id=7001,
                phone=int(activation["phoneNumber"].removeprefix("+")),
                text="Telegram code 48213",
            )
            assert answer.json() == {"status": "SUCCESS"}
            event = await next_sms(feed)
        assert (event["sms"]["code"], event["activation"]["status"]) == ("48213", "RECEIVED")

        # The buyer finishes: the agent is told "sold" (3), once, and is owed its cost.
        finished = await api.act(user, "finishActivation", activation["id"])
        assert finished["errors"] == []
        await finished_once(api, agent, agent_activation, 3)
        assert (await sh.listed(api))[agent.code]["owed"]["amount"] == "0.05"

        # R6: the number is never sold for tg again; the agent is asked not to give it.
        other = await api.funded_user("5.00")
        again = await api.bought(other, shop.code, "tg")
        assert again["phoneNumber"] != activation["phoneNumber"]
        assert (
            activation["phoneNumber"].removeprefix("+")
            in get_numbers(agent)[-1]["exceptionPhoneSet"]
        )
        await api.act(other, "cancelActivation", again["id"])


@pytest.mark.parametrize(
    ("mutation", "status", "told"),
    [("cancelActivation", "CANCELLED", 4), ("banNumber", "BANNED", 1)],
)
async def test_a_refunded_ending_is_told_to_the_agent_once(
    api: Api, shop: Shop, agent: Registered, mutation: str, status: str, told: int
) -> None:
    """4: cancelled, the agent may offer the number again; 1 after a ban (R6): never again for
    this service."""
    user, activation, agent_activation = await bought_from(api, shop, agent)
    ended = await api.act(user, mutation, activation["id"])
    assert ended["errors"] == []
    assert (ended["activation"]["status"], ended["activation"]["refunded"]) == (status, True)
    await finished_once(api, agent, agent_activation, told)


async def test_an_expiry_without_a_code_is_refunded_and_told_5(
    api: Api, shop: Shop, agent: Registered
) -> None:
    user, activation, agent_activation = await bought_from(api, shop, agent)
    api.rt.clock.advance(api.rt.settings.sms_wait_seconds + 1)  # R4: the sweeper expires it

    async def expired() -> bool:
        seen = await api.activation(user, activation["id"])
        return seen is not None and seen["status"] == "EXPIRED"

    await until(expired, "the activation expired")
    assert await api.balance(user) == "5.00"
    await finished_once(api, agent, agent_activation, 5)


# -- an agent that cannot give a number ------------------------------------------------------------
@pytest.mark.parametrize("answer", ["no_numbers", "slow", "html"])
async def test_an_agent_without_a_number_falls_through_to_the_pool(
    api: Api,
    shop: Shop,
    agent: Registered,
    override_settings: Callable[..., Settings],
    answer: str,
) -> None:
    """The agent is asked first (it is cheaper); NO_NUMBERS, no answer within the deadline or an
    HTML page moves on, and the buyer gets a pool number. Only a failure counts against the
    agent; it is told nothing, having given nothing."""
    override_settings(supplier_acquire_timeout_seconds=0.5)
    agent.simulator.number_answer = answer  # type: ignore[assignment]
    agent.simulator.slow_seconds = 5.0  # ten times the deadline
    user = await api.funded_user("5.00")
    activation = await api.bought(user, shop.code, "tg")
    assert await supplier_of(activation) == demo.CODE
    assert len(get_numbers(agent)) == 1
    supplier = await Supplier.get(code=agent.code)
    assert supplier.consecutive_failures == (0 if answer == "no_numbers" else 1)
    assert not await OutboxMessage.filter(kind=finish.KIND, key__startswith=f"{agent.code}:")
    assert agent.simulator.finish_calls == []
    await api.act(user, "cancelActivation", activation["id"])


async def test_a_number_under_exception_phone_set_is_released_with_4(
    api: Api, shop: Shop, agent: Registered
) -> None:
    """An agent that ignores exceptionPhoneSet gives a number we must not sell (R11 here: a
    Crimean one): its activation is finished with 4 and the pool sells instead."""
    crimean = int("7978" + f"{len(agent.simulator.activations):07d}")
    agent.simulator.numbers[shop.agent_name] = [crimean]
    agent.simulator.number_answer = "ignoring_exceptions"
    user = await api.funded_user("5.00")
    activation = await api.bought(user, shop.code, "tg")
    assert await supplier_of(activation) == demo.CODE
    [given] = [i for i, a in agent.simulator.activations.items() if a.number == crimean]
    await finished_once(api, agent, given, 4)
    assert not await PhoneNumber.exists(e164=f"+{crimean}")
    await api.act(user, "cancelActivation", activation["id"])


async def test_a_number_another_supplier_owns_is_released_with_4(
    api: Api, shop: Shop, agent: Registered
) -> None:
    """An agent that gives a number of another supplier's (here the demo pool's): it is never
    sold as the agent's, its row stays the other supplier's, the agent is told 4, and the pool
    sells instead."""
    pooled = await PhoneNumber.filter(country_id=shop.country.id, supplier__code=demo.CODE).first()
    assert pooled is not None
    agent.simulator.numbers[shop.agent_name] = [int(pooled.e164.removeprefix("+"))]
    user = await api.funded_user("5.00")
    activation = await api.bought(user, shop.code, "tg")
    assert await supplier_of(activation) == demo.CODE
    [given] = [i for i, a in agent.simulator.activations.items() if f"+{a.number}" == pooled.e164]
    await finished_once(api, agent, given, 4)
    assert (await PhoneNumber.get(id=pooled.id)).supplier_id == pooled.supplier_id
    assert not await Activation.exists(number_id=pooled.id, supplier_activation_id=str(given))
    await api.act(user, "cancelActivation", activation["id"])


async def test_an_agents_number_is_never_sold_twice_for_a_service(
    api: Api, shop: Shop, agent: Registered
) -> None:
    """The agent gives, for tg again, a number of its own already sold for tg (it ignores
    exceptionPhoneSet): the (number, service) pair refuses it, the agent is told 4, and the
    pool sells instead; the first sale stands alone."""
    user, first, first_given = await bought_from(api, shop, agent)
    await api.act(user, "cancelActivation", first["id"])
    await finished_once(api, agent, first_given, 4)  # free again at the agent's
    sold = await PhoneNumber.get(e164=first["phoneNumber"])
    agent.simulator.numbers[shop.agent_name] = [int(sold.e164.removeprefix("+"))]
    agent.simulator.number_answer = "ignoring_exceptions"

    again = await api.bought(user, shop.code, "tg")

    assert await supplier_of(again) == demo.CODE
    [given] = [
        i
        for i, a in agent.simulator.activations.items()
        if f"+{a.number}" == sold.e164 and i != first_given
    ]

    async def told_4() -> bool:
        return agent.simulator.activations[given].finished_with == 4

    await until(told_4, "the number given again released with 4")
    assert await Activation.filter(number_id=sold.id).count() == 1
    await api.act(user, "cancelActivation", again["id"])


async def test_an_agent_that_stops_answering_get_services_has_no_stock(
    api: Api, shop: Shop, agent: Registered
) -> None:
    pool = await available(api, shop.code, "tg")
    agent.simulator.services_answer = "html"
    await until_available(api, shop.code, "tg", pool - AGENT_SIMS)
    agent.simulator.services_answer = "normal"
    await until_available(api, shop.code, "tg", pool)


async def test_stock_is_read_under_smshub_names_summed_over_operators(api: Api) -> None:
    """GB is SMSHub's "england" (ours run together, "unitedkingdom", is read too); a country or
    service we do not sell is left out."""
    before = await available(api, "GB", "tg")
    simulator = SmsHubAgent(
        stock={
            "england": {"any": {"tg": 7, "no-such-service": 50}},
            "unitedkingdom": {"mts": {"tg": 2}, "beeline": {"tg": 1}},
            "atlantis": {"any": {"tg": 50}},
        }
    )
    async with registered(api, simulator) as agent:
        await until_available(api, "GB", "tg", before + 10)
        assert (await sh.listed(api))[agent.code]["available"] == 10
