"""Our countries under SMSHub's names (the protocol's `country`, e.g. "russia", "kazakhstan").

SMSHub names a country by its English name in lower case without spaces or punctuation, with a
few names of its own where they differ from ours. Its services are the short codes ours already
are (`tg`, `wa`, `go`, ...), and we order numbers of operator "any" (a buyer picks no operator).
"""

from __future__ import annotations

from models import Country

ANY_OPERATOR = "any"
# Where SMSHub's name is not our English name run together (ISO code -> SMSHub's name).
_OWN_NAMES = {"GB": "england", "US": "usa"}


def _run_together(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


def name_of(country: Country) -> str:
    """The name GET_NUMBER asks for."""
    return _OWN_NAMES.get(country.code) or _run_together(country.name)


async def country_ids() -> dict[str, int]:
    """Every name an agent may use for one of our countries (SMSHub's, and ours run together)
    -> that country's id, for reading GET_SERVICES."""
    found: dict[str, int] = {}
    for country in await Country.all():
        found[_run_together(country.name)] = country.id
        found[name_of(country)] = country.id
    return found
