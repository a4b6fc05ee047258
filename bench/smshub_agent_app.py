"""A fast SMSHub agent (a SIM bank) for bench/api_bench.py's agent path, served by uvicorn like
the baselines: GET_NUMBER answers after AGENT_DELAY_SECONDS (default 5 ms) with a number never
given before (so exceptionPhoneSet never matches one), GET_SERVICES lists the stock of the file
AGENT_STOCK (JSON lines [country, service, count] in SMSHub's names), FINISH_ACTIVATION is
acknowledged and counted by status (GET /stats). The key is AGENT_KEY.

It is not the reference agent of the tests (tests/smshub_agent.py), which checks more and keeps
every activation: this one must cost the shared cores as little as possible.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from baseline_app import healthz  # bench/ is on the servers' PYTHONPATH
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

KEY = os.environ.get("AGENT_KEY", "")
DELAY_SECONDS = float(os.environ.get("AGENT_DELAY_SECONDS", "0.005"))
_stock_path = os.environ.get("AGENT_STOCK")
STOCK: list[list[Any]] = json.loads(Path(_stock_path).read_text()) if _stock_path else []
_numbers = itertools.count(999_100_000_000)  # +999 is a spare country code: nobody's numbers
_activations = itertools.count(1)
finished: Counter[int] = Counter()


def _services() -> dict[str, Any]:
    countries: dict[str, dict[str, int]] = {}
    for country, service, count in STOCK:
        countries.setdefault(country, {})[service] = count
    listed = [{"country": c, "operatorMap": {"any": s}} for c, s in countries.items()]
    return {"status": "SUCCESS", "countryList": listed}


async def _number(data: dict[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(DELAY_SECONDS)
    excluded = tuple(data.get("exceptionPhoneSet") or ())
    number = next(_numbers)
    while str(number).startswith(excluded):
        number = next(_numbers)
    return {"status": "SUCCESS", "number": number, "activationId": next(_activations)}


async def smshub(request: Request) -> JSONResponse:
    data = await request.json()
    if data.get("key") != KEY:
        return JSONResponse({"status": "ERROR", "error": "wrong key"}, status_code=401)
    action = data.get("action")
    if action == "GET_SERVICES":
        return JSONResponse(_services())
    if action == "GET_NUMBER":
        return JSONResponse(await _number(data))
    if action == "FINISH_ACTIVATION":
        finished[int(data["status"])] += 1
        return JSONResponse({"status": "SUCCESS"})
    return JSONResponse({"status": "ERROR", "error": "unknown action"})


async def stats(request: Request) -> JSONResponse:
    return JSONResponse({str(status): count for status, count in finished.items()})


app = Starlette(
    routes=[
        Route("/smshub", smshub, methods=["POST"]),
        Route("/stats", stats),
        Route("/healthz", healthz),
    ]
)
