"""How long a page of any list may be ("put a limit on everything")."""

from __future__ import annotations

from services.errors import InvalidInput
from settings import Settings

DEFAULT_PAGE_SIZE = 20


def page_size(settings: Settings, first: int | None) -> int:
    """`first` as asked (null means the default), bounded by MAX_PAGE_SIZE."""
    if first is None:
        return DEFAULT_PAGE_SIZE
    limit = settings.max_page_size
    if not 1 <= first <= limit:
        raise InvalidInput(f"first must be between 1 and {limit}", field="first")
    return first
