"""Which suppliers are upstreams, and a client for one (the supplier registry: kind UPSTREAM,
its `url` the upstream's handler_api.php, its sealed key our API key there)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from models import Supplier, SupplierKind, SupplierState
from services import suppliers
from suppliers.upstream.client import UpstreamClient
from suppliers.upstream.protocol import UpstreamError

if TYPE_CHECKING:
    from services.runtime import Runtime


async def active() -> list[Supplier]:
    """The upstreams whose stock is synced: the ACTIVE ones (a paused one is not sold from)."""
    return await Supplier.filter(kind=SupplierKind.UPSTREAM, state=SupplierState.ACTIVE).order_by(
        "id"
    )


@asynccontextmanager
async def connected(
    rt: Runtime, supplier: Supplier, *, timeout_seconds: float | None = None
) -> AsyncIterator[UpstreamClient]:
    """A client of this upstream for a few calls; UpstreamError if it has no URL or key."""
    key = suppliers.secret_of(rt.settings, supplier)
    if not supplier.url or not key:
        raise UpstreamError(f"upstream {supplier.code!r} has no URL or API key")
    client = UpstreamClient(
        supplier.url,
        key,
        timeout_seconds=timeout_seconds or rt.settings.upstream_call_timeout_seconds,
    )
    try:
        yield client
    finally:
        await client.aclose()
