"""activation, activations, buyNumber, cancelActivation, banNumber, finishActivation,
requestAnotherSms."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

import strawberry

from models import Activation as ActivationModel
from resolvers.context import Context
from resolvers.errors import payload, query_error
from schema.activations import (
    Activation,
    ActivationConnection,
    ActivationEdge,
    ActivationPayload,
    ActivationStatus,
)
from schema.pagination import PageInfo, decode_cursor, encode_cursor
from services import activations, pages
from services.accounts import Viewer
from services.errors import NotFound, ServiceError


async def activation(info: strawberry.Info[Context], id: strawberry.ID) -> Activation | None:  # noqa: A002
    viewer = await info.context.require_viewer()
    try:
        return await Activation.from_model(info.context.runtime, await activations.get(viewer, id))
    except NotFound:
        return None


async def activation_page(
    info: strawberry.Info[Context],
    first: int | None = 20,
    after: str | None = None,
    status: list[ActivationStatus] | None = None,
) -> ActivationConnection:
    viewer = await info.context.require_viewer()
    rt = info.context.runtime
    try:
        rows, more = await activations.page(
            viewer,
            first=pages.page_size(rt.settings, first),
            after=decode_cursor("activation", after),
            statuses=status,
        )
    except ServiceError as error:
        raise query_error(error) from None
    edges = [
        ActivationEdge(
            cursor=encode_cursor("activation", row.id), node=await Activation.from_model(rt, row)
        )
        for row in rows
    ]
    return ActivationConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None),
    )


async def _change(
    info: strawberry.Info[Context], change: Callable[[Viewer], Awaitable[ActivationModel]]
) -> ActivationPayload:
    viewer = await info.context.require_viewer()
    rt = info.context.runtime

    async def call() -> ActivationPayload:
        return ActivationPayload(
            activation=await Activation.from_model(rt, await change(viewer)), errors=[]
        )

    return await payload(call, lambda errors: ActivationPayload(activation=None, errors=errors))


async def buy_number(
    info: strawberry.Info[Context],
    country: str,
    service: str,
    max_price: Decimal | None = None,
    idempotency_key: str | None = None,
) -> ActivationPayload:
    request = activations.BuyRequest(country, service, max_price, idempotency_key)
    rt, ip = info.context.runtime, info.context.client_ip
    return await _change(info, lambda v: activations.buy(rt, v, request, ip=ip))


async def cancel_activation(info: strawberry.Info[Context], id: strawberry.ID) -> ActivationPayload:  # noqa: A002
    rt, ip = info.context.runtime, info.context.client_ip
    return await _change(info, lambda v: activations.cancel(rt, v, id, ip=ip))


async def ban_number(info: strawberry.Info[Context], id: strawberry.ID) -> ActivationPayload:  # noqa: A002
    rt, ip = info.context.runtime, info.context.client_ip
    return await _change(info, lambda v: activations.ban(rt, v, id, ip=ip))


async def finish_activation(info: strawberry.Info[Context], id: strawberry.ID) -> ActivationPayload:  # noqa: A002
    return await _change(info, lambda v: activations.finish(info.context.runtime, v, id))


async def request_another_sms(
    info: strawberry.Info[Context], id: strawberry.ID
) -> ActivationPayload:  # noqa: A002
    rt = info.context.runtime
    return await _change(info, lambda v: activations.request_another_sms(rt, v, id))
