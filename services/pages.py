"""How long a page of any list may be ("put a limit on everything")."""

from __future__ import annotations

from typing import TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

from services.errors import InvalidInput
from settings import Settings

DEFAULT_PAGE_SIZE = 20
_Row = TypeVar("_Row", bound=Model)


def page_size(settings: Settings, first: int | None) -> int:
    """`first` as asked (null means the default), bounded by MAX_PAGE_SIZE."""
    if first is None:
        return DEFAULT_PAGE_SIZE
    limit = settings.max_page_size
    if not 1 <= first <= limit:
        raise InvalidInput(f"first must be between 1 and {limit}", field="first")
    return first


async def newest_first(
    query: QuerySet[_Row], *, first: int, after: int | None
) -> tuple[list[_Row], bool]:
    """One page of `query` by descending id: `after` is the last id of the previous page; the
    flag says whether more follow."""
    if after is not None:
        query = query.filter(id__lt=after)
    rows = await query.order_by("-id").limit(first + 1)
    return rows[:first], len(rows) > first
