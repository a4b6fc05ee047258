"""The index of an activation's transfers (docs/adr/0012).

`transfer` had no index on `activation_id` (only 0012's partial one, of reversals): each
cancel, ban, expiry and first SMS found its hold by reading the whole journal, under its user's
lock, and the audit counted each activation's transfers the same way. The same statement works
on PostgreSQL and SQLite.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0012_reversal")]

    initial = False

    operations = [
        ops.RunSQL(
            'CREATE INDEX "transfer_by_activation" ON "transfer" ("activation_id", "kind")',
            reverse_sql='DROP INDEX "transfer_by_activation"',
        ),
    ]
