"""The background sweep: expire activations past their SMS deadline (with a refund, R4) and
close those past their window (R3).

Safe with any number of processes sweeping at once: each transition is a conditional update,
so a second sweeper (or a concurrent cancel or SMS) simply finds nothing left to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from models import Activation, ActivationStatus
from services import activations

if TYPE_CHECKING:
    from services.runtime import Runtime


@dataclass(frozen=True)
class SweepResult:
    expired: int
    finished: int


async def sweep_once(rt: Runtime) -> SweepResult:
    now = rt.clock.now()
    batch = rt.settings.sweeper_batch_size
    due = (
        await Activation.filter(status=ActivationStatus.WAITING_SMS, sms_deadline_at__lte=now)
        .order_by("sms_deadline_at")
        .limit(batch)
    )
    expired = sum([await activations.expire(rt, a) for a in due])
    ended = (
        await Activation.filter(status=ActivationStatus.RECEIVED, expires_at__lte=now)
        .order_by("expires_at")
        .limit(batch)
    )
    finished = sum([await activations.close_received(rt, a) is not None for a in ended])
    return SweepResult(expired=expired, finished=finished)
