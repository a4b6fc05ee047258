"""Activations, their messages, pages of them, and the live-feed event."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TypeAlias

import strawberry

from models import Activation as ActivationModel
from models import ActivationStatus as StatusModel
from models import Sms
from schema.accounts import Money, money
from schema.catalog import Country, Service
from schema.errors import UserError
from schema.pagination import PageInfo
from services.runtime import Runtime

# The models' enum itself becomes the GraphQL enum; the alias is its name in annotations (a type
# mypy accepts, as schema/errors.py does for ErrorCode).
strawberry.enum(StatusModel, name="ActivationStatus")
ActivationStatus: TypeAlias = StatusModel


@strawberry.type
class SmsMessage:
    id: strawberry.ID
    sender: str | None
    text: str
    code: str | None
    received_at: datetime

    @classmethod
    def from_model(cls, sms: Sms) -> SmsMessage:
        return cls(
            id=strawberry.ID(str(sms.id)),
            sender=sms.sender,
            text=sms.text,
            code=sms.code,
            received_at=sms.received_at,
        )


@strawberry.type
class Activation:
    id: strawberry.ID
    phone_number: str = strawberry.field(description="E.164, e.g. +447700900123")
    country: Country
    service: Service
    price: Money
    status: ActivationStatus
    created_at: datetime
    sms_deadline: datetime = strawberry.field(
        description="If no SMS has arrived by then, the activation ends as EXPIRED and is refunded."
    )
    expires_at: datetime = strawberry.field(
        description="End of the window in which SMS are received."
    )
    refunded: bool
    code: str | None = strawberry.field(description="The newest code received, if any.")
    activation_id: strawberry.Private[int]

    @strawberry.field
    async def messages(self, info: strawberry.Info) -> list[SmsMessage]:
        rows = await info.context.loaders.messages.load(self.activation_id)
        return [SmsMessage.from_model(sms) for sms in rows]

    @classmethod
    async def from_model(cls, rt: Runtime, activation: ActivationModel) -> Activation:
        country, service = await rt.catalog.names_of(activation.country_id, activation.service_id)
        return cls(
            id=strawberry.ID(str(activation.id)),
            phone_number=activation.number.e164,
            country=Country.from_model(country),
            service=Service.from_model(service),
            price=money(activation.price_minor, activation.currency),
            status=activation.status,
            created_at=activation.created_at,
            sms_deadline=activation.sms_deadline_at,
            expires_at=activation.expires_at,
            refunded=activation.refunded,
            code=activation.code,
            activation_id=activation.id,
        )


@strawberry.type
class ActivationEdge:
    cursor: str
    node: Activation


@strawberry.type
class ActivationConnection:
    edges: list[ActivationEdge]
    page_info: PageInfo


@strawberry.type
class ActivationPayload:
    activation: Activation | None
    errors: list[UserError]


@strawberry.enum
class ActivationEventKind(Enum):
    SMS_RECEIVED = "SMS_RECEIVED"
    STATUS_CHANGED = "STATUS_CHANGED"


@strawberry.type
class ActivationEvent:
    cursor: str = strawberry.field(description="Opaque; pass it as `after` to resume from here.")
    kind: ActivationEventKind
    activation: Activation
    sms: SmsMessage | None = strawberry.field(description="The message, for SMS_RECEIVED.")
