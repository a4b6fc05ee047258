"""Viewer, money and the payloads of the account mutations."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum

import strawberry

from models import User
from schema.errors import UserError
from schema.webhooks import SmsWebhook, sms_webhook_of
from services import accounts, ledger
from services.money import to_decimal


@strawberry.enum
class Role(Enum):
    USER = "user"
    ADMIN = "admin"


@strawberry.type
class Money:
    amount: Decimal
    currency: str = strawberry.field(description="ISO 4217 code")


def money(minor: int, currency: str) -> Money:
    return Money(amount=to_decimal(minor), currency=currency)


@strawberry.type
class Viewer:
    id: strawberry.ID
    email: str
    role: Role
    created_at: datetime
    user_id: strawberry.Private[int]
    # Known when built from the user's row; read on demand when built from a cached identity.
    verified: strawberry.Private[bool | None] = None
    sms_webhook: SmsWebhook | None = strawberry.field(
        resolver=sms_webhook_of, description="The viewer's SMS webhook (setSmsWebhook), or null."
    )

    @strawberry.field
    async def email_verified(self) -> bool:
        if self.verified is None:
            self.verified = await accounts.is_email_verified(self.user_id)
        return self.verified

    @strawberry.field
    async def balance(self, info: strawberry.Info) -> Money:
        currency = info.context.runtime.settings.currency
        return money(await ledger.balance_minor(self.user_id), currency)

    @classmethod
    def from_user(cls, user: User) -> Viewer:
        return cls(
            id=strawberry.ID(str(user.id)),
            email=user.email,
            role=Role(user.role.value),
            created_at=user.created_at,
            user_id=user.id,
            verified=user.email_verified_at is not None,
        )

    @classmethod
    def from_identity(cls, viewer: accounts.Viewer) -> Viewer:
        return cls(
            id=strawberry.ID(str(viewer.user_id)),
            email=viewer.email,
            role=Role(viewer.role.value),
            created_at=viewer.created_at,
            user_id=viewer.user_id,
        )


@strawberry.enum
class CredentialKind(Enum):
    SESSION = "session"
    API_KEY = "api_key"


@strawberry.type(description="A session token or API key of the viewer (R13: listed, revocable).")
class Credential:
    id: strawberry.ID
    kind: CredentialKind
    name: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = strawberry.field(
        description="When it last authenticated a request (to the hour)."
    )
    current: bool = strawberry.field(description="True for the credential of this request.")


@strawberry.type
class AuthPayload:
    token: str | None = strawberry.field(
        description="Bearer token for the Authorization header and the websocket "
        "connection_init payload."
    )
    viewer: Viewer | None
    errors: list[UserError]


@strawberry.type
class ViewerPayload:
    viewer: Viewer | None
    errors: list[UserError]


@strawberry.type
class ApiKeyPayload:
    key: str | None = strawberry.field(description="The secret; it cannot be read again.")
    errors: list[UserError]


@strawberry.type
class RevokePayload:
    revoked: bool
    errors: list[UserError]
