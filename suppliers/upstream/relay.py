"""setStatus through the outbox: the upstream learns that we cancel (8), finish (6) or want
another SMS (3), once each, however long it is away (contract/suppliers.md, "Common rules").

`enqueue` is called in the transaction that decides it; the outbox's workers send it after the
commit and retry with backoff until the upstream acknowledges it with the protocol's token
(ACCESS_CANCEL, ACCESS_ACTIVATION, ACCESS_RETRY_GET). The upstream is looked up when the
message is sent, so a key rotated meanwhile is the one used.

Some refusals are final answers, not failures to retry:
- BAD_STATUS to a finish (6): the upstream's activation has already ended on its side (it
  closed it at the end of its window, as ours closes RECEIVED ones, R3), so there is nothing
  left to finish and it has already charged what it will charge; asking again would get the
  same answer for ever.
- BAD_STATUS to "another SMS" (3): its activation's window has closed; ours has too, or soon.
- NO_ACTIVATION to anything: it does not know the activation (any more); no retry changes that.
- BAD_STATUS to a cancel (8): a code reached the upstream before our cancel did, and it will
  not refund a coded activation whatever we send. It is logged as a loss (we refunded our
  buyer, the upstream charged us) for an admin to settle with the upstream.
Any other refusal (EARLY_CANCEL_DENIED: sms-activate refuses a cancel in an activation's first
minutes; BAD_KEY while an admin fixes the key; NO_BALANCE ...) and any failure is retried.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from models import Supplier, SupplierKind
from services import outbox
from services.db import Connection
from suppliers.upstream import upstreams
from suppliers.upstream.protocol import UpstreamError

if TYPE_CHECKING:
    from services.runtime import Runtime

log = structlog.get_logger("upstream.relay")
KIND = "upstream.set_status"
CANCEL, FINISH, ANOTHER_SMS = 8, 6, 3
# Refusals that end the message (see the module's doc), per status sent.
FINAL_REFUSALS = {
    CANCEL: {"BAD_STATUS", "NO_ACTIVATION"},
    FINISH: {"BAD_STATUS", "NO_ACTIVATION"},
    ANOTHER_SMS: {"BAD_STATUS", "NO_ACTIVATION"},
}


async def enqueue(
    conn: Connection,
    rt: Runtime,
    supplier: Supplier,
    upstream_activation_id: str,
    status: int,
    occasion: str = "",
) -> None:
    """One message per (upstream, its activation, status[, occasion]): a replayed decision
    sends nothing more. `occasion` tells apart decisions that may repeat (another SMS)."""
    key = f"{supplier.code}:{upstream_activation_id}:{status}:{occasion}"
    payload = {"supplier": supplier.code, "id": upstream_activation_id, "status": status}
    await outbox.enqueue(conn, rt, KIND, key, payload)


def handler(rt: Runtime) -> outbox.Handler:
    async def send(payload: outbox.Payload) -> None:
        supplier = await Supplier.get_or_none(code=payload["supplier"], kind=SupplierKind.UPSTREAM)
        if supplier is None:
            raise outbox.Retry(f"no upstream {payload['supplier']!r}")
        status = int(payload["status"])
        try:
            async with upstreams.connected(rt, supplier) as client:
                await client.set_status(str(payload["id"]), status)
        except UpstreamError as error:
            if error.refusal not in FINAL_REFUSALS[status]:
                raise
            log.warning(
                "upstream refused setStatus; nothing left to tell it",
                supplier=supplier.code,
                id=payload["id"],
                status=status,
                refusal=error.refusal,
                loss=status == CANCEL,
            )

    return send
