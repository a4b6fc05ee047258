"""Users' SMS webhooks (issue 13): where each SMS of a user's activations is POSTed, and the log
of those deliveries (services/user_webhooks.py sends them through the outbox)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.accounts import User
    from models.activations import Activation, Sms


class SmsWebhook(Model):
    """One per user at most: no row, no webhook."""

    id = fields.IntField(primary_key=True)
    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "models.User", related_name="sms_webhook", on_delete=fields.RESTRICT
    )
    user_id: int
    url = fields.CharField(max_length=2000)
    # The signing secret, sealed (services/sealing.py): we must open it to sign each POST.
    secret_sealed = fields.TextField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "sms_webhook"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # not acknowledged yet: in flight, or waiting for its next attempt
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # given up: the retry horizon passed, or the webhook was turned off


class WebhookDelivery(Model):
    """One per SMS delivered to an activation of a user with a webhook: its key is the
    Idempotency-Key the receiver de-duplicates on, whatever the number of attempts."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="webhook_deliveries", on_delete=fields.RESTRICT
    )
    user_id: int
    sms: fields.OneToOneRelation[Sms] = fields.OneToOneField(
        "models.Sms", related_name="webhook_delivery", on_delete=fields.RESTRICT
    )
    sms_id: int
    activation: fields.ForeignKeyRelation[Activation] = fields.ForeignKeyField(
        "models.Activation", related_name="webhook_deliveries", on_delete=fields.RESTRICT
    )
    activation_id: int
    idempotency_key = fields.CharField(max_length=64, unique=True)
    status = fields.CharEnumField(DeliveryStatus, max_length=10, default=DeliveryStatus.PENDING)
    attempts = fields.IntField(default=0)  # POSTs made (or tried) so far
    last_error = fields.CharField(max_length=300, null=True)
    last_status_code = fields.IntField(null=True)
    # The start of the receiver's last answer, for the user's debugging; never more is kept.
    response_excerpt = fields.CharField(max_length=200, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_attempt_at = fields.DatetimeField(null=True)
    delivered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "webhook_delivery"
        indexes = (("user_id", "id"),)
