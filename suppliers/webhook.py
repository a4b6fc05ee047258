"""`POST /suppliers/{supplier}/sms`: a supplier delivers one received SMS (contract/http.md).

Signed (suppliers.signature), idempotent by the supplier's message id, bounded in size, and
validated field by field before anything is stored.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse

from models import Supplier
from services import json_input, routing, suppliers
from services.clock import Clock
from services.sms import IncomingSms, ingest
from suppliers import signature
from suppliers.moments import BadMoment, utc_moment
from web.state import runtime_of

E164 = re.compile(r"\+[1-9][0-9]{6,14}")  # used with fullmatch: no "\n" may follow
LIMITS = {"id": 100, "from": 100, "text": 2000}


class BadPayload(ValueError):
    pass


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def receive_sms(request: Request) -> JSONResponse:
    rt = runtime_of(request)
    settings = rt.settings
    supplier = await suppliers.receiving(request.path_params["supplier"], suppliers.WEBHOOK_KINDS)
    if supplier is None:
        return _error(404, "no such supplier")
    secret = suppliers.secret_of(settings, supplier)
    body = await read_body(request, settings.webhook_max_body_bytes)
    if body is None:
        return _error(400, "body too large")
    if secret is None or not signature.verify(
        secret,
        body,
        request.headers.get("x-signature"),
        now=time.time(),
        tolerance=settings.webhook_tolerance_seconds,
    ):
        return _error(401, "signature missing, wrong or expired")
    await routing.touch(rt, supplier)  # heard from, whatever the payload holds
    try:
        message = parse(supplier, body, rt.clock)
    except BadPayload as exc:
        return _error(400, str(exc))
    outcome = await ingest(rt, message)
    return JSONResponse({"status": outcome.value})


async def read_body(request: Request, limit: int) -> bytes | None:
    """The request's body, or None if it is (or says it is) longer than `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared and (not declared.isdigit() or int(declared) > limit):
        return None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return None
    return bytes(body)


def parse(supplier: Supplier, body: bytes, clock: Clock) -> IncomingSms:
    try:
        data = json_input.loads(body)
    except json.JSONDecodeError as error:
        raise BadPayload(f"malformed JSON: {error.msg}") from None
    if not isinstance(data, dict):
        raise BadPayload("the body must be a JSON object")
    for name in ("id", "to", "text"):
        if not isinstance(data.get(name), str) or not data[name].strip():
            raise BadPayload(f"'{name}' is required and must be a non-empty string")
    for name, limit in LIMITS.items():
        value = data.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            raise BadPayload(f"'{name}' must be a string of at most {limit} characters")
    if not E164.fullmatch(data["to"]):
        raise BadPayload("'to' must be an E.164 number such as +447700900123")
    return IncomingSms(
        supplier=supplier,
        message_id=data["id"].strip(),
        to=data["to"],
        sender=(data.get("from") or "").strip() or None,
        text=data["text"],
        received_at=_received_at(data.get("receivedAt"), clock),
    )


def _received_at(raw: object, clock: Clock) -> datetime:
    """When the supplier received the SMS, in UTC (services/sms.py judges the date)."""
    if raw is None:
        return clock.now()
    try:
        return utc_moment(raw)
    except BadMoment as bad:
        raise BadPayload(str(bad)) from None
