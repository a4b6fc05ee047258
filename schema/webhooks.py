"""Users' SMS webhooks as the API shows them (issue 13; frontend-contract/README.md,
"SMS webhooks"): setSmsWebhook's payload (pinned in contract/operator.graphql) and the
delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeAlias

import strawberry

from models import DeliveryStatus as RowStatus
from resolvers.errors import query_error
from schema.errors import UserError
from services import user_webhooks
from services.errors import ServiceError
from services.user_webhooks import Delivery

strawberry.enum(RowStatus, name="WebhookDeliveryStatus")
WebhookDeliveryStatus: TypeAlias = RowStatus


@strawberry.type
class SmsWebhookPayload:
    url: str | None
    secret: str | None = strawberry.field(
        description="The signing secret, shown only here; calling setSmsWebhook again makes a "
        "new one."
    )
    errors: list[UserError]


@strawberry.type(description="One SMS pushed (or being pushed) to the viewer's webhook.")
class WebhookDelivery:
    id: strawberry.ID
    activation_id: strawberry.ID
    idempotency_key: str = strawberry.field(
        description="Sent as the Idempotency-Key header: the same on every attempt of this SMS."
    )
    status: WebhookDeliveryStatus
    attempts: int = strawberry.field(description="POSTs made so far.")
    last_error: str | None = strawberry.field(
        description="Why the last attempt failed: HTTP status, time-out, refused address."
    )
    last_status_code: int | None
    response_excerpt: str | None = strawberry.field(
        description="The first 200 bytes of the receiver's last answer; no more is kept."
    )
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    next_attempt_at: datetime | None = strawberry.field(
        description="While PENDING after a failure: when it is tried again."
    )

    @classmethod
    def of(cls, delivery: Delivery) -> WebhookDelivery:
        row = delivery.row
        return cls(
            id=strawberry.ID(str(row.id)),
            activation_id=strawberry.ID(str(row.activation_id)),
            idempotency_key=row.idempotency_key,
            status=row.status,
            attempts=row.attempts,
            last_error=row.last_error,
            last_status_code=row.last_status_code,
            response_excerpt=row.response_excerpt,
            created_at=row.created_at,
            last_attempt_at=row.last_attempt_at,
            delivered_at=row.delivered_at,
            next_attempt_at=delivery.next_attempt_at,
        )


async def _last_deliveries(
    root: Any, info: strawberry.Info, first: int | None = 5
) -> list[WebhookDelivery]:
    try:
        found = await user_webhooks.deliveries(info.context.runtime, root.user_id, first)
    except ServiceError as error:  # `first` out of range
        raise query_error(error) from None
    return [WebhookDelivery.of(d) for d in found]


@strawberry.type(description="The viewer's SMS webhook (setSmsWebhook); the secret is not shown.")
class SmsWebhook:
    url: str
    user_id: strawberry.Private[int]
    last_deliveries: list[WebhookDelivery] = strawberry.field(
        resolver=_last_deliveries,
        description="The latest deliveries, newest first (all of them: webhookDeliveries).",
    )


async def sms_webhook_of(root: Any) -> SmsWebhook | None:
    """Viewer.smsWebhook (`root` is the Viewer)."""
    url = await user_webhooks.webhook_url(root.user_id)
    return None if url is None else SmsWebhook(url=url, user_id=root.user_id)
