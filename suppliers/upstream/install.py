"""What an app needs to buy from upstreams: their NumberSource and outbox handler on the
runtime (`install`, at creation), and the background jobs (`jobs`, for the lifespan)."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from models import SupplierKind
from suppliers.upstream import codes, relay, sync
from suppliers.upstream.source import UpstreamSource

if TYPE_CHECKING:
    from services.runtime import Runtime


def install(rt: Runtime) -> None:
    rt.sources.register(SupplierKind.UPSTREAM, UpstreamSource)
    rt.outbox_handlers[relay.KIND] = relay.handler(rt)


def jobs(rt: Runtime) -> list[Coroutine[Any, Any, None]]:
    """Price/stock/balance sync, and the code poller: run until cancelled."""
    return [sync.run(rt), codes.run(rt)]
