"""transactions, adjustBalance."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from resolvers.context import Context
from resolvers.errors import payload, query_error
from schema.accounts import Viewer, ViewerPayload
from schema.balances import Transaction, TransactionConnection, TransactionEdge
from schema.pagination import PageInfo, decode_cursor, encode_cursor
from services import balances, pages
from services.errors import ServiceError


async def transactions(
    info: strawberry.Info[Context], first: int | None = 20, after: str | None = None
) -> TransactionConnection:
    viewer = await info.context.require_viewer()
    settings = info.context.runtime.settings
    try:
        entries, more = await balances.history(
            viewer,
            first=pages.page_size(settings, first),
            after=decode_cursor("transaction", after),
        )
    except ServiceError as error:
        raise query_error(error) from None
    edges = [
        TransactionEdge(
            cursor=encode_cursor("transaction", e.id),
            node=Transaction.from_entry(e, settings.currency),
        )
        for e in entries
    ]
    return TransactionConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None),
    )


async def adjust_balance(
    info: strawberry.Info[Context], user_id: strawberry.ID, amount: Decimal, reason: str
) -> ViewerPayload:
    admin = await info.context.require_viewer()

    async def call() -> ViewerPayload:
        rt, ip = info.context.runtime, info.context.client_ip
        user = await balances.adjust(rt, admin, user_id, amount, reason, ip=ip)
        return ViewerPayload(viewer=Viewer.from_user(user), errors=[])

    return await payload(call, lambda errors: ViewerPayload(viewer=None, errors=errors))
