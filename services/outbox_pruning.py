"""Pruning the outbox: a sent message is deleted OUTBOX_KEEP_SENT_HOURS after it was sent, so
the table holds what is left to send plus a recent window, not one row per message ever sent.

What is kept, and why:
- every message not sent, however old: the outbox never gives a message up (services/outbox.py)
  and a message still failing after days is what an operator must see (`last_error`, the
  `smsrooms_outbox_depth` gauge);
- sent messages for OUTBOX_KEEP_SENT_HOURS: while a sent row exists, enqueuing its (kind, key)
  again is a no-op, so a decision replayed in that window (a retried request, a second sweeper)
  is not sent twice. Past it, no caller replays a decision: each key names a transition that
  happens once (an activation's ending, a setStatus occasion, a webhook delivery's id), and the
  receivers are idempotent anyway (delivery is at least once);
- nothing else reads a sent row. The users' webhook delivery log (models/webhooks.py) keeps its
  own rows, with no reference to the outbox: it reads a message only for a delivery still
  pending, and only a message not yet sent (services/user_webhooks.deliveries). A given-up
  delivery's message is a sent one (its handler returned), pruned like any other; the log's
  row says it failed.

Safe with any number of processes pruning at once: each deletes by id, again under the age
condition, so two that chose the same rows delete them once between them and neither fails.
Each round deletes at most PRUNE_BATCH_SIZE rows (one short statement: no long lock, no huge
transaction), oldest first; a backlog is worked off over the following rounds.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, cast

from models import OutboxMessage

if TYPE_CHECKING:
    from services.runtime import Runtime

PRUNE_BATCH_SIZE = 500


async def prune_sent(rt: Runtime, batch: int = PRUNE_BATCH_SIZE) -> int:
    """Deletes up to `batch` messages sent more than OUTBOX_KEEP_SENT_HOURS ago; returns how
    many. The index `outbox_message_sent` (migration 0011) finds them without a scan."""
    cutoff = rt.clock.now() - timedelta(hours=rt.settings.outbox_keep_sent_hours)
    old = (
        OutboxMessage.filter(sent_at__lt=cutoff)
        .order_by("sent_at")
        .limit(batch)
        .values_list("id", flat=True)
    )
    ids = cast("list[int]", await old)  # tortoise types flat values as tuples
    if not ids:
        return 0
    return await OutboxMessage.filter(id__in=ids, sent_at__lt=cutoff).delete()
