"""Running the shop (issue 12): who acted in the activity log, and the shop's run-time switches.

`activity_log.actor_id` names the admin of an admin action (R16), so that a user's log shows
what was done to them and by whom; `shop_setting` holds switches every process reads, such as
maintenance (R14). The indexes serve reading one user's log, and one admin's actions, newest first.
"""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0008_user_webhooks")]

    initial = False

    operations = [
        ops.AddField(
            model_name="ActivityLog",
            name="actor",
            field=fields.ForeignKeyField(
                "models.User",
                source_field="actor_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name="actions",
                on_delete=OnDelete.RESTRICT,
            ),
        ),
        ops.CreateModel(
            name="ShopSetting",
            fields=[
                ("key", fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ("value", fields.TextField(unique=False)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={"table": "shop_setting", "app": "models", "pk_attr": "key"},
            bases=["Model"],
        ),
        ops.RunSQL(
            'CREATE INDEX "activity_log_user_id_id" ON "activity_log" ("user_id", "id")',
            reverse_sql='DROP INDEX "activity_log_user_id_id"',
        ),
        ops.RunSQL(
            'CREATE INDEX "activity_log_actor_id_id" ON "activity_log" ("actor_id", "id")',
            reverse_sql='DROP INDEX "activity_log_actor_id_id"',
        ),
    ]
