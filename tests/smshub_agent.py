"""A reference SMSHub agent (a SIM bank), written from the published protocol, not our code.

"SMSHUB Agent Protocol" (2024-03-06; contract/suppliers.md, section 1): one URL taking JSON
POSTs (gzip accepted both ways), each with `action` and `key`:
- GET_SERVICES: the SIMs usable now, per country, operator and service;
- GET_NUMBER: a number of that country, never one starting with a prefix of
  `exceptionPhoneSet`, never one already given for that service until its activation finishes;
- FINISH_ACTIVATION: ends an activation; idempotent (a repeat of a known one is SUCCESS);
- PUSH_SMS: the agent's call to the hub, with its key, numbers as JSON numbers.
A wrong key is answered `{"status":"ERROR"}` with 401.

Tests make it misbehave the ways real agents do: `number_answer` picks what GET_NUMBER answers
(NO_NUMBERS, slowly, an HTML page, a number as a string, a number under `exceptionPhoneSet`,
or nothing at all until the agent stops), and `finish_failures` makes FINISH_ACTIVATION fail
that many times before SUCCESS.
Every request is recorded in `requests`, every FINISH_ACTIVATION in `finish_calls`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tests.serving import served

KEY = "agent-key-for-tests"
NumberAnswer = Literal[
    "normal", "no_numbers", "slow", "html", "string_number", "silent", "ignoring_exceptions"
]
FinishFailure = Literal["error", "http_500", "html", "silent"]


@dataclass
class Activation:
    number: int
    service: str
    finished_with: int | None = None


@dataclass
class SmsHubAgent:
    key: str = KEY
    # country -> operator -> service -> SIMs; and the numbers of each country
    stock: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    numbers: dict[str, list[int]] = field(default_factory=dict)
    number_answer: NumberAnswer = "normal"
    slow_seconds: float = 0.0
    finish_failures: int = 0
    finish_failure: FinishFailure = "error"
    services_answer: Literal["normal", "html", "counts_as_strings", "silent"] = "normal"
    requests: list[dict[str, Any]] = field(default_factory=list)
    finish_calls: list[tuple[int, int]] = field(default_factory=list)
    activations: dict[int, Activation] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[Route("/smshub", self._endpoint, methods=["POST"])],
            middleware=[Middleware(GZipMiddleware, minimum_size=20)],
        )

    # -- the agent's side of the protocol ----------------------------------------------------
    async def _endpoint(self, request: Request) -> Response:
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        data = json.loads(body)
        self.requests.append(data)
        if data.get("key") != self.key:
            return JSONResponse({"status": "ERROR", "error": "wrong key"}, status_code=401)
        handlers = {
            "GET_SERVICES": self._get_services,
            "GET_NUMBER": self._get_number,
            "FINISH_ACTIVATION": self._finish,
        }
        handler = handlers.get(data.get("action"))
        if handler is None:
            return JSONResponse({"status": "ERROR", "error": "unknown action"})
        return await handler(data)

    async def _get_services(self, data: dict[str, Any]) -> Response:
        if self.services_answer == "silent":
            await self._stopping.wait()
            return Response(status_code=503)
        if self.services_answer == "html":
            return HTMLResponse("<html><body>502 Bad Gateway</body></html>")
        countries = [
            {"country": country, "operatorMap": operators}
            for country, operators in self.stock.items()
        ]
        if self.services_answer == "counts_as_strings":
            for entry in countries:
                entry["operatorMap"] = {
                    op: {s: str(n) for s, n in services.items()}
                    for op, services in entry["operatorMap"].items()
                }
        return JSONResponse({"status": "SUCCESS", "countryList": countries})

    async def _get_number(self, data: dict[str, Any]) -> Response:
        if self.number_answer == "silent":
            await self._stopping.wait()  # holds the request open until the agent stops
            return Response(status_code=503)
        if self.number_answer == "slow":
            with contextlib.suppress(TimeoutError):  # slow, but not past the agent's own stop
                await asyncio.wait_for(self._stopping.wait(), self.slow_seconds)
        if self.number_answer == "html":
            return HTMLResponse("<!DOCTYPE html><html><title>Maintenance</title></html>")
        excluded = [] if self.number_answer == "ignoring_exceptions" else data["exceptionPhoneSet"]
        number = self._free_number(data["country"], data["service"], excluded)
        if number is None or self.number_answer == "no_numbers":
            return JSONResponse({"status": "NO_NUMBERS"})
        activation_id = next(self._ids)
        self.activations[activation_id] = Activation(number, data["service"])
        if self.number_answer == "string_number":
            return JSONResponse(
                {"status": "SUCCESS", "number": str(number), "activationId": activation_id}
            )
        return JSONResponse({"status": "SUCCESS", "number": number, "activationId": activation_id})

    def _free_number(self, country: str, service: str, excluded: list[str]) -> int | None:
        busy = {
            a.number
            for a in self.activations.values()
            if a.service == service and a.finished_with is None
        }
        for number in self.numbers.get(country, []):
            if number not in busy and not str(number).startswith(tuple(excluded)):
                return number
        return None

    async def _finish(self, data: dict[str, Any]) -> Response:
        self.finish_calls.append((data["activationId"], data["status"]))
        if self.finish_failures > 0:
            self.finish_failures -= 1
            if self.finish_failure == "silent":
                await self._stopping.wait()
            if self.finish_failure == "http_500":
                return Response("Internal Server Error", status_code=500)
            if self.finish_failure == "html":
                return HTMLResponse("<html>upstream timed out</html>")
            return JSONResponse({"status": "ERROR", "error": "database is busy"})
        activation = self.activations.get(data["activationId"])
        if activation is None:
            return JSONResponse({"status": "ERROR", "error": "no such activation"})
        if activation.finished_with is None:
            activation.finished_with = data["status"]
        return JSONResponse({"status": "SUCCESS"})

    # -- the agent's call to the hub ---------------------------------------------------------
    async def push_sms(
        self,
        hub_url: str,
        *,
        sms_id: int,
        phone: int,
        text: str,
        phone_from: str | None = "Telegram",
        changes: dict[str, Any] | None = None,
        without: tuple[str, ...] = (),
        compressed: bool = False,
    ) -> httpx.Response:
        """One PUSH_SMS as the agent sends it; `changes` replace or add fields, `without` names
        fields to leave out (bad shapes); `compressed` sends the body gzip-compressed."""
        payload: dict[str, Any] = {
            "action": "PUSH_SMS",
            "key": self.key,
            "smsId": sms_id,
            "phone": phone,
            "phoneFrom": phone_from,
            "text": text,
        }
        payload.update(changes or {})
        for name in without:
            del payload[name]
        body = json.dumps(payload).encode()
        headers = {"content-type": "application/json"}
        if compressed:
            body, headers["content-encoding"] = gzip.compress(body), "gzip"
        async with httpx.AsyncClient(timeout=30) as client:
            return await client.post(hub_url, content=body, headers=headers)

    # -- running it --------------------------------------------------------------------------
    @asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        """The agent on a free port of this event loop until the block ends; yields its URL."""
        async with served(self.app) as (base, _):
            try:
                yield f"{base}/smshub"
            finally:
                self._stopping.set()  # a request held open ends, so that uvicorn can stop
