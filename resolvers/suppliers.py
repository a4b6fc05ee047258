"""suppliers; createSupplier, updateSupplier, rotateSupplierSecret, setSupplierCost (admin only)."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from models import Supplier as SupplierRow
from models import UpstreamAccount
from resolvers.context import Context
from resolvers.errors import payload, query_error
from schema.errors import UserError
from schema.suppliers import (
    Supplier,
    SupplierInput,
    SupplierPayload,
    SupplierUpdate,
    UpstreamView,
)
from services import stock, suppliers
from services.errors import ServiceError
from services.runtime import Runtime


async def _shown(rt: Runtime, rows: list[SupplierRow]) -> list[Supplier]:
    ids = [r.id for r in rows]
    available, owed = await stock.per_supplier(), await suppliers.owed_minor(ids)
    upstream = await _upstream_views(rt, ids)
    return [
        Supplier.from_row(
            r,
            available=available.get(r.id, 0),
            owed_minor=owed.get(r.id, 0),
            upstream=upstream.get(r.id),
        )
        for r in rows
    ]


async def _upstream_views(rt: Runtime, supplier_ids: list[int]) -> dict[int, UpstreamView]:
    low = rt.settings.upstream_low_balance_minor
    return {
        a.supplier_id: UpstreamView(
            balance_minor=a.balance_minor,
            low=a.balance_minor is not None and a.balance_minor < low,
            synced_at=a.synced_at,
            error=a.last_error,
        )
        for a in await UpstreamAccount.filter(supplier_id__in=supplier_ids)
    }


async def supplier_list(info: strawberry.Info[Context]) -> list[Supplier]:
    admin = await info.context.require_viewer()
    try:
        rows = await suppliers.listing(info.context.runtime, admin)
    except ServiceError as error:
        raise query_error(error) from None
    return await _shown(info.context.runtime, rows)


async def _answer(rt: Runtime, row: SupplierRow, secret: str | None = None) -> SupplierPayload:
    [shown] = await _shown(rt, [row])
    return SupplierPayload(supplier=shown, secret=secret, errors=[])


def _refused(errors: list[UserError]) -> SupplierPayload:
    return SupplierPayload(supplier=None, secret=None, errors=errors)


async def create_supplier(info: strawberry.Info[Context], input: SupplierInput) -> SupplierPayload:  # noqa: A002
    admin = await info.context.require_viewer()

    async def call() -> SupplierPayload:
        new = suppliers.NewSupplier(
            code=input.code,
            name=input.name,
            kind=input.kind,
            url=input.url,
            api_key=input.api_key,
            currency=input.currency,
            default_cost=input.default_cost,
            numbers=input.numbers,
        )
        rt, ip = info.context.runtime, info.context.client_ip
        return await _answer(rt, *await suppliers.create(rt, admin, new, ip=ip))

    return await payload(call, _refused)


async def update_supplier(
    info: strawberry.Info[Context],
    id: strawberry.ID,  # noqa: A002
    input: SupplierUpdate,  # noqa: A002
) -> SupplierPayload:
    admin = await info.context.require_viewer()

    async def call() -> SupplierPayload:
        changes = suppliers.SupplierChanges(
            name=input.name,
            url=input.url,
            api_key=input.api_key,
            state=input.state,
            default_cost=input.default_cost,
            numbers=input.numbers,
        )
        rt, ip = info.context.runtime, info.context.client_ip
        return await _answer(rt, await suppliers.update(rt, admin, id, changes, ip=ip))

    return await payload(call, _refused)


async def rotate_supplier_secret(
    info: strawberry.Info[Context], id: strawberry.ID
) -> SupplierPayload:  # noqa: A002
    admin = await info.context.require_viewer()

    async def call() -> SupplierPayload:
        rt, ip = info.context.runtime, info.context.client_ip
        return await _answer(rt, *await suppliers.rotate_secret(rt, admin, id, ip=ip))

    return await payload(call, _refused)


async def set_supplier_cost(
    info: strawberry.Info[Context],
    supplier_id: strawberry.ID,
    country: str | None,
    service: str | None,
    cost: Decimal,
) -> SupplierPayload:
    admin = await info.context.require_viewer()

    async def call() -> SupplierPayload:
        rt, ip = info.context.runtime, info.context.client_ip
        row = await suppliers.set_cost(rt, admin, supplier_id, country, service, cost, ip=ip)
        return await _answer(rt, row)

    return await payload(call, _refused)
