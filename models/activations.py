"""Activations, the SMS they receive, and the event log that live feeds replay from."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.accounts import User
    from models.catalog import Country, PhoneNumber, Service, Supplier


class ActivationStatus(StrEnum):
    WAITING_SMS = "WAITING_SMS"
    RECEIVED = "RECEIVED"
    FINISHED = "FINISHED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    BANNED = "BANNED"


#: Statuses in which SMS are still delivered to the activation.
LIVE_STATUSES = (ActivationStatus.WAITING_SMS, ActivationStatus.RECEIVED)


class Activation(Model):
    id = fields.IntField(primary_key=True)  # an integer: the compatible API parses it with int()
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="activations", on_delete=fields.RESTRICT
    )
    user_id: int
    number: fields.ForeignKeyRelation[PhoneNumber] = fields.ForeignKeyField(
        "models.PhoneNumber", related_name="activations", on_delete=fields.RESTRICT
    )
    number_id: int
    country: fields.ForeignKeyRelation[Country] = fields.ForeignKeyField(
        "models.Country", related_name="activations", on_delete=fields.RESTRICT
    )
    country_id: int
    service: fields.ForeignKeyRelation[Service] = fields.ForeignKeyField(
        "models.Service", related_name="activations", on_delete=fields.RESTRICT
    )
    service_id: int
    price_minor = fields.BigIntField()
    cost_minor = fields.BigIntField()  # what its supplier is paid once it is captured
    # The supplier's own id of this activation (SMSHub's activationId, an upstream's id).
    supplier_activation_id = fields.CharField(max_length=64, null=True)
    currency = fields.CharField(max_length=3)
    status = fields.CharEnumField(
        ActivationStatus, max_length=12, default=ActivationStatus.WAITING_SMS
    )
    created_at = fields.DatetimeField()
    sms_deadline_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    ended_at = fields.DatetimeField(null=True)
    first_sms_at = fields.DatetimeField(null=True)  # when it was captured (the figures' timing)
    refunded = fields.BooleanField(default=False)
    code = fields.CharField(max_length=20, null=True)  # the newest code received
    # Set by requestAnotherSms, cleared by the next SMS (compat: STATUS_WAIT_RETRY).
    another_sms_requested_at = fields.DatetimeField(null=True)
    idempotency_key = fields.CharField(max_length=100, null=True)
    request_fingerprint = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "activation"
        unique_together = (("user", "idempotency_key"),)
        indexes = (
            ("status", "sms_deadline_at"),
            ("status", "expires_at"),
            ("number_id", "status"),
            ("created_at",),  # the figures of a period (services/stats.py)
        )


class Sms(Model):
    # Every message a supplier delivers, stored for audit whether it matched or not (R2).

    id = fields.BigIntField(primary_key=True)
    supplier: fields.ForeignKeyRelation[Supplier] = fields.ForeignKeyField(
        "models.Supplier", related_name="sms", on_delete=fields.RESTRICT
    )
    supplier_id: int
    supplier_message_id = fields.CharField(max_length=100)
    to_e164 = fields.CharField(max_length=16)
    sender = fields.CharField(max_length=100, null=True)
    text = fields.TextField()
    code = fields.CharField(max_length=20, null=True)
    received_at = fields.DatetimeField()
    stored_at = fields.DatetimeField(auto_now_add=True)
    activation: fields.ForeignKeyNullableRelation[Activation] = fields.ForeignKeyField(
        "models.Activation", related_name="messages", null=True, on_delete=fields.RESTRICT
    )
    activation_id: int | None

    class Meta:
        table = "sms"
        unique_together = (("supplier", "supplier_message_id"),)


class EventKind(StrEnum):
    SMS_RECEIVED = "SMS_RECEIVED"
    STATUS_CHANGED = "STATUS_CHANGED"


class ActivationEvent(Model):
    # What happened to an activation, written in the transaction that made it happen.
    #
    # The id is the cursor of the live feed: a subscriber that reconnects asks for every event
    # after the last id it saw, so the database, not the bus, is the source of truth.

    id = fields.BigIntField(primary_key=True)
    activation: fields.ForeignKeyRelation[Activation] = fields.ForeignKeyField(
        "models.Activation", related_name="events", on_delete=fields.RESTRICT
    )
    activation_id: int
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="events", on_delete=fields.RESTRICT
    )
    user_id: int
    kind = fields.CharEnumField(EventKind, max_length=16)
    status = fields.CharEnumField(ActivationStatus, max_length=12)
    sms: fields.ForeignKeyNullableRelation[Sms] = fields.ForeignKeyField(
        "models.Sms", related_name="events", null=True, on_delete=fields.RESTRICT
    )
    sms_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "activation_event"
        indexes = (("user_id", "id"), ("activation_id", "id"))
