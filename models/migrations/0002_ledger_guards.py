"""Database-level guards for money and "once only" facts.

tortoise's CreateModel does not emit CHECK constraints, and SQLite cannot add one to an existing
table, so this migration adds them by dialect: CHECK constraints on PostgreSQL, triggers that
abort the statement on SQLite. Either way a bug in Python cannot overdraw a user, post a
transfer of zero, or resolve something that is not a hold (see docs/adr/0001).
"""

import re

from tortoise import migrations
from tortoise.migrations import operations as ops

# (table, constraint name, condition that must hold for every row)
GUARDS = [
    ("ledger_account", "ledger_users_money_non_negative",
     "kind NOT IN ('user', 'escrow') OR balance_minor >= 0"),
    ("transfer", "transfer_amount_positive", "amount_minor > 0"),
    ("transfer", "transfer_two_accounts", "debit_account_id <> credit_account_id"),
    ("transfer", "transfer_resolution_points_at_hold",
     "(kind IN ('capture', 'void')) = (pending_id IS NOT NULL)"),
    ("price", "price_positive", "price_minor > 0 AND cost_minor >= 0"),
    ("activation", "activation_price_positive", "price_minor > 0"),
]


def _sqlite_triggers(table: str, name: str, check: str) -> list[str]:
    # In a trigger the row being written is NEW: qualify every column of the condition.
    condition = re.sub(r"\b([a-z_]+_(?:minor|id)|kind)\b", r"NEW.\1", check)
    return [
        f'CREATE TRIGGER "{name}_{event.lower()}" BEFORE {event} ON "{table}" '
        f"WHEN NOT ({condition}) BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {name}'); END"
        for event in ("INSERT", "UPDATE")
    ]


# One account of each system kind: a partial unique index (both dialects have them).
SYSTEM_ACCOUNTS = ("revenue", "clearing", "adjustments", "forfeit")


async def add_guards(apps, schema_editor) -> None:  # noqa: ANN001 (tortoise's signature)
    client = schema_editor.client
    await client.execute_script(
        'CREATE UNIQUE INDEX "ledger_one_system_account_per_kind" ON "ledger_account" ("kind") '
        'WHERE "user_id" IS NULL'
    )
    for kind in SYSTEM_ACCOUNTS:
        await client.execute_script(
            f"INSERT INTO \"ledger_account\" (kind, balance_minor) VALUES ('{kind}', 0)"
        )
    # A number is looked up per service when it is sold: index the pair the other way round.
    await client.execute_script(
        'CREATE INDEX "number_use_by_service" ON "number_use" ("service_id", "number_id")'
    )
    for table, name, check in GUARDS:
        if schema_editor.DIALECT == "sqlite":
            for statement in _sqlite_triggers(table, name, check):
                await client.execute_script(statement)
        else:
            await client.execute_script(
                f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" CHECK ({check})'
            )


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]
    operations = [ops.RunPython(add_guards)]
