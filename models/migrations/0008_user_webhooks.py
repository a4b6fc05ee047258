"""Users' SMS webhooks and their delivery log (issue 13; models/webhooks.py)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from models.webhooks import DeliveryStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0007_upstream')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SmsWebhook',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.OneToOneField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='sms_webhook', on_delete=OnDelete.RESTRICT)),
                ('url', fields.CharField(max_length=2000)),
                ('secret_sealed', fields.TextField(unique=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'sms_webhook', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One per user at most: no row, no webhook.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='webhook_deliveries', on_delete=OnDelete.RESTRICT)),
                ('sms', fields.OneToOneField('models.Sms', source_field='sms_id', db_constraint=True, to_field='id', related_name='webhook_delivery', on_delete=OnDelete.RESTRICT)),
                ('activation', fields.ForeignKeyField('models.Activation', source_field='activation_id', db_constraint=True, to_field='id', related_name='webhook_deliveries', on_delete=OnDelete.RESTRICT)),
                ('idempotency_key', fields.CharField(unique=True, max_length=64)),
                ('status', fields.CharEnumField(default=DeliveryStatus.PENDING, description='PENDING: pending\nDELIVERED: delivered\nFAILED: failed', enum_type=DeliveryStatus, max_length=10)),
                ('attempts', fields.IntField(default=0)),
                ('last_error', fields.CharField(null=True, max_length=300)),
                ('last_status_code', fields.IntField(null=True)),
                ('response_excerpt', fields.CharField(null=True, max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'webhook_delivery', 'app': 'models', 'indexes': [Index(fields=['user_id', 'id'])], 'pk_attr': 'id', 'table_description': 'One per SMS delivered to an activation of a user with a webhook: its key is the'},
            bases=['Model'],
        ),
    ]
