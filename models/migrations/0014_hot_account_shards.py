"""Revenue and each supplier's payable account in 16 rows each (issue 11, docs/adr/0019).

Every first code credits both in its one statement (services/sms_writes.py), so with one row
each, concurrent first codes waited for each other's row locks until commit (`Lock/tuple` and
`Lock/transactionid` were two thirds of their backends' time in bench/ingest_bench.py). A new
`shard` column (0 for every account, as before) joins the system accounts' unique index, and
shards 1 to 15 of revenue and of every supplier's payable account are added with a zero
balance: the existing rows are shard 0 and keep their balances, so no money moves. The count
is frozen here (models.ledger.HOT_ACCOUNT_SHARDS must say the same).
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

SHARDS = 16


async def add_shards(apps, schema_editor) -> None:  # noqa: ANN001 (tortoise's signature)
    client = schema_editor.client
    await client.execute_script('DROP INDEX "ledger_one_system_account_per_kind"')
    await client.execute_script(
        'CREATE UNIQUE INDEX "ledger_one_system_account_per_kind" ON "ledger_account" '
        "(\"kind\", COALESCE(\"processor\", ''), COALESCE(\"supplier_id\", 0), \"shard\") "
        'WHERE "user_id" IS NULL'
    )
    for shard in range(1, SHARDS):
        await client.execute_script(
            'INSERT INTO "ledger_account" (kind, balance_minor, shard) '
            f"VALUES ('revenue', 0, {shard})"
        )
        await client.execute_script(
            'INSERT INTO "ledger_account" (kind, supplier_id, balance_minor, shard) '
            f"SELECT 'payable', id, 0, {shard} FROM \"supplier\""
        )


class Migration(migrations.Migration):
    dependencies = [("models", "0013_transfer_by_activation")]

    initial = False

    operations = [
        ops.AddField(
            model_name="LedgerAccount",
            name="shard",
            field=fields.SmallIntField(default=0, db_default=0),
        ),
        ops.RunPython(add_shards),
    ]
