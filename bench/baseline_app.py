"""The raw Starlette baseline of bench/api_bench.py: the least an endpoint can do to answer the
same JSON as SMS Rooms' /graphql, served by the same uvicorn with the same flags.

Per request it parses the JSON body, looks the query text up in the answers captured from SMS
Rooms in the same run (file named by BASELINE_RESPONSES), and serialises that answer again with
Starlette's JSONResponse: the same bytes on the wire, without GraphQL, auth or a database.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

_path = os.environ.get("BASELINE_RESPONSES")
ANSWERS: dict[str, object] = json.loads(Path(_path).read_text()) if _path else {}


async def graphql(request: Request) -> JSONResponse:
    body = await request.json()
    answer = ANSWERS.get(body.get("query", "")) if isinstance(body, dict) else None
    if answer is None:
        return JSONResponse({"errors": [{"message": "unknown query"}]}, status_code=400)
    return JSONResponse(answer)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/graphql", graphql, methods=["POST"]),
        Route("/healthz", healthz),
    ]
)
