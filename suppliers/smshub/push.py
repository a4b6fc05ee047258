"""`POST /suppliers/{supplier}/smshub`: an SMSHub agent's PUSH_SMS (contract/suppliers.md, 1).

`{"action":"PUSH_SMS","key":"K","smsId":1,"phone":79281234567,"phoneFrom":"Telegram",
"text":"..."}` -> `{"status":"SUCCESS"}`. The body may come gzip-compressed (the protocol
allows it); the size bound holds for the body as sent and as decoded. The key is checked before
anything is stored: a wrong or missing one is answered 401. The agent retries every 10 s until
it gets SUCCESS, so SUCCESS is also the answer to a repeat: the message is stored once, by
(supplier, smsId), as services.sms.ingest guarantees for every supplier. Every message is stored
(R2), whether or not a live activation is waiting for it.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse

from services.sms import IncomingSms, ingest
from suppliers.smshub import agents, protocol
from suppliers.smshub.protocol import Action, Failure
from suppliers.webhook import read_body
from web.state import runtime_of


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"status": "ERROR", "error": message}, status_code=status)


async def receive_push(request: Request) -> JSONResponse:
    rt = runtime_of(request)
    agent = await agents.find(rt.settings, request.path_params["supplier"])
    if agent is None:
        return _error(404, "no such supplier")
    if not agent.key:
        return _error(403, "this supplier takes no SMSHub pushes")
    limit = rt.settings.webhook_max_body_bytes
    body = await read_body(request, limit)
    if body is not None and request.headers.get("content-encoding", "").lower() == "gzip":
        body = protocol.gunzip(body, limit)
    if body is None:
        return _error(400, "body too large, or not valid gzip")
    data = protocol.decode(body)
    if isinstance(data, Failure):
        return _error(400, data.detail)
    if not _same_key(data.get("key"), agent.key):
        return _error(401, "wrong key")
    if data.get("action") != Action.PUSH_SMS:
        return _error(400, "this URL takes PUSH_SMS only")
    pushed = protocol.parse_push(data)
    if isinstance(pushed, Failure):
        return _error(400, pushed.detail)
    await ingest(
        rt,
        IncomingSms(
            supplier=agent.supplier,
            message_id=str(pushed.sms_id),
            to=pushed.e164,
            sender=pushed.sender,
            text=pushed.text,
            received_at=rt.clock.now(),
        ),
    )
    return JSONResponse({"status": "SUCCESS"})


def _same_key(given: object, expected: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())
