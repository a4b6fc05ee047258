"""R5: too many cancellations without a code lead to a buying cool-down.

Counted over a sliding window from the activations themselves (no extra counters to drift):
past ABUSE_CANCEL_THRESHOLD cancellations with under ABUSE_MIN_SUCCESS_RATIO of purchases
getting a code, buying is refused until the cool-down ends; a user who earns a second cool-down
is flagged for an admin.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from models import Activation, ActivationStatus, User
from services.errors import RateLimited

if TYPE_CHECKING:
    from services.runtime import Runtime

RECEIVED_CODE = (ActivationStatus.RECEIVED, ActivationStatus.FINISHED)
REFUNDED_ON_REQUEST = (ActivationStatus.CANCELLED, ActivationStatus.BANNED)


async def check_may_buy(rt: Runtime, user: User) -> None:
    settings = rt.settings
    now = rt.clock.now()
    if user.cooldown_until is not None and user.cooldown_until > now:
        raise RateLimited(
            "too many cancellations: buying is paused (R5)", until=user.cooldown_until
        )
    since = now - timedelta(seconds=settings.abuse_window_seconds)
    recent = Activation.filter(user_id=user.id, created_at__gte=since)
    # A ban refunds like a cancel; counting only cancels would let a ban loop drain the pool.
    cancelled = await recent.filter(status__in=REFUNDED_ON_REQUEST).count()
    if cancelled < settings.abuse_cancel_threshold:
        return
    purchases = await recent.count()
    with_code = await recent.filter(status__in=RECEIVED_CODE).count()
    if with_code >= settings.abuse_min_success_ratio * purchases:
        return
    until = now + timedelta(seconds=settings.abuse_cooldown_seconds)
    repeat = user.cooldown_until is not None
    await User.filter(id=user.id).update(
        cooldown_until=until, **({"flagged_at": now} if repeat else {})
    )
    raise RateLimited("too many cancellations: buying is paused (R5)", until=until)
