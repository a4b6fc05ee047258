"""stats (admin only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from resolvers.context import Context
from resolvers.errors import query_error
from schema.stats import Stats
from services import stats
from services.errors import ServiceError


async def shop_stats(
    info: strawberry.Info[Context],
    from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
    to: datetime | None = None,
) -> Stats:
    admin = await info.context.require_viewer()
    try:
        figures = await stats.period(admin, from_, to)
    except ServiceError as error:
        raise query_error(error) from None
    return Stats.from_figures(figures, info.context.runtime.settings.currency)
