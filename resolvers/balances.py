"""transactions, adjustBalance."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from resolvers.activations import query_error
from resolvers.context import Context
from resolvers.mutation import payload
from schema.accounts import Viewer, ViewerPayload
from schema.balances import Transaction, TransactionConnection, TransactionEdge
from schema.pagination import PageInfo, decode_cursor, encode_cursor, page_size
from services import balances
from services.errors import ServiceError


async def transactions(
    info: strawberry.Info[Context], first: int | None = 20, after: str | None = None
) -> TransactionConnection:
    viewer = await info.context.require_viewer()
    try:
        entries, more = await balances.history(
            viewer, first=page_size(first), after=decode_cursor("transaction", after)
        )
    except ServiceError as error:
        raise query_error(error) from None
    edges = [
        TransactionEdge(cursor=encode_cursor("transaction", e.id), node=Transaction.from_entry(e))
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
        user = await balances.adjust(admin, user_id, amount, reason, ip=info.context.client_ip)
        return ViewerPayload(viewer=Viewer.from_user(user), errors=[])

    return await payload(call, lambda errors: ViewerPayload(viewer=None, errors=errors))
