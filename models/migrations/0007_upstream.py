"""Upstream activation services (suppliers/upstream/; models/upstream.py): the getStatus schedule
of activations bought upstream, and what each upstream's last sync found (its balance)."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0006_gateway_sims')]

    initial = False

    operations = [
        ops.CreateModel(
            name='UpstreamAccount',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('supplier', fields.OneToOneField('models.Supplier', source_field='supplier_id', db_constraint=True, to_field='id', related_name='upstream_account', on_delete=OnDelete.RESTRICT)),
                ('balance_minor', fields.BigIntField(null=True)),
                ('balance_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('synced_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.CharField(null=True, max_length=300)),
                ('last_error_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'upstream_account', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='UpstreamPoll',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('activation', fields.OneToOneField('models.Activation', source_field='activation_id', db_constraint=True, to_field='id', related_name='upstream_poll', on_delete=OnDelete.RESTRICT)),
                ('due_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('claimed_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('claim_token', fields.CharField(null=True, max_length=32)),
                ('polls', fields.IntField(default=0)),
                ('codes', fields.IntField(default=0)),
                ('last_code', fields.CharField(null=True, max_length=20)),
                ('retry_seen', fields.BooleanField(default=False)),
                ('ended_upstream', fields.BooleanField(default=False)),
            ],
            options={'table': 'upstream_poll', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
