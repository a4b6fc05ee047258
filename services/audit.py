"""Checks of the ledger's invariants, computed from the journal itself.

Used by tests, the benchmark and the `audit` command: an empty list means every cached balance
equals the sum of its transfers, the journal sums to zero, and every purchase was resolved at
most once and as its activation's status says.
"""

from __future__ import annotations

from tortoise import connections

BALANCE_MISMATCHES = """
SELECT a.id, a.kind, a.user_id, a.balance_minor,
       COALESCE((SELECT SUM(t.amount_minor) FROM transfer t WHERE t.credit_account_id = a.id), 0)
     - COALESCE((SELECT SUM(t.amount_minor) FROM transfer t WHERE t.debit_account_id = a.id), 0)
       AS journal_minor
FROM ledger_account a
"""

# An activation's money, by status: waiting -> an unresolved hold; received/finished -> captured;
# cancelled/expired/banned -> voided. Anything else is a violation.
ACTIVATION_MISMATCHES = """
SELECT act.id, act.status, act.refunded,
       (SELECT COUNT(*) FROM transfer t WHERE t.activation_id = act.id AND t.kind = 'hold')
         AS holds,
       (SELECT COUNT(*) FROM transfer t WHERE t.activation_id = act.id AND t.kind = 'capture')
         AS captures,
       (SELECT COUNT(*) FROM transfer t WHERE t.activation_id = act.id AND t.kind = 'void') AS voids
FROM activation act
"""

EXPECTED_RESOLUTION = {
    "WAITING_SMS": (0, 0),
    "RECEIVED": (1, 0),
    "FINISHED": (1, 0),
    "CANCELLED": (0, 1),
    "EXPIRED": (0, 1),
    "BANNED": (0, 1),
}


async def ledger_violations() -> list[str]:
    conn = connections.get("default")
    problems: list[str] = []
    total = 0
    for row in await conn.execute_query_dict(BALANCE_MISMATCHES):
        total += int(row["balance_minor"])
        if int(row["balance_minor"]) != int(row["journal_minor"]):
            problems.append(
                f"account {row['id']} ({row['kind']}): cached {row['balance_minor']}"
                f" != journal {row['journal_minor']}"
            )
        if row["kind"] in ("user", "escrow") and int(row["balance_minor"]) < 0:
            problems.append(f"account {row['id']} ({row['kind']}) is below zero")
    if total != 0:
        problems.append(f"the journal does not balance: accounts sum to {total}")
    for row in await conn.execute_query_dict(ACTIVATION_MISMATCHES):
        expected = EXPECTED_RESOLUTION[row["status"]]
        actual = (int(row["captures"]), int(row["voids"]))
        if int(row["holds"]) != 1 or actual != expected:
            problems.append(
                f"activation {row['id']} ({row['status']}): holds={row['holds']}"
                f" captures={actual[0]} voids={actual[1]}"
            )
        if bool(row["refunded"]) != (expected == (0, 1)):
            problems.append(f"activation {row['id']} ({row['status']}): refunded={row['refunded']}")
    return problems
