"""The index of sent outbox messages, for their pruning (services/outbox_pruning.py).

The workers' claim already has its index (0005: `outbox_message_due`, on (due_at, id) of the
messages not yet sent). Pruning looks for the other rows, sent before a cut-off, oldest first:
this one is partial too, on the sent messages only, so it costs nothing to the messages still
to send. The same statement works on PostgreSQL and SQLite.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0010_pricing")]

    initial = False

    operations = [
        ops.RunSQL(
            'CREATE INDEX "outbox_message_sent" ON "outbox_message" ("sent_at")'
            ' WHERE "sent_at" IS NOT NULL',
            reverse_sql='DROP INDEX "outbox_message_sent"',
        ),
    ]
