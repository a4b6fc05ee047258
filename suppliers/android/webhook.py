"""`POST /suppliers/{code}/android`: the Android gateway app's webhooks (contract/suppliers.md, 2).

The app retries anything not answered 2xx within 30 s, for two days, so every answer is quick
and only a fault of ours is a 5xx: a refused signature is 401, a malformed event 400 (the app
stops retrying it), and an SMS already stored is answered 200 again.
"""

from __future__ import annotations

import time

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse

from models import Supplier, SupplierKind
from services import json_input, routing, sim_pool, suppliers
from services.db import IntegrityError
from services.runtime import Runtime
from services.sms import IncomingSms, ingest
from suppliers.android import envelope as events
from suppliers.android import signature
from web.state import runtime_of

log = structlog.get_logger("suppliers.android")


def _answer(http_status: int, **body: object) -> JSONResponse:
    return JSONResponse(body, status_code=http_status)


async def receive(request: Request) -> JSONResponse:
    rt = runtime_of(request)
    supplier = await suppliers.receiving(
        request.path_params["code"], (SupplierKind.ANDROID_GATEWAY,)
    )
    if supplier is None:
        return _answer(404, error="no such supplier")
    key = suppliers.secret_of(rt.settings, supplier)
    body = await request.body()  # the edge already bounds request bodies (web/limits.py)
    if key is None or not signature.verify(
        key,
        body,
        request.headers.get("x-signature"),
        request.headers.get("x-timestamp"),
        now=time.time(),
    ):
        return _answer(401, error="signature missing, wrong or expired")
    await routing.touch(rt, supplier)  # a signed event, even a ping, is proof of life
    try:
        event = events.envelope(json_input.loads(body))
        return await _handle(rt, supplier, event)
    except ValueError as exc:  # BadEnvelope, and JSON that is not JSON (or nested too deep)
        message = str(exc) if isinstance(exc, events.BadEnvelope) else "malformed JSON"
        return _answer(400, error=message)
    except IntegrityError:
        # Two reports of one phone raced; the app retries and the second attempt finds the rows.
        return _answer(503, error="busy, retry")


async def _handle(rt: Runtime, supplier: Supplier, event: events.Envelope) -> JSONResponse:
    if event.event == "sms:received":
        sms = events.received_sms(event.payload)
        to = sms.recipient or (
            await sim_pool.number_on_slot(supplier, event.device_id, sms.sim_slot)
            if sms.sim_slot is not None
            else None
        )
        outcome = await ingest(
            rt,
            IncomingSms(
                supplier=supplier,
                message_id=sms.message_key,
                # Unknown SIM: stored for the admins (R2), delivered to no activation.
                to=to or "",
                sender=sms.sender,
                text=sms.text,
                received_at=sms.received_at,
            ),
        )
        return _answer(200, status=outcome.value)
    if event.event == "app:started":
        sims = [
            sim_pool.Sim(slot=card.slot, number=card.number, carrier=card.carrier)
            for card in events.sim_cards(event.payload)
            if card.number is not None  # a SIM whose number the phone cannot read: admin enters it
        ]
        change = await sim_pool.learn_device(rt, supplier, event.device_id, sims)
        if change.refused:
            log.warning("SIM numbers refused", supplier=supplier.code, count=len(change.refused))
        return _answer(
            200, status="ok", added=change.added, retired=change.retired, refused=change.refused
        )
    # system:ping and anything else: proof of life, nothing to store.
    return _answer(200, status="ignored" if event.event != "system:ping" else "ok")
