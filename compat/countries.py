"""The protocol's numeric country ids <-> the catalog's countries (Country.compat_id)."""

from __future__ import annotations

import re

from compat.errors import Refused, Token
from models import Country
from services.runtime import Runtime

# sms-activate's 12 is "USA (virtual)"; bots written for it get United States numbers (187).
ALIASES = {12: 187}
_PROTOCOL_ID = re.compile(r"^[0-9]{1,6}$")

# getCountries' "rus" field. A country missing here shows its English name there.
RUSSIAN_NAMES = {
    "RU": "Россия",
    "UA": "Украина",
    "KZ": "Казахстан",
    "CN": "Китай",
    "PH": "Филиппины",
    "ID": "Индонезия",
    "MY": "Малайзия",
    "VN": "Вьетнам",
    "IL": "Израиль",
    "PL": "Польша",
    "GB": "Великобритания",
    "NG": "Нигерия",
    "IN": "Индия",
    "CA": "Канада",
    "DE": "Германия",
    "ES": "Испания",
    "IR": "Иран",
    "TR": "Турция",
    "BR": "Бразилия",
    "FR": "Франция",
    "IT": "Италия",
    "US": "США",
}


async def resolve(rt: Runtime, raw: str | None) -> Country:
    """The catalog country of a protocol id (on sale or not: buying checks that, R11).

    Missing, non-numeric and unknown ids are refused with WRONG_COUNTRY_ID.
    """
    if raw is None or not _PROTOCOL_ID.match(raw):
        raise Refused(Token.WRONG_COUNTRY_ID)
    wanted = ALIASES.get(int(raw), int(raw))
    for country in (await rt.catalog.snapshot()).country_by_code.values():
        if country.compat_id == wanted:
            return country
    raise Refused(Token.WRONG_COUNTRY_ID)


def russian_name(country: Country) -> str:
    return RUSSIAN_NAMES.get(country.code, country.name)
