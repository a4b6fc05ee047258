"""The SIM slots of Android gateway phones (issue 8; models/gateways.py)."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0005_outbox')]

    initial = False

    operations = [
        ops.CreateModel(
            name='GatewaySim',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('supplier', fields.ForeignKeyField('models.Supplier', source_field='supplier_id', db_constraint=True, to_field='id', related_name='gateway_sims', on_delete=OnDelete.RESTRICT)),
                ('device_id', fields.CharField(max_length=100)),
                ('slot', fields.SmallIntField()),
                ('number', fields.ForeignKeyField('models.PhoneNumber', source_field='number_id', db_constraint=True, to_field='id', related_name='gateway_sims', on_delete=OnDelete.RESTRICT)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'gateway_sim', 'app': 'models', 'unique_together': (('supplier', 'device_id', 'slot'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
