"""The suppliers numbers and SMS come from, as the rest of the services see them."""

from __future__ import annotations

from models import Supplier

MAX_CODE_LENGTH = 40


async def active(code: str) -> Supplier | None:
    """The supplier of this code if it may deliver: a paused or retired one is treated as
    unknown, so its webhook changes nothing (a webhook is never trusted blindly)."""
    return await Supplier.get_or_none(code=code[:MAX_CODE_LENGTH], active=True)
