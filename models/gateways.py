"""Which SIM slot of which Android gateway phone holds which of our numbers.

An SMS reported by the phone names the SIM slot it arrived on, and its recipient number only
when the phone can read it; this table turns the slot into the number (suppliers/android).
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.catalog import PhoneNumber, Supplier


class GatewaySim(Model):
    id = fields.IntField(primary_key=True)
    supplier: fields.ForeignKeyRelation[Supplier] = fields.ForeignKeyField(
        "models.Supplier", related_name="gateway_sims", on_delete=fields.RESTRICT
    )
    supplier_id: int
    device_id = fields.CharField(max_length=100)
    slot = fields.SmallIntField()  # 1-based, as the app's `simNumber`
    number: fields.ForeignKeyRelation[PhoneNumber] = fields.ForeignKeyField(
        "models.PhoneNumber", related_name="gateway_sims", on_delete=fields.RESTRICT
    )
    number_id: int
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "gateway_sim"
        unique_together = (("supplier", "device_id", "slot"),)
