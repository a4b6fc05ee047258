"""A supplier's measured health, from its own activations: the share that received a code and
the median time to the first SMS, over its SUPPLIER_HEALTH_WINDOW newest activations that have
an outcome. Stored on the supplier row (routing ranks by it on every purchase, so it must not be
computed there), refreshed every SUPPLIER_HEALTH_INTERVAL_SECONDS and whenever an admin lists
the suppliers."""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Any

from models import Activation, ActivationStatus, Sms, Supplier

if TYPE_CHECKING:
    from services.runtime import Runtime

GOT_A_CODE = (ActivationStatus.RECEIVED, ActivationStatus.FINISHED)
WITH_AN_OUTCOME = (
    *GOT_A_CODE,
    ActivationStatus.CANCELLED,
    ActivationStatus.EXPIRED,
    ActivationStatus.BANNED,
)


async def refresh(rt: Runtime) -> None:
    for supplier in await Supplier.all():
        rate, median = await measure(rt, supplier.id)
        if (rate, median) != (supplier.success_rate, supplier.median_seconds_to_sms):
            await Supplier.filter(id=supplier.id).update(
                success_rate=rate, median_seconds_to_sms=median
            )


async def measure(rt: Runtime, supplier_id: int) -> tuple[float | None, float | None]:
    """(success rate 0..1, median seconds to the first SMS); None where nothing is known."""
    rows: list[Any] = (
        await Activation.filter(number__supplier_id=supplier_id, status__in=WITH_AN_OUTCOME)
        .order_by("-id")
        .limit(rt.settings.supplier_health_window)
        .values_list("id", "status", "created_at", "first_sms_at")
    )
    if not rows:
        return None, None
    # An activation revoked after its code (R14) ends CANCELLED, but the supplier delivered.
    coded = {
        int(i): created
        for i, status, created, first_sms_at in rows
        if status in GOT_A_CODE or first_sms_at is not None
    }
    first_sms: dict[int, Any] = {}
    for activation_id, received_at in (
        await Sms.filter(activation_id__in=list(coded))
        .order_by("id")
        .values_list("activation_id", "received_at")
    ):
        first_sms.setdefault(int(activation_id), received_at)
    waits = [(first_sms[i] - coded[i]).total_seconds() for i in coded if i in first_sms]
    median = max(0.0, statistics.median(waits)) if waits else None
    return len(coded) / len(rows), median
