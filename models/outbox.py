"""The outbox: calls to other systems that must happen, written in the transaction that decides
them and sent after it commits, until they are acknowledged (services/outbox.py)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class OutboxMessage(Model):
    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=60)  # which handler sends it, e.g. "smshub.finish"
    # One message per (kind, key): enqueuing the same decision twice is a no-op.
    key = fields.CharField(max_length=200)
    payload = fields.TextField()  # JSON, read by the kind's handler
    created_at = fields.DatetimeField(auto_now_add=True)
    due_at = fields.DatetimeField()  # not sent before this (retries back off)
    attempts = fields.IntField(default=0)  # claims so far, counted when claimed
    # A worker's claim: no other takes the message until `claimed_until` has passed.
    claimed_until = fields.DatetimeField(null=True)
    claim_token = fields.CharField(max_length=32, null=True)
    last_error = fields.CharField(max_length=500, null=True)
    sent_at = fields.DatetimeField(null=True)  # acknowledged: never sent again

    class Meta:
        table = "outbox_message"
        unique_together = (("kind", "key"),)
