"""A transfer kind for an activation revoked after its code (issue 12, R14): REVERSAL gives the
buyer the captured price back from revenue. The new enum value changes only a comment
(AlterChoicesOnly, as 0003); a partial unique index lets the database refuse a second reversal
of the same activation whatever the code does.
"""

import importlib

from tortoise import migrations
from tortoise.migrations import operations as ops
from models.ledger import TransferKind
from tortoise import fields

_0003 = importlib.import_module("models.migrations.0003_payments")


class Migration(migrations.Migration):
    dependencies = [('models', '0011_outbox_pruning')]

    initial = False

    operations = [
        _0003.AlterChoicesOnly(
            model_name='Transfer',
            name='kind',
            field=fields.CharEnumField(description='TOP_UP: top_up\nHOLD: hold\nCAPTURE: capture\nVOID: void\nADJUSTMENT: adjustment\nFORFEIT: forfeit\nWITHDRAWAL: withdrawal\nCHARGEBACK: chargeback\nREPAYMENT: repayment\nFEE: fee\nCOST: cost\nREVERSAL: reversal', enum_type=TransferKind, max_length=12),
        ),
        ops.RunSQL(
            'CREATE UNIQUE INDEX "transfer_one_reversal_per_activation" ON "transfer"'
            " (\"activation_id\") WHERE \"kind\" = 'reversal'",
            reverse_sql='DROP INDEX "transfer_one_reversal_per_activation"',
        ),
    ]
