"""topUps, paymentProviders, refundRequests, paymentReconciliation; createTopUp, requestRefund,
decideRefund, settleTopUp."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from resolvers.context import Context
from resolvers.errors import payload, query_error
from schema.pagination import PageInfo, decode_cursor, encode_cursor
from schema.payments import (
    PaymentProvider,
    RefundRequest,
    RefundRequestConnection,
    RefundRequestEdge,
    RefundRequestPayload,
    RefundRequestState,
    TopUp,
    TopUpConnection,
    TopUpDiscrepancy,
    TopUpEdge,
    TopUpPayload,
)
from services import pages
from services.errors import ServiceError
from services.payments import reconciliation, refunds, topups


async def top_ups(
    info: strawberry.Info[Context], first: int | None = 20, after: str | None = None
) -> TopUpConnection:
    viewer = await info.context.require_viewer()
    settings = info.context.runtime.settings
    try:
        rows, more = await topups.page(
            viewer, first=pages.page_size(settings, first), after=decode_cursor("top_up", after)
        )
    except ServiceError as error:
        raise query_error(error) from None
    edges = [TopUpEdge(cursor=encode_cursor("top_up", r.id), node=TopUp.from_row(r)) for r in rows]
    return TopUpConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None),
    )


def payment_providers(info: strawberry.Info[Context]) -> list[PaymentProvider]:
    settings = info.context.runtime.settings
    return [PaymentProvider.from_provider(p, settings.currency) for p in topups.providers(settings)]


async def refund_requests(
    info: strawberry.Info[Context],
    state: RefundRequestState | None = None,
    first: int | None = 20,
    after: str | None = None,
) -> RefundRequestConnection:
    admin = await info.context.require_viewer()
    settings = info.context.runtime.settings
    try:
        rows, more = await refunds.page(
            admin,
            state,
            first=pages.page_size(settings, first),
            after=decode_cursor("refund_request", after),
        )
    except ServiceError as error:
        raise query_error(error) from None
    edges = [
        RefundRequestEdge(
            cursor=encode_cursor("refund_request", r.id),
            node=RefundRequest.from_row(r, settings.currency),
        )
        for r in rows
    ]
    return RefundRequestConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None),
    )


async def payment_reconciliation(info: strawberry.Info[Context]) -> list[TopUpDiscrepancy]:
    admin = await info.context.require_viewer()
    try:
        found = await reconciliation.report(info.context.runtime, admin)
    except ServiceError as error:
        raise query_error(error) from None
    return [TopUpDiscrepancy.from_discrepancy(d) for d in found]


async def create_top_up(
    info: strawberry.Info[Context],
    amount: Decimal,
    provider: str,
    idempotency_key: str | None = None,
) -> TopUpPayload:
    viewer = await info.context.require_viewer()

    async def call() -> TopUpPayload:
        rt, ip = info.context.runtime, info.context.client_ip
        row = await topups.create(rt, viewer, amount, provider, idempotency_key, ip=ip)
        return TopUpPayload(top_up=TopUp.from_row(row), errors=[])

    return await payload(call, lambda errors: TopUpPayload(top_up=None, errors=errors))


async def settle_top_up(info: strawberry.Info[Context], id: strawberry.ID) -> TopUpPayload:  # noqa: A002
    admin = await info.context.require_viewer()

    async def call() -> TopUpPayload:
        rt, ip = info.context.runtime, info.context.client_ip
        row = await reconciliation.settle(rt, admin, id, ip=ip)
        return TopUpPayload(top_up=TopUp.from_row(row), errors=[])

    return await payload(call, lambda errors: TopUpPayload(top_up=None, errors=errors))


async def request_refund(
    info: strawberry.Info[Context], amount: Decimal, reason: str
) -> RefundRequestPayload:
    viewer = await info.context.require_viewer()

    async def call() -> RefundRequestPayload:
        rt, ip = info.context.runtime, info.context.client_ip
        row = await refunds.request(rt, viewer, amount, reason, ip=ip)
        return RefundRequestPayload(
            refund_request=RefundRequest.from_row(row, rt.settings.currency), errors=[]
        )

    return await payload(
        call, lambda errors: RefundRequestPayload(refund_request=None, errors=errors)
    )


async def decide_refund(
    info: strawberry.Info[Context],
    id: strawberry.ID,
    approve: bool,
    note: str,  # noqa: A002
) -> RefundRequestPayload:
    admin = await info.context.require_viewer()

    async def call() -> RefundRequestPayload:
        rt, ip = info.context.runtime, info.context.client_ip
        row = await refunds.decide(rt, admin, id, approve=approve, note=note, ip=ip)
        return RefundRequestPayload(
            refund_request=RefundRequest.from_row(row, rt.settings.currency), errors=[]
        )

    return await payload(
        call, lambda errors: RefundRequestPayload(refund_request=None, errors=errors)
    )
