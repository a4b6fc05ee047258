"""What may never be sold, whatever the data says (R9, R11)."""

from __future__ import annotations

from models import Country, Service

# R11: not served, and their numbers are not sold.
SANCTIONED_COUNTRIES = frozenset({"IR", "SD", "KP", "SY", "CU"})
# R11: Crimean numbering ranges (Russian +7 978 / +7 869, Ukrainian +380 65 / +380 69).
CRIMEAN_PREFIXES = ("+7978", "+7869", "+38065", "+38069")
# R9: the banking sector and these payment services by name.
PROHIBITED_CATEGORIES = frozenset({"banking", "payments", "finance"})
PROHIBITED_NAMES = ("qiwi", "webmoney")


def country_on_sale(country: Country) -> bool:
    return country.on_sale and country.code.upper() not in SANCTIONED_COUNTRIES


def service_on_sale(service: Service) -> bool:
    name = f"{service.code} {service.name}".lower()
    return not (
        not service.on_sale
        or service.forbidden
        or service.category.lower() in PROHIBITED_CATEGORIES
        or any(prohibited in name for prohibited in PROHIBITED_NAMES)
    )


def number_on_sale(e164: str) -> bool:
    return not e164.startswith(CRIMEAN_PREFIXES)


def crimean_sql_filter(column: str) -> str:
    """A SQL condition excluding Crimean ranges (constants only: no user input reaches it)."""
    return " AND ".join(f"{column} NOT LIKE '{prefix}%'" for prefix in CRIMEAN_PREFIXES)
