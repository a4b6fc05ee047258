"""What we keep about upstream activation services we buy from (suppliers/upstream/).

`UpstreamPoll` is the getStatus schedule of one live activation bought upstream: which process
polls it next and when (a lease, so that several processes share the work and a dead one's
polls are taken over), and what was already seen, so that a code is ingested once.
`UpstreamAccount` is what the last price/balance sync of an upstream found.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.activations import Activation
from models.catalog import Supplier


class UpstreamPoll(Model):
    id = fields.IntField(primary_key=True)
    activation: fields.OneToOneRelation[Activation] = fields.OneToOneField(
        "models.Activation", related_name="upstream_poll", on_delete=fields.RESTRICT
    )
    activation_id: int
    due_at = fields.DatetimeField(db_index=True)
    claimed_until = fields.DatetimeField(null=True)
    claim_token = fields.CharField(max_length=32, null=True)
    polls = fields.IntField(default=0)  # getStatus answers read so far: the backoff's step
    codes = fields.IntField(default=0)  # codes ingested so far: part of each SMS's message id
    last_code = fields.CharField(max_length=20, null=True)
    # STATUS_WAIT_RETRY was seen since the last code: the same code again is a new SMS.
    retry_seen = fields.BooleanField(default=False)
    # The upstream ended it (STATUS_CANCEL): it is not told to cancel what it cancelled.
    ended_upstream = fields.BooleanField(default=False)

    class Meta:
        table = "upstream_poll"


class UpstreamAccount(Model):
    id = fields.IntField(primary_key=True)
    supplier: fields.OneToOneRelation[Supplier] = fields.OneToOneField(
        "models.Supplier", related_name="upstream_account", on_delete=fields.RESTRICT
    )
    supplier_id: int
    balance_minor = fields.BigIntField(null=True)  # our balance there, in its currency
    balance_at = fields.DatetimeField(null=True)
    synced_at = fields.DatetimeField(null=True)  # the last getPrices that was read
    last_error = fields.CharField(max_length=300, null=True)  # the last sync's failure, if any
    last_error_at = fields.DatetimeField(null=True)

    class Meta:
        table = "upstream_account"
