"""The catalog: countries, services, prices, suppliers and their phone numbers."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class Country(Model):
    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=2, unique=True)  # ISO 3166-1 alpha-2, upper case
    name = fields.CharField(max_length=100)
    dial_code = fields.CharField(max_length=6)  # E.164 calling code without "+"
    compat_id = fields.IntField(unique=True)  # the sms-activate protocol's numeric id
    on_sale = fields.BooleanField(default=True, db_default=True)  # an admin's switch

    class Meta:
        table = "country"


class Service(Model):
    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=20, unique=True)  # e.g. "tg"
    name = fields.CharField(max_length=100)
    category = fields.CharField(max_length=40, default="messaging")
    # Regular expressions: which senders/texts belong to this service, and how to find the code.
    sender_pattern = fields.CharField(max_length=200)
    code_pattern = fields.CharField(max_length=200, default=r"\b(\d{4,8})\b")
    forbidden = fields.BooleanField(default=False)
    on_sale = fields.BooleanField(default=True, db_default=True)  # an admin's switch

    class Meta:
        table = "service"


class Price(Model):
    id = fields.IntField(primary_key=True)
    country: fields.ForeignKeyRelation[Country] = fields.ForeignKeyField(
        "models.Country", related_name="prices", on_delete=fields.RESTRICT
    )
    country_id: int
    service: fields.ForeignKeyRelation[Service] = fields.ForeignKeyField(
        "models.Service", related_name="prices", on_delete=fields.RESTRICT
    )
    service_id: int
    price_minor = fields.BigIntField()
    cost_minor = fields.BigIntField()  # what the supplier is paid

    class Meta:
        table = "price"
        unique_together = (("country", "service"),)
        # CHECK constraints: models/migrations/0002_ledger_guards.py (tortoise's CreateModel
        # does not emit them).


class SupplierKind(StrEnum):
    """How a supplier gives numbers and SMS (contract/suppliers.md)."""

    DEMO = "DEMO"  # the built-in pool of fictional numbers (DEMO_SUPPLIER)
    WEBHOOK = "WEBHOOK"  # its own pool, SMS pushed to the signed webhook of contract/http.md
    SMSHUB_AGENT = "SMSHUB_AGENT"  # a SIM bank speaking the SMSHub agent protocol
    ANDROID_GATEWAY = "ANDROID_GATEWAY"  # a phone running "SMS Gateway for Android"
    UPSTREAM = "UPSTREAM"  # another activation service, bought from over its sms-activate API


class SupplierState(StrEnum):
    ACTIVE = "ACTIVE"  # offered to buyers
    # Not offered to buyers (by an admin, or automatically after repeated failures, with a
    # reason), but still delivers SMS to the activations it has already sold.
    PAUSED = "PAUSED"
    DISABLED = "DISABLED"  # switched off: not offered, and its webhooks are answered 404


class Supplier(Model):
    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=40, unique=True)
    name = fields.CharField(max_length=100)
    # db_default: the columns are added to a table that has rows (migration 0004).
    kind = fields.CharEnumField(
        SupplierKind, max_length=16, default=SupplierKind.WEBHOOK, db_default="WEBHOOK"
    )
    state = fields.CharEnumField(
        SupplierState, max_length=10, default=SupplierState.ACTIVE, db_default="ACTIVE"
    )
    paused_reason = fields.CharField(max_length=200, null=True)
    url = fields.CharField(max_length=500, null=True)
    # Its key or signing secret, sealed with SECRETS_KEY (services/sealing.py); null for the
    # demo supplier, whose key is the setting DEMO_SUPPLIER_SECRET.
    secret_sealed = fields.TextField(null=True)
    currency = fields.CharField(
        max_length=3, default="USD", db_default="USD"
    )  # ISO 4217 of its costs
    default_cost_minor = fields.BigIntField(null=True)  # unless its stock row says otherwise
    consecutive_failures = fields.IntField(
        default=0, db_default=0
    )  # acquire errors and time-outs in a row
    # Measured health (services/supplier_health.py).
    last_contact_at = fields.DatetimeField(null=True)
    success_rate = fields.FloatField(null=True)
    median_seconds_to_sms = fields.FloatField(null=True)

    class Meta:
        table = "supplier"


class SupplierStock(Model):
    # What one supplier can give right now for one offer: written by the supplier's pool
    # (suppliers/pool.py) or its protocol's poller, read by routing and the catalog, so that no
    # purchase and no price list waits on a supplier's network.

    id = fields.IntField(primary_key=True)
    supplier: fields.ForeignKeyRelation[Supplier] = fields.ForeignKeyField(
        "models.Supplier", related_name="stock", on_delete=fields.RESTRICT
    )
    supplier_id: int
    country: fields.ForeignKeyRelation[Country] = fields.ForeignKeyField(
        "models.Country", related_name="stock", on_delete=fields.RESTRICT
    )
    country_id: int
    service: fields.ForeignKeyRelation[Service] = fields.ForeignKeyField(
        "models.Service", related_name="stock", on_delete=fields.RESTRICT
    )
    service_id: int
    available = fields.IntField()
    cost_minor = fields.BigIntField(null=True)  # null: the supplier's default cost, or the offer's
    updated_at = fields.DatetimeField()

    class Meta:
        table = "supplier_stock"
        unique_together = (("supplier", "country", "service"),)
        indexes = (("country_id", "service_id"),)


class SupplierCost(Model):
    # What an admin set a supplier is paid for one offer (setSupplierCost); ahead of what its
    # poller quotes and of its default cost.

    id = fields.IntField(primary_key=True)
    supplier: fields.ForeignKeyRelation[Supplier] = fields.ForeignKeyField(
        "models.Supplier", related_name="costs", on_delete=fields.RESTRICT
    )
    supplier_id: int
    country: fields.ForeignKeyRelation[Country] = fields.ForeignKeyField(
        "models.Country", related_name="supplier_costs", on_delete=fields.RESTRICT
    )
    country_id: int
    service: fields.ForeignKeyRelation[Service] = fields.ForeignKeyField(
        "models.Service", related_name="supplier_costs", on_delete=fields.RESTRICT
    )
    service_id: int
    cost_minor = fields.BigIntField()

    class Meta:
        table = "supplier_cost"
        unique_together = (("supplier", "country", "service"),)


class NumberState(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


class PhoneNumber(Model):
    id = fields.IntField(primary_key=True)
    e164 = fields.CharField(max_length=16, unique=True)
    country: fields.ForeignKeyRelation[Country] = fields.ForeignKeyField(
        "models.Country", related_name="numbers", on_delete=fields.RESTRICT
    )
    country_id: int
    supplier: fields.ForeignKeyRelation[Supplier] = fields.ForeignKeyField(
        "models.Supplier", related_name="numbers", on_delete=fields.RESTRICT
    )
    supplier_id: int
    operator = fields.CharField(max_length=40, default="any")
    state = fields.CharEnumField(NumberState, max_length=10, default=NumberState.ACTIVE)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "phone_number"
        indexes = (("country_id", "state"),)


class NumberUse(Model):
    # A (number, service) pair that has been sold. The unique pair is what guarantees that a
    # number is never sold twice for one service, nor again after a ban (R6).

    id = fields.IntField(primary_key=True)
    number: fields.ForeignKeyRelation[PhoneNumber] = fields.ForeignKeyField(
        "models.PhoneNumber", related_name="uses", on_delete=fields.RESTRICT
    )
    number_id: int
    service: fields.ForeignKeyRelation[Service] = fields.ForeignKeyField(
        "models.Service", related_name="number_uses", on_delete=fields.RESTRICT
    )
    service_id: int
    banned = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "number_use"
        unique_together = (("number", "service"),)
