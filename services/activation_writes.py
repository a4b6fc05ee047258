"""The hot write paths of activations as few PostgreSQL statements as the rules allow
(docs/adr/0012).

A purchase from a pool and a refunded ending (cancel, ban, expiry) were ~17 and ~15 ORM
statements in one transaction, each a round trip taken while the user's locks were held. Here
each is one statement of data-modifying CTEs, chained by what each part RETURNS, so that the
order of its steps is the order of the data. The purchase: its transaction begins with the
user's event lock (services/locks.py), then one statement takes the number (SKIP LOCKED) and
writes its use, the activation, the event and the activity row, then services/ledger.py `post`
writes the HOLD (one statement too). The ending: one statement takes the user's lock, ends the
activation, voids its hold (user account before escrow: ascending id, as `post` locks them),
bans the pair if asked, writes the event and the activity row.

The rules are the ones services/activations.py and services/ledger.py state; the database's
guards (migration 0002, the unique (number, service) and (user, idempotency key) pairs, the
unique `pending` of a resolution) stand behind this SQL as they stand behind the ORM's. SQLite
keeps the ORM path (services/activations.py): it has one writer and nothing to wait for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from models import (
    AccountKind,
    Activation,
    ActivationStatus,
    EventKind,
    LedgerAccount,
    NumberState,
    PhoneNumber,
    Supplier,
    TransferKind,
)
from services import ledger, locks, policy
from services.db import Connection, postgres_transaction


def _columns(model: type[Any], alias: str) -> str:
    """`alias`'s columns of `model`, each named `alias__column`, for `_model`."""
    return ", ".join(f'{alias}."{c}" AS "{alias}__{c}"' for c in model._meta.db_fields)


def _model(model: type[Any], row: dict[str, Any], alias: str) -> Any:
    prefix = f"{alias}__"
    return model._init_from_db(
        **{k.removeprefix(prefix): v for k, v in row.items() if k.startswith(prefix)}
    )


# The number of the sale, with its supplier: what the APIs show and routing.release needs.
_NUMBER_AND_SUPPLIER = f"{_columns(PhoneNumber, 'n')}, {_columns(Supplier, 's')}"
_LOCK = f"locked AS MATERIALIZED (SELECT pg_advisory_xact_lock({locks.EVENT_LOCK_CLASS}, $1))"
_STATUS_CHANGED = f"'{EventKind.STATUS_CHANGED.value}'"
_WAITING = f"'{ActivationStatus.WAITING_SMS.value}'"
_USER, _ESCROW = f"'{AccountKind.USER.value}'", f"'{AccountKind.ESCROW.value}'"


# A purchase's statement after its `picked` CTE (the number, locked): the number's use for
# the service, the activation, its event and the activity log; `supplier_activation_id` is
# the SQL of that column's value.
def _buy_statement(picked: str, supplier_activation_id: str) -> str:
    return f"""
WITH {picked},
used AS (
  INSERT INTO number_use (number_id, service_id, banned, created_at)
  SELECT picked.id, $4, false, $13 FROM picked RETURNING number_id
),
bought AS (
  INSERT INTO activation (user_id, number_id, country_id, service_id, price_minor, cost_minor,
    currency, status, created_at, sms_deadline_at, expires_at, refunded, idempotency_key,
    request_fingerprint, supplier_activation_id)
  SELECT $1, used.number_id, $3, $4, $5::bigint, $6::bigint, $7, {_WAITING}, $8, $9, $10, false,
    $11, $12, {supplier_activation_id}
  FROM used RETURNING *
),
event AS (
  INSERT INTO activation_event (activation_id, user_id, kind, status, created_at)
  SELECT b.id, b.user_id, {_STATUS_CHANGED}, b.status, $13 FROM bought b RETURNING id
),
logged AS (
  INSERT INTO activity_log (user_id, action, ip, detail, created_at)
  SELECT b.user_id, 'purchase', $14::text, b.id::text, $13 FROM bought b, event RETURNING id
)
SELECT b.*, event.id AS event_id, (SELECT count(*) FROM logged) AS logged,
  {_columns(PhoneNumber, "n")},
  (SELECT id FROM ledger_account WHERE kind = {_USER} AND user_id = $1) AS user_account_id,
  (SELECT id FROM ledger_account WHERE kind = {_ESCROW} AND user_id = $1) AS escrow_account_id
FROM bought b JOIN picked n ON n.id = b.number_id JOIN event ON true
"""  # noqa: S608 (constants only; every value is a parameter)


# $1 user, $2 supplier, $3 country, $4 service, $5 price, $6 cost, $7 currency, $8 now (the
# runtime's clock), $9 SMS deadline, $10 window end, $11 idempotency key, $12 fingerprint,
# $13 the wall clock (what auto_now_add columns get), $14 ip.
# Its row: the activation, its number, its event, the user's two accounts (for the HOLD that
# services/ledger.py `post` writes next, in the same transaction).
BUY_FROM_POOL = _buy_statement(
    f"""picked AS (
  SELECT n.* FROM phone_number n
  WHERE n.supplier_id = $2 AND n.country_id = $3 AND n.state = '{NumberState.ACTIVE.value}'
    AND {policy.crimean_sql_filter("n.e164")}
    AND NOT EXISTS (SELECT 1 FROM number_use u WHERE u.number_id = n.id AND u.service_id = $4)
  ORDER BY n.id LIMIT 1
  FOR UPDATE OF n SKIP LOCKED
)""",  # noqa: S608 (constants only; every value is a parameter)
    "NULL",
)

# The same for a number the supplier gave (an SMSHub agent's, an upstream's): $15 the
# supplier's activation id, $16 the number. The number is kept as a row of its own (so that
# its SMS find it and it is never sold twice for a service): the existing row if it is this
# supplier's, else a new one; no row when another supplier has it, or when a concurrent
# purchase is adding it (the purchase then finds no number, as the ORM path's IntegrityError).
BUY_GIVEN_NUMBER = _buy_statement(
    f"""existing AS (
  SELECT n.* FROM phone_number n WHERE n.e164 = $16
),
added AS (
  INSERT INTO phone_number (e164, country_id, supplier_id, operator, state, created_at)
  SELECT $16, $3, $2, 'any', '{NumberState.ACTIVE.value}', $13
  WHERE NOT EXISTS (SELECT 1 FROM existing)
  ON CONFLICT (e164) DO NOTHING
  RETURNING *
),
picked AS (
  SELECT * FROM existing WHERE supplier_id = $2 UNION ALL SELECT * FROM added
)""",  # noqa: S608 (constants only; every value is a parameter)
    "$15::text",
)

# The user's lock is taken inside this statement (one round trip less): what it reads after
# waiting is either never changed (the hold) or read again at its latest committed version by
# the UPDATE that changes it (PostgreSQL re-checks an updated row's WHERE: the activation's
# status, the balances), so a stale snapshot decides nothing.
# $1 user, $2 activation, $3 the new status, $4 now, $5 only if its SMS deadline has passed,
# $6 ban its (number, service) pair, $7 the refund's description, $8 the wall clock, $9 the
# activity log's action (NULL: none), $10 ip. No row: it was not waiting (or not due).
END_WAITING = f"""
WITH {_LOCK},
ended AS (
  UPDATE activation a SET status = $3::text, ended_at = $4, refunded = true FROM locked
  WHERE a.id = $2 AND a.user_id = $1 AND a.status = {_WAITING}
    AND (NOT $5::boolean OR a.sms_deadline_at <= $4)
  RETURNING a.*
),
pending AS (
  SELECT t.id, t.amount_minor FROM transfer t JOIN ended ON t.activation_id = ended.id
  WHERE t.kind = '{TransferKind.HOLD.value}'
),
refunded AS (
  UPDATE ledger_account a SET balance_minor = a.balance_minor + p.amount_minor FROM pending p
  WHERE a.kind = {_USER} AND a.user_id = $1
  RETURNING a.id, a.balance_minor
),
released AS (
  UPDATE ledger_account a SET balance_minor = a.balance_minor - p.amount_minor
  FROM pending p, refunded
  WHERE a.kind = {_ESCROW} AND a.user_id = $1 AND a.balance_minor >= p.amount_minor
  RETURNING a.id, a.balance_minor
),
voided AS (
  INSERT INTO transfer (kind, debit_account_id, credit_account_id, amount_minor,
    debit_balance_after, credit_balance_after, pending_id, activation_id, description, created_at)
  SELECT '{TransferKind.VOID.value}', released.id, refunded.id, p.amount_minor,
    released.balance_minor, refunded.balance_minor, p.id, ended.id, $7::text, $8
  FROM ended, pending p, refunded, released RETURNING id
),
banned AS (
  UPDATE number_use u SET banned = true FROM ended, voided
  WHERE $6::boolean AND u.number_id = ended.number_id AND u.service_id = ended.service_id
  RETURNING u.id
),
event AS (
  INSERT INTO activation_event (activation_id, user_id, kind, status, created_at)
  SELECT ended.id, ended.user_id, {_STATUS_CHANGED}, ended.status, $8 FROM ended, voided
  RETURNING id
),
logged AS (
  INSERT INTO activity_log (user_id, action, ip, detail, created_at)
  SELECT ended.user_id, $9::text, $10::text, ended.id::text, $8 FROM ended, event
  WHERE $9::text IS NOT NULL RETURNING id
)
SELECT ended.*, event.id AS event_id, (SELECT count(*) FROM banned) AS banned,
  (SELECT count(*) FROM logged) AS logged, {_NUMBER_AND_SUPPLIER}
FROM ended LEFT JOIN event ON true
JOIN phone_number n ON n.id = ended.number_id JOIN supplier s ON s.id = n.supplier_id
"""  # noqa: S608 (constants only; every value is a parameter)


@dataclass(frozen=True)
class Written:
    """What a write path wrote: the activation as stored (with `.number`), and its event's id
    (None when the statement found the money missing: the caller raises, which rolls back)."""

    activation: Activation
    event_id: int | None


def _written(row: dict[str, Any]) -> Written:
    activation = Activation._init_from_db(**row)
    activation.number = _model(PhoneNumber, row, "n")
    if "s__id" in row:
        activation.number.supplier = _model(Supplier, row, "s")
    return Written(activation, row["event_id"])


@dataclass(frozen=True)
class Sale:
    user_id: int
    supplier_id: int
    country_id: int
    service_id: int
    service_name: str
    price_minor: int
    cost_minor: int
    currency: str
    now: datetime
    sms_deadline_at: datetime
    expires_at: datetime
    idempotency_key: str | None
    fingerprint: str
    ip: str | None


async def buy_from_pool(p: Sale) -> Written | None:
    """Takes a free number of the supplier's pool and holds the price (ledger.post, one
    statement too), in a transaction of its own: None if no number was free, InsufficientBalance
    if the balance is too low; either way nothing is written.

    The user's lock is a statement of its own here, before the purchase's (sent with BEGIN, in
    one round trip): a statement sees the rows committed when it started, and one that waited
    for the lock inside itself would not see the numbers its user's previous purchases took
    while it waited (it would pick one of them, and fail on the unique (number, service))."""
    return await _buy(p, BUY_FROM_POOL)


async def buy_given_number(
    p: Sale, e164: str, supplier_activation_id: str | None
) -> Written | None:
    """As buy_from_pool, for the number a supplier gave: None if it is another supplier's (or
    being added by a concurrent purchase); IntegrityError if it was sold for this service."""
    return await _buy(p, BUY_GIVEN_NUMBER, supplier_activation_id, e164)


async def _buy(p: Sale, statement: str, *given: str | None) -> Written | None:
    async with postgres_transaction(locks.user_events_statement(p.user_id)) as conn:
        row = await conn.fetchrow(
            statement,
            p.user_id,
            p.supplier_id,
            p.country_id,
            p.service_id,
            p.price_minor,
            p.cost_minor,
            p.currency,
            p.now,
            p.sms_deadline_at,
            p.expires_at,
            p.idempotency_key,
            p.fingerprint,
            datetime.now(UTC),
            _ip(p.ip),
            *given,
        )
        if row is None:
            return None
        written = _written(dict(row))
        # InsufficientBalance from here rolls the number and the activation back.
        await ledger.post(
            conn,
            kind=TransferKind.HOLD,
            debit=LedgerAccount(id=row["user_account_id"], kind=AccountKind.USER),
            credit=LedgerAccount(id=row["escrow_account_id"], kind=AccountKind.ESCROW),
            amount_minor=p.price_minor,
            description=f"{p.service_name} number {written.activation.number.e164}",
            activation_id=written.activation.id,
        )
    return written


@dataclass(frozen=True)
class Ending:
    user_id: int
    activation_id: int
    status: ActivationStatus
    now: datetime
    due: bool  # only once its SMS deadline has passed (the sweeper's expiry)
    description: str  # of the refund
    action: str | None  # what the activity log records, if anything
    ip: str | None


async def end_waiting(conn: Connection, e: Ending) -> Written | None:
    """WAITING_SMS -> `e.status` with the hold voided back to the user: None if it was not
    waiting (or not yet due)."""
    rows = await conn.execute_query_dict(
        END_WAITING,
        [
            e.user_id,
            e.activation_id,
            e.status.value,
            e.now,
            e.due,
            e.status == ActivationStatus.BANNED,
            e.description[:200],
            datetime.now(UTC),
            e.action,
            _ip(e.ip),
        ],
    )
    return _written(rows[0]) if rows else None


def _ip(ip: str | None) -> str | None:
    return ip[:45] if ip else None  # as services/activity.py stores it
