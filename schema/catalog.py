"""Countries, services and offers."""

from __future__ import annotations

import strawberry

from models import Country as CountryModel
from models import Service as ServiceModel
from schema.accounts import Money, money
from services.catalog import Offer


@strawberry.type
class Country:
    code: str = strawberry.field(description="ISO 3166-1 alpha-2, upper case")
    name: str
    dial_code: str = strawberry.field(description='E.164 country calling code without +, e.g. "7"')

    @classmethod
    def from_model(cls, country: CountryModel) -> Country:
        return cls(code=country.code, name=country.name, dial_code=country.dial_code)


@strawberry.type
class Service:
    code: str = strawberry.field(description='Short code as used by the compatible API, e.g. "tg"')
    name: str

    @classmethod
    def from_model(cls, service: ServiceModel) -> Service:
        return cls(code=service.code, name=service.name)


@strawberry.type
class PriceOffer:
    country: Country
    service: Service
    price: Money
    available: int = strawberry.field(description="Numbers that can be bought now.")
    success_rate: float | None = strawberry.field(
        description="Share of recent activations of this offer that received a code, 0..1; "
        "null while unknown."
    )

    @classmethod
    def from_offer(cls, offer: Offer, currency: str) -> PriceOffer:
        return cls(
            country=Country.from_model(offer.country),
            service=Service.from_model(offer.service),
            price=money(offer.price_minor, currency),
            available=offer.available,
            success_rate=offer.success_rate,
        )
