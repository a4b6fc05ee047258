"""SMS ingest on PostgreSQL as two statements, each its own short transaction (docs/adr/0013).

The ORM path (services/sms.py, kept for SQLite) took 14 round trips for a further code and 37
for a first one (its capture and the supplier's cost), all inside one transaction, with the
user's event lock and, on a first code, the revenue account's row lock held across them while
Python built the next query. Here:

1. `CANDIDATES` reads the live activations on the number, with their service's patterns
   (no lock: the match is Python's regex, services/sms.py, and the write below re-checks
   every condition it relies on);
2. `DELIVER` writes everything else in one statement of data-modifying CTEs: the user's event
   lock first (services/locks.py), the activation (WAITING_SMS -> RECEIVED with its capture,
   or a further SMS on a RECEIVED one), the SMS row (delivered or only stored), the events in
   id order, the ledger's CAPTURE and COST (accounts locked in ascending id, as
   services/ledger.py locks them; revenue and payable in the activation's shard, ADR 0019),
   the user's webhook delivery and its outbox message. It runs
   without BEGIN/COMMIT: one statement is one transaction, so every lock it takes is held for
   that statement only, and nothing is committed unless all of it is.

The database's guards stand behind this SQL as behind the ORM's: the unique (supplier, message
id) pair makes a replayed message fail (services/sms.py answers DUPLICATE), the unique
`pending` lets a hold be captured once, the CHECK on escrow refuses a capture the escrow does
not hold. A first code whose capture could not be written as a whole (no hold, no payable
account) makes the statement fail rather than commit a code without its money.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from models import AccountKind, Activation, ActivationStatus, EventKind, Sms, TransferKind
from models.activations import LIVE_STATUSES
from models.ledger import HOT_ACCOUNT_SHARDS
from services import locks
from services.db import Connection
from services.events import Notice

_WAITING = f"'{ActivationStatus.WAITING_SMS.value}'"
_RECEIVED = f"'{ActivationStatus.RECEIVED.value}'"
_LIVE = ", ".join(f"'{s.value}'" for s in LIVE_STATUSES)

# $1 the number (E.164), $2 its supplier, $3 now. The live activations on that number of that
# supplier, oldest first, each with its service's patterns (`p__sender`, `p__code`).
CANDIDATES = f"""
SELECT a.*, s.sender_pattern AS p__sender, s.code_pattern AS p__code
FROM phone_number n
JOIN activation a ON a.number_id = n.id
JOIN service s ON s.id = a.service_id
WHERE n.e164 = $1 AND n.supplier_id = $2 AND a.status IN ({_LIVE}) AND a.expires_at > $3
ORDER BY a.id
"""  # noqa: S608 (constants only; every value is a parameter)

# $1 supplier, $2 message id, $3 to, $4 sender, $5 text, $6 received at, $7 the wall clock.
STORE = """
INSERT INTO sms (supplier_id, supplier_message_id, to_e164, sender, text, received_at, stored_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""

# $1 activation, $2 its user, $3 now (the runtime's clock), $4 the code (NULL: none read),
# $5 supplier, $6 message id, $7 to, $8 sender, $9 text, $10 received at, $11 the wall clock
# (what auto_now_add columns get), $12 the webhook delivery's idempotency key, $13 its outbox
# kind. One row: the SMS's id, the activation it was delivered to (NULL: only stored), whether
# it was the first code, the events written (ids and kinds, in id order), the outbox messages.
#
# `further` covers the race the statement's snapshot leaves open: it is taken before the event
# lock is granted, so an activation another ingest moved to RECEIVED meanwhile is seen WAITING;
# `first` then finds it RECEIVED when it locks the row (and updates nothing), and `further`,
# whose condition holds for both versions, delivers to it as a further SMS. A WAITING one past
# its deadline (R4) or without a hold matches neither.
DELIVER = f"""
WITH locked AS MATERIALIZED (SELECT pg_advisory_xact_lock({locks.EVENT_LOCK_CLASS}, $2)),
hold AS (
  SELECT t.id, t.amount_minor FROM transfer t
  WHERE t.activation_id = $1 AND t.kind = '{TransferKind.HOLD.value}'
),
first AS (
  UPDATE activation a SET status = {_RECEIVED}, code = $4::text,
    another_sms_requested_at = NULL, first_sms_at = $3
  FROM locked, hold h
  WHERE a.id = $1 AND a.status = {_WAITING} AND a.sms_deadline_at > $3
  RETURNING a.id, a.user_id, a.status, a.cost_minor, h.id AS hold_id, h.amount_minor
),
further AS (
  UPDATE activation a SET another_sms_requested_at = NULL, code = COALESCE($4::text, a.code)
  FROM locked
  WHERE a.id = $1 AND NOT EXISTS (SELECT 1 FROM first)
    AND (a.status = {_RECEIVED}
         OR (a.status = {_WAITING} AND a.sms_deadline_at > $3 AND EXISTS (SELECT 1 FROM hold)))
  RETURNING a.id, a.user_id, a.status
),
delivered AS (
  SELECT id, user_id, status FROM first UNION ALL SELECT id, user_id, status FROM further
),
stored AS (
  INSERT INTO sms (supplier_id, supplier_message_id, to_e164, sender, text, code, received_at,
    stored_at, activation_id)
  SELECT $5, $6, $7, $8, $9, CASE WHEN d.id IS NOT NULL THEN $4::text END, $10, $11, d.id
  FROM (SELECT 1) AS one LEFT JOIN delivered d ON true
  RETURNING id
),
accounts AS MATERIALIZED (
  SELECT a.id, a.kind FROM ledger_account a, first f
  WHERE (a.kind = '{AccountKind.ESCROW.value}' AND a.user_id = f.user_id)
     OR (a.user_id IS NULL AND a.shard = f.id % {HOT_ACCOUNT_SHARDS}
         AND (a.kind = '{AccountKind.REVENUE.value}'
              OR (a.kind = '{AccountKind.PAYABLE.value}' AND a.supplier_id = $5
                  AND f.cost_minor > 0)))
  ORDER BY a.id
  FOR UPDATE OF a
),
escrow AS (
  UPDATE ledger_account a SET balance_minor = a.balance_minor - f.amount_minor
  FROM first f, accounts l WHERE a.id = l.id AND l.kind = '{AccountKind.ESCROW.value}'
  RETURNING a.id, a.balance_minor
),
revenue AS (
  UPDATE ledger_account a SET balance_minor = a.balance_minor + f.amount_minor - f.cost_minor
  FROM first f, accounts l WHERE a.id = l.id AND l.kind = '{AccountKind.REVENUE.value}'
  RETURNING a.id, a.balance_minor
),
payable AS (
  UPDATE ledger_account a SET balance_minor = a.balance_minor + f.cost_minor
  FROM first f, accounts l WHERE a.id = l.id AND l.kind = '{AccountKind.PAYABLE.value}'
  RETURNING a.id, a.balance_minor
),
captured AS (
  INSERT INTO transfer (kind, debit_account_id, credit_account_id, amount_minor,
    debit_balance_after, credit_balance_after, pending_id, activation_id, description, created_at)
  SELECT '{TransferKind.CAPTURE.value}', e.id, r.id, f.amount_minor, e.balance_minor,
    r.balance_minor + f.cost_minor, f.hold_id, f.id, 'activation ' || f.id || ': code received',
    $11
  FROM first f, escrow e, revenue r
  RETURNING id
),
cost AS (
  INSERT INTO transfer (kind, debit_account_id, credit_account_id, amount_minor,
    debit_balance_after, credit_balance_after, activation_id, description, created_at)
  SELECT '{TransferKind.COST.value}', r.id, p.id, f.cost_minor, r.balance_minor, p.balance_minor,
    f.id, 'activation ' || f.id || ': supplier''s cost', $11
  FROM first f, revenue r, payable p, captured
  RETURNING id
),
event AS (
  INSERT INTO activation_event (activation_id, user_id, kind, status, sms_id, created_at)
  SELECT e.activation_id, e.user_id, e.kind, e.status, e.sms_id, $11 FROM (
    SELECT 1 AS n, d.id AS activation_id, d.user_id,
      '{EventKind.SMS_RECEIVED.value}' AS kind, d.status, s.id AS sms_id
    FROM delivered d, stored s
    UNION ALL
    SELECT 2, f.id, f.user_id, '{EventKind.STATUS_CHANGED.value}', f.status, NULL
    FROM first f, captured
  ) AS e
  ORDER BY e.n
  RETURNING id, kind
),
delivery AS (
  INSERT INTO webhook_delivery (user_id, sms_id, activation_id, idempotency_key, status,
    attempts, created_at)
  SELECT d.user_id, s.id, d.id, $12, 'pending', 0, $11
  FROM delivered d JOIN sms_webhook w ON w.user_id = d.user_id, stored s
  RETURNING id
),
queued AS (
  INSERT INTO outbox_message (kind, key, payload, created_at, due_at, attempts)
  SELECT $13, w.id::text, '{{"delivery": ' || w.id || '}}', $11, $3, 0 FROM delivery w
  ON CONFLICT (kind, key) DO NOTHING
  RETURNING id
),
-- What the statement wrote, counted once for the row below.
outcome AS (
  SELECT (SELECT count(*) FROM first) AS firsts, (SELECT max(cost_minor) FROM first) AS cost,
    (SELECT count(*) FROM captured) AS captures, (SELECT count(*) FROM cost) AS costs,
    (SELECT count(*) FROM queued) AS queued
)
SELECT s.id AS sms_id, d.id AS activation_id, d.user_id, o.firsts > 0 AS first, o.queued,
  -- As text[], the one array type asyncpg decodes without introspecting it (services/db.py
  -- text_array).
  ARRAY(SELECT id::text FROM event ORDER BY id) AS event_ids,
  ARRAY(SELECT kind::text FROM event ORDER BY id) AS event_kinds,
  -- A first code whose money could not be moved as a whole fails the statement (a cast error
  -- naming the activation): nothing of it commits. Of a row's value, not a parameter's: a
  -- cast of constants would be folded, and fail, when the statement is planned.
  CASE WHEN o.firsts > 0 AND (o.captures = 0 OR (o.cost > 0 AND o.costs = 0))
    THEN ('activation ' || d.id || ': capture incomplete')::int END AS incomplete
FROM outcome o, stored s LEFT JOIN delivered d ON true
"""  # noqa: S608 (constants only; every value is a parameter)


@dataclass(frozen=True)
class Candidate:
    activation: Activation
    sender_pattern: str
    code_pattern: str


@dataclass(frozen=True)
class Written:
    notices: list[Notice]  # the events written, in id order (none: the SMS was only stored)
    first: bool  # the activation's first code: captured
    queued: bool  # a delivery to the user's webhook was enqueued


async def candidates(
    conn: Connection, e164: str, supplier_id: int, now: datetime
) -> list[Candidate]:
    rows = await conn.execute_query_dict(CANDIDATES, [e164, supplier_id, now])
    found = []
    for row in rows:
        sender, code = row.pop("p__sender"), row.pop("p__code")
        found.append(Candidate(Activation._init_from_db(**row), sender, code))
    return found


def _sms_row(sms: Sms) -> list[Any]:
    """The SMS's columns, in the order STORE and DELIVER take them."""
    return [
        sms.supplier_id,
        sms.supplier_message_id,
        sms.to_e164,
        sms.sender,
        sms.text,
        sms.received_at,
        datetime.now(UTC),
    ]


async def store(conn: Connection, sms: Sms) -> None:
    """Stores an SMS delivered to no activation (R2: kept for audit)."""
    await conn.execute_query(STORE, _sms_row(sms))


async def deliver(
    conn: Connection,
    *,
    sms: Sms,
    activation: Activation,
    code: str | None,
    now: datetime,
    idempotency_key: str,
    outbox_kind: str,
) -> Written:
    rows: list[dict[str, Any]] = await conn.execute_query_dict(
        DELIVER,
        [
            activation.id,
            activation.user_id,
            now,
            code,
            *_sms_row(sms),
            idempotency_key,
            outbox_kind,
        ],
    )
    row = rows[0]
    if row["activation_id"] is None:
        return Written([], first=False, queued=False)
    notices = [
        Notice(int(event_id), row["activation_id"], row["user_id"], kind)
        for event_id, kind in zip(row["event_ids"], row["event_kinds"], strict=True)
    ]
    return Written(notices, first=row["first"], queued=row["queued"] > 0)
