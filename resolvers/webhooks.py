"""setSmsWebhook, webhookDeliveries, and me.smsWebhook (issue 13)."""

from __future__ import annotations

import strawberry

from resolvers.context import Context
from resolvers.errors import payload, query_error
from schema.errors import UserError
from schema.webhooks import SmsWebhookPayload, WebhookDelivery
from services import user_webhooks
from services.errors import ServiceError


async def set_sms_webhook(info: strawberry.Info[Context], url: str | None) -> SmsWebhookPayload:
    viewer = await info.context.require_viewer()

    async def call() -> SmsWebhookPayload:
        rt, ip = info.context.runtime, info.context.client_ip
        done = await user_webhooks.set_webhook(rt, viewer, url, ip=ip)
        return SmsWebhookPayload(url=done.url, secret=done.secret, errors=[])

    def refused(errors: list[UserError]) -> SmsWebhookPayload:
        return SmsWebhookPayload(url=None, secret=None, errors=errors)

    return await payload(call, refused)


async def webhook_deliveries(
    info: strawberry.Info[Context], first: int | None = 20
) -> list[WebhookDelivery]:
    viewer = await info.context.require_viewer()
    try:
        found = await user_webhooks.deliveries(info.context.runtime, viewer.user_id, first)
    except ServiceError as error:
        raise query_error(error) from None
    return [WebhookDelivery.of(d) for d in found]
