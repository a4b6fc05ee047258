"""Markup rules: how a supplier's cost becomes the price a buyer pays (docs/adr/0011)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.catalog import Country, Service, Supplier


class PriceRule(Model):
    # One rule per scope: any of country, service and supplier, or none (the global rule). The
    # scope is also written out as `scope_key` because a unique constraint over nullable
    # columns lets any number of rows with NULLs through, on both backends.

    id = fields.IntField(primary_key=True)
    scope_key = fields.CharField(max_length=60, unique=True)
    country: fields.ForeignKeyNullableRelation[Country] = fields.ForeignKeyField(
        "models.Country", related_name="price_rules", null=True, on_delete=fields.RESTRICT
    )
    country_id: int | None
    service: fields.ForeignKeyNullableRelation[Service] = fields.ForeignKeyField(
        "models.Service", related_name="price_rules", null=True, on_delete=fields.RESTRICT
    )
    service_id: int | None
    supplier: fields.ForeignKeyNullableRelation[Supplier] = fields.ForeignKeyField(
        "models.Supplier", related_name="price_rules", null=True, on_delete=fields.RESTRICT
    )
    supplier_id: int | None
    markup_basis_points = fields.IntField()  # 1/100 of a percent: "35" percent is 3500
    min_margin_minor = fields.BigIntField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "price_rule"
