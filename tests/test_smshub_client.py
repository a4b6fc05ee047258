"""The hub's calls to an SMSHub agent (contract/suppliers.md, section 1), over real HTTP to the
reference agent of tests/smshub_agent.py: every answer an agent may give, good or bad, comes
back as a value, and no call outlasts its deadline."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import aiohttp
import pytest

from settings import Settings
from suppliers.smshub import protocol
from suppliers.smshub.client import AgentClient, http_client
from suppliers.smshub.protocol import (
    Acknowledged,
    Failure,
    FailureKind,
    FinishStatus,
    NoNumbers,
    Number,
    NumberOrder,
    Services,
    Stock,
)
from testkit.backends import HOST, free_port
from tests.smshub_agent import KEY, SmsHubAgent

RUSSIA = [79181110001, 79281110002, 79001110003]
ORDER = NumberOrder("russia", "any", "tg", sum_minor=2000, currency="RUB")


@pytest.fixture
def agent() -> SmsHubAgent:
    return SmsHubAgent(
        stock={"russia": {"any": {"tg": 10, "wa": 4}, "mts": {"tg": 3}}},
        numbers={"russia": list(RUSSIA)},
    )


@pytest.fixture
async def client(agent: SmsHubAgent) -> AsyncIterator[AgentClient]:
    settings = Settings(smshub_call_deadline_seconds=2.0, smshub_get_number_deadline_seconds=0.5)
    async with agent.serving() as url, http_client(settings) as http:
        yield AgentClient(http, url, KEY, settings)


async def test_get_services_reads_every_stock_line(client: AgentClient) -> None:
    assert await client.get_services() == Services(
        (
            Stock("russia", "any", "tg", 10),
            Stock("russia", "any", "wa", 4),
            Stock("russia", "mts", "tg", 3),
        )
    )


async def test_answers_compressed_with_gzip_are_read(agent: SmsHubAgent) -> None:
    encodings: list[str | None] = []

    async def seen(
        session: aiohttp.ClientSession, context: object, ended: aiohttp.TraceRequestEndParams
    ) -> None:
        encodings.append(ended.response.headers.get("content-encoding"))

    watch = aiohttp.TraceConfig()
    watch.on_request_end.append(seen)
    settings = Settings()
    async with agent.serving() as url, http_client(settings, [watch]) as http:
        services = await AgentClient(http, url, KEY, settings).get_services()
    assert encodings == ["gzip"]
    assert isinstance(services, Services)
    assert len(services.stock) == 3


async def test_get_number_sends_the_order_and_reads_the_number(
    client: AgentClient, agent: SmsHubAgent
) -> None:
    got = await client.get_number(dataclasses.replace(ORDER, excluded_prefixes=("7918",)))
    assert got == Number(RUSSIA[1], 1001)
    assert got.e164 == f"+{RUSSIA[1]}"
    assert agent.requests[-1] == {
        "action": "GET_NUMBER",
        "key": KEY,
        "country": "russia",
        "operator": "any",
        "service": "tg",
        "sum": 20.0,
        "currency": 643,
        "exceptionPhoneSet": ["7918"],
    }


async def test_get_number_no_numbers(client: AgentClient, agent: SmsHubAgent) -> None:
    agent.number_answer = "no_numbers"
    assert await client.get_number(ORDER) == NoNumbers()


async def test_a_number_under_exception_phone_set_is_refused_with_its_activation(
    client: AgentClient, agent: SmsHubAgent
) -> None:
    agent.number_answer = "ignoring_exceptions"
    got = await client.get_number(dataclasses.replace(ORDER, excluded_prefixes=("7918",)))
    assert isinstance(got, Failure)
    assert got.kind == FailureKind.EXCLUDED_NUMBER
    assert got.activation_id == 1001  # for the caller to release


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ("html", FailureKind.NOT_JSON),
        ("string_number", FailureKind.BAD_SHAPE),
        ("slow", FailureKind.TIMEOUT),
        ("silent", FailureKind.TIMEOUT),
    ],
)
async def test_get_number_bad_answers_are_failures(
    client: AgentClient, agent: SmsHubAgent, answer: str, kind: FailureKind
) -> None:
    agent.number_answer = answer  # type: ignore[assignment]
    agent.slow_seconds = 5.0  # far past the 0.5 s deadline
    got = await client.get_number(ORDER)
    assert isinstance(got, Failure)
    assert got.kind == kind


async def test_a_shorter_deadline_given_by_the_caller_wins(
    client: AgentClient, agent: SmsHubAgent
) -> None:
    agent.number_answer = "silent"
    got = await client.get_number(ORDER, deadline_seconds=0.05)
    assert isinstance(got, Failure)
    assert got.detail == "no answer within 0.05 s"


async def test_a_wrong_key_is_an_http_failure(agent: SmsHubAgent) -> None:
    settings = Settings()
    async with agent.serving() as url, http_client(settings) as http:
        got = await AgentClient(http, url, "not-the-key", settings).get_services()
    assert got == Failure(FailureKind.HTTP_STATUS, "HTTP 401")


async def test_an_agent_nobody_listens_for_is_unreachable() -> None:
    settings = Settings()
    async with http_client(settings) as http:
        url = f"http://{HOST}:{free_port()}/smshub"
        got = await AgentClient(http, url, KEY, settings).finish_activation(1, FinishStatus.SOLD)
    assert isinstance(got, Failure)
    assert got.kind == FailureKind.UNREACHABLE


async def test_an_answer_above_the_size_bound_is_refused(agent: SmsHubAgent) -> None:
    settings = Settings(smshub_max_response_bytes=50)
    async with agent.serving() as url, http_client(settings) as http:
        got = await AgentClient(http, url, KEY, settings).get_services()
    assert got == Failure(FailureKind.TOO_LARGE, "answer above 50 bytes")


@pytest.mark.parametrize(
    ("answer", "kind"),
    [("html", FailureKind.NOT_JSON), ("counts_as_strings", FailureKind.BAD_SHAPE)],
)
async def test_get_services_bad_answers_are_failures(
    client: AgentClient, agent: SmsHubAgent, answer: str, kind: FailureKind
) -> None:
    agent.services_answer = answer  # type: ignore[assignment]
    got = await client.get_services()
    assert isinstance(got, Failure)
    assert got.kind == kind


async def test_finish_activation_is_acknowledged_and_recorded(
    client: AgentClient, agent: SmsHubAgent
) -> None:
    number = await client.get_number(ORDER)
    assert isinstance(number, Number)
    assert await client.finish_activation(number.activation_id, FinishStatus.SOLD) == (
        Acknowledged()
    )
    assert agent.finish_calls == [(number.activation_id, 3)]
    assert agent.activations[number.activation_id].finished_with == 3


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        ("error", FailureKind.REFUSED),
        ("http_500", FailureKind.HTTP_STATUS),
        ("html", FailureKind.NOT_JSON),
    ],
)
async def test_finish_activation_failures(
    client: AgentClient, agent: SmsHubAgent, failure: str, kind: FailureKind
) -> None:
    agent.finish_failures = 1
    agent.finish_failure = failure  # type: ignore[assignment]
    got = await client.finish_activation(1001, FinishStatus.CANCELLED)
    assert isinstance(got, Failure)
    assert got.kind == kind


# -- parsing, one rule per bad answer -----------------------------------------------------------
NUMBER_ANSWERS = {
    b"": FailureKind.NOT_JSON,
    b"<html>502</html>": FailureKind.NOT_JSON,
    b'{"status":"SUCCESS","number":7918': FailureKind.NOT_JSON,  # truncated
    b'["SUCCESS"]': FailureKind.NOT_JSON,
    b"\xff\xfe": FailureKind.NOT_JSON,
    b'{"status":"SUCCESS","number":NaN,"activationId":1}': FailureKind.NOT_JSON,
    b'{"status":"SUCCESS","number":"79181234567","activationId":1}': FailureKind.BAD_SHAPE,
    b'{"status":"SUCCESS","number":79181234567.0,"activationId":1}': FailureKind.BAD_SHAPE,
    b'{"status":"SUCCESS","number":79181234567,"activationId":true}': FailureKind.BAD_SHAPE,
    b'{"status":"SUCCESS","number":79181234567,"activationId":0}': FailureKind.BAD_SHAPE,
    b'{"status":"SUCCESS","number":79181234567,"activationId":9223372036854775808}': (
        FailureKind.BAD_SHAPE
    ),
    b'{"status":"SUCCESS","number":123,"activationId":1}': FailureKind.BAD_SHAPE,
    b'{"status":"SUCCESS","number":-79181234567,"activationId":1}': FailureKind.BAD_SHAPE,
    b'{"status":"SUCCESS","activationId":1}': FailureKind.BAD_SHAPE,
    b'{"status":"ERROR","error":"no balance"}': FailureKind.REFUSED,
    b'{"status":"BANNED"}': FailureKind.REFUSED,
    b'{"number":79181234567,"activationId":1}': FailureKind.REFUSED,
}


@pytest.mark.parametrize(("body", "kind"), NUMBER_ANSWERS.items())
def test_every_bad_get_number_answer_is_a_typed_failure(body: bytes, kind: FailureKind) -> None:
    got = protocol.parse_number(body)
    assert isinstance(got, Failure)
    assert got.kind == kind


SERVICES_ANSWERS = [
    b'{"status":"SUCCESS"}',
    b'{"status":"SUCCESS","countryList":{}}',
    b'{"status":"SUCCESS","countryList":[7]}',
    b'{"status":"SUCCESS","countryList":[{"operatorMap":{}}]}',
    b'{"status":"SUCCESS","countryList":[{"country":"russia","operatorMap":{"any":3}}]}',
    b'{"status":"SUCCESS","countryList":[{"country":"russia","operatorMap":{"any":{"tg":-1}}}]}',
    b'{"status":"SUCCESS","countryList":[{"country":"russia","operatorMap":{"any":{"tg":1.5}}}]}',
    b'{"status":"SUCCESS","countryList":[{"country":"russia","operatorMap":{"any":{"tg":false}}}]}',
    b'{"status":"SUCCESS","countryList":[{"country":"","operatorMap":{}}]}',
]


@pytest.mark.parametrize("body", SERVICES_ANSWERS)
def test_every_bad_get_services_answer_is_a_typed_failure(body: bytes) -> None:
    got = protocol.parse_services(body, max_lines=100)
    assert isinstance(got, Failure)
    assert got.kind == FailureKind.BAD_SHAPE


def test_get_services_above_the_line_bound_is_refused() -> None:
    tg = ",".join(f'"s{i}":1' for i in range(5))
    body = (
        f'{{"status":"SUCCESS","countryList":[{{"country":"x","operatorMap":{{"any":{{{tg}}}}}}}]}}'
    )
    assert protocol.parse_services(body.encode(), max_lines=4) == Failure(
        FailureKind.BAD_SHAPE, "more than 4 stock lines"
    )


def test_a_deeply_nested_answer_is_not_json_not_a_crash() -> None:
    got = protocol.parse_acknowledgement(b"[" * 100_000 + b"]" * 100_000)
    assert isinstance(got, Failure)
    assert got.kind == FailureKind.NOT_JSON
