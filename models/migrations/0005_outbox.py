"""The outbox of calls that must happen (services/outbox.py): FINISH_ACTIVATION to SMSHub
agents now, user webhooks later.

Written in the shape `tortoise makemigrations` gives, plus the index of due messages: partial,
on the messages not yet sent, so that the workers' claim reads only what is left to do however
many sent messages the table keeps.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0003_payments")]

    initial = False

    operations = [
        ops.CreateModel(
            name="OutboxMessage",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("kind", fields.CharField(max_length=60)),
                ("key", fields.CharField(max_length=200)),
                ("payload", fields.TextField(unique=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("due_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("attempts", fields.IntField(default=0)),
                ("claimed_until", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("claim_token", fields.CharField(null=True, max_length=32)),
                ("last_error", fields.CharField(null=True, max_length=500)),
                ("sent_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "outbox_message",
                "app": "models",
                "unique_together": (("kind", "key"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.RunSQL(
            'CREATE INDEX "outbox_message_due" ON "outbox_message" ("due_at", "id")'
            ' WHERE "sent_at" IS NULL',
            reverse_sql='DROP INDEX "outbox_message_due"',
        ),
    ]
