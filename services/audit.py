"""Checks of the ledger's invariants, computed from the journal itself.

Used by tests, the benchmark and the `audit` command: an empty list means every cached balance
equals the sum of its transfers, the journal sums to zero, every purchase was resolved at
most once and as its activation's status says, and the payments agree with the journal: each
processor's clearing account equals what its top-ups took back minus what they credited, each
top-up's totals equal its transfers, and each refund request's hold is resolved as its state
says (services/payments/); and each supplier's payable account equals the costs of its
captured activations, each credited once, by the capture's linked COST transfer (docs/adr/0009);
and an activation revoked after its code (R14) was captured, then reversed once, of its price,
back to its buyer, while its supplier keeps the cost.
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

# An activation that got its code was captured, whatever happened after (its first SMS is the
# capture: services/sms.py); the one way for it to end other than FINISHED is a revoke (R14).
CAPTURED = "(act.status IN ('RECEIVED', 'FINISHED') OR act.first_sms_at IS NOT NULL)"

# An activation's money, by status: waiting -> an unresolved hold; received/finished -> captured;
# cancelled/expired/banned -> voided, except cancelled after its code (revoked) -> captured and
# reversed. Anything else is a violation.
ACTIVATION_MISMATCHES = f"""
SELECT act.id, act.status, act.refunded, {CAPTURED} AS captured,
       (SELECT COUNT(*) FROM transfer t WHERE t.activation_id = act.id AND t.kind = 'hold')
         AS holds,
       (SELECT COUNT(*) FROM transfer t WHERE t.activation_id = act.id AND t.kind = 'capture')
         AS captures,
       (SELECT COUNT(*) FROM transfer t WHERE t.activation_id = act.id AND t.kind = 'void')
         AS voids,
       (SELECT COUNT(*) FROM transfer t WHERE t.activation_id = act.id AND t.kind = 'reversal')
         AS reversals
FROM activation act
"""  # noqa: S608 (constants only)

EXPECTED_RESOLUTION = {
    "WAITING_SMS": (0, 0),
    "RECEIVED": (1, 0),
    "FINISHED": (1, 0),
    "CANCELLED": (0, 1),
    "EXPIRED": (0, 1),
    "BANNED": (0, 1),
}


async def ledger_violations() -> list[str]:
    problems = await balance_violations()
    for row in await connections.get("default").execute_query_dict(ACTIVATION_MISMATCHES):
        revoked = row["status"] == "CANCELLED" and bool(row["captured"])
        expected = (1, 0) if revoked else EXPECTED_RESOLUTION[row["status"]]
        actual = (int(row["captures"]), int(row["voids"]))
        if int(row["holds"]) != 1 or actual != expected or int(row["reversals"]) != revoked:
            problems.append(
                f"activation {row['id']} ({row['status']}): holds={row['holds']}"
                f" captures={actual[0]} voids={actual[1]} reversals={row['reversals']}"
            )
        if bool(row["refunded"]) != (revoked or expected == (0, 1)):
            problems.append(f"activation {row['id']} ({row['status']}): refunded={row['refunded']}")
    return (
        problems
        + await reversal_violations()
        + await payment_violations()
        + await supplier_violations()
    )


# Each activation's REVERSAL transfers (R14): one, only after its capture, of exactly the
# captured price, from revenue to its own buyer.
REVERSAL_MISMATCHES = """
SELECT act.id, act.status, act.price_minor, COUNT(t.id) AS reversals,
       COALESCE(SUM(t.amount_minor), 0) AS reversed_minor,
       (SELECT SUM(c.amount_minor) FROM transfer c
        WHERE c.activation_id = act.id AND c.kind = 'capture') AS captured_minor,
       COALESCE(SUM(CASE WHEN d.kind = 'revenue' AND u.kind = 'user' AND u.user_id = act.user_id
                         THEN 1 ELSE 0 END), 0) AS to_its_buyer
FROM activation act
JOIN transfer t ON t.activation_id = act.id AND t.kind = 'reversal'
JOIN ledger_account d ON d.id = t.debit_account_id
JOIN ledger_account u ON u.id = t.credit_account_id
GROUP BY act.id, act.status, act.price_minor, act.user_id
"""


async def reversal_violations() -> list[str]:
    problems: list[str] = []
    for row in await connections.get("default").execute_query_dict(REVERSAL_MISMATCHES):
        once = int(row["reversals"]) == 1 == int(row["to_its_buyer"])
        captured = row["captured_minor"] is not None
        price = int(row["price_minor"])
        amounts = captured and int(row["reversed_minor"]) == price == int(row["captured_minor"])
        if not (row["status"] == "CANCELLED" and once and amounts):
            problems.append(
                f"activation {row['id']} ({row['status']}): price {price},"
                f" captured {row['captured_minor']}, {row['reversals']} reversal(s) of"
                f" {row['reversed_minor']}"
            )
    return problems


async def balance_violations() -> list[str]:
    """The money alone, from one statement, so one consistent snapshot even while others
    write: every cached balance equals its transfers, none of a user or escrow is below zero,
    and all accounts sum to zero."""
    problems: list[str] = []
    total = 0
    for row in await connections.get("default").execute_query_dict(BALANCE_MISMATCHES):
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
    return problems


# A processor's clearing account, re-derived from its top-ups' totals (not from its transfers).
CLEARING_MISMATCHES = """
SELECT a.id, a.processor, a.balance_minor,
       COALESCE((SELECT SUM(t.refunded_minor + t.disputed_minor - t.credited_minor)
                 FROM top_up t WHERE t.provider = a.processor), 0) AS expected_minor
FROM ledger_account a WHERE a.kind = 'clearing' AND a.processor IS NOT NULL
"""

# The clearing account without a processor: payouts the operator makes by hand (R15).
MANUAL_PAYOUTS = """
SELECT a.balance_minor,
       COALESCE((SELECT SUM(r.amount_minor - r.fee_minor) FROM refund_request r
                 WHERE r.state = 'APPROVED' AND r.payout_state = 'manual'), 0) AS expected_minor
FROM ledger_account a WHERE a.kind = 'clearing' AND a.processor IS NULL
"""

# Each top-up's running totals against the transfers that carry its id.
TOP_UP_MISMATCHES = """
SELECT t.id, t.credited_minor, t.refunded_minor + t.disputed_minor AS taken_back_minor,
       COALESCE((SELECT SUM(x.amount_minor) FROM transfer x
                 WHERE x.top_up_id = t.id AND x.kind = 'top_up'), 0) AS credit_transfers,
       COALESCE((SELECT SUM(x.amount_minor) FROM transfer x
                 WHERE x.top_up_id = t.id AND x.kind = 'chargeback'), 0)
     + COALESCE((SELECT SUM(r.amount_minor - r.fee_minor) FROM refund_request r
                 WHERE r.top_up_id = t.id AND r.state = 'APPROVED'), 0) AS taken_back_transfers
FROM top_up t
"""

# A refund request's hold: pending -> unresolved, approved -> captured, declined -> voided.
REFUND_REQUEST_RESOLUTIONS = """
SELECT r.id, r.state, h.kind AS hold_kind, h.amount_minor AS hold_minor, r.amount_minor,
       (SELECT x.kind FROM transfer x WHERE x.pending_id = r.hold_id) AS resolution
FROM refund_request r JOIN transfer h ON h.id = r.hold_id
"""

EXPECTED_REFUND_RESOLUTION = {"PENDING": None, "APPROVED": "capture", "DECLINED": "void"}


async def payment_violations() -> list[str]:
    conn = connections.get("default")
    problems: list[str] = []
    for row in await conn.execute_query_dict(CLEARING_MISMATCHES):
        if int(row["balance_minor"]) != int(row["expected_minor"]):
            problems.append(
                f"clearing account of {row['processor']}: {row['balance_minor']}"
                f" != its top-ups' {row['expected_minor']}"
            )
    for row in await conn.execute_query_dict(MANUAL_PAYOUTS):
        if int(row["balance_minor"]) != int(row["expected_minor"]):
            problems.append(
                f"manual payouts: clearing {row['balance_minor']} != {row['expected_minor']}"
            )
    for row in await conn.execute_query_dict(TOP_UP_MISMATCHES):
        if int(row["credited_minor"]) != int(row["credit_transfers"]):
            problems.append(
                f"top-up {row['id']}: credited {row['credited_minor']}"
                f" != transfers {row['credit_transfers']}"
            )
        if int(row["taken_back_minor"]) != int(row["taken_back_transfers"]):
            problems.append(
                f"top-up {row['id']}: taken back {row['taken_back_minor']}"
                f" != transfers {row['taken_back_transfers']}"
            )
    for row in await conn.execute_query_dict(REFUND_REQUEST_RESOLUTIONS):
        held = row["hold_kind"] == "hold" and int(row["hold_minor"]) == int(row["amount_minor"])
        if not held or row["resolution"] != EXPECTED_REFUND_RESOLUTION[row["state"]]:
            problems.append(
                f"refund request {row['id']} ({row['state']}): hold {row['hold_kind']}"
                f" {row['hold_minor']}, resolution {row['resolution']}"
            )
    return problems


# A supplier's payable account (the sum of its shards, docs/adr/0019), re-derived from its
# activations (not from its transfers).
PAYABLE_MISMATCHES = f"""
SELECT a.supplier_id, SUM(a.balance_minor) AS balance_minor,
       COALESCE((SELECT SUM(act.cost_minor) FROM activation act
                 JOIN phone_number n ON n.id = act.number_id
                 WHERE n.supplier_id = a.supplier_id AND {CAPTURED}),
                0) AS expected_minor
FROM ledger_account a WHERE a.kind = 'payable'
GROUP BY a.supplier_id
"""  # noqa: S608 (constants only)

# Each activation's COST transfers: only after a capture, and then one, of its cost, to the
# payable account of its number's supplier. (Activations captured before migration 0004 were
# settled by one opening transfer per supplier, without an activation.)
COST_MISMATCHES = f"""
SELECT act.id, act.status, act.cost_minor, {CAPTURED} AS captured, COUNT(t.id) AS costs,
       COALESCE(SUM(t.amount_minor), 0) AS cost_transfers,
       COALESCE(SUM(CASE WHEN p.kind = 'payable' AND p.supplier_id = n.supplier_id
                         THEN 1 ELSE 0 END), 0) AS to_its_supplier
FROM activation act
JOIN phone_number n ON n.id = act.number_id
JOIN transfer t ON t.activation_id = act.id AND t.kind = 'cost'
JOIN ledger_account p ON p.id = t.credit_account_id
GROUP BY act.id, act.status, act.cost_minor, act.first_sms_at
"""  # noqa: S608 (constants only)


async def supplier_violations() -> list[str]:
    conn = connections.get("default")
    problems: list[str] = []
    for row in await conn.execute_query_dict(PAYABLE_MISMATCHES):
        if int(row["balance_minor"]) != int(row["expected_minor"]):
            problems.append(
                f"payable account of supplier {row['supplier_id']}: {row['balance_minor']}"
                f" != its captured costs {row['expected_minor']}"
            )
    for row in await conn.execute_query_dict(COST_MISMATCHES):
        captured = bool(row["captured"])
        settled = int(row["costs"]) == 1 == int(row["to_its_supplier"])
        if not (captured and settled and int(row["cost_transfers"]) == int(row["cost_minor"])):
            problems.append(
                f"activation {row['id']} ({row['status']}): cost {row['cost_minor']},"
                f" {row['costs']} cost transfer(s) of {row['cost_transfers']}"
            )
    return problems
