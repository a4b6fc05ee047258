"""The shop's figures (issue 12): purchases, codes, refunds, money and timing of a period, per
country, service and supplier, and the success rate of each offer shown in `prices`.

Each figure is one aggregate query over the activations of the period (the index on
`activation.created_at` bounds the rows read), the median through window functions: no row
is loaded into Python, and the same SQL runs on SQLite and PostgreSQL.

A purchase counts in the period it was made. "Codes" are activations that got their first SMS
(captured: RECEIVED or FINISHED, or revoked by an admin after its code), "refunds" those that
ended refunded; revenue is the price of the captured ones the buyer kept, cost the supplier cost
of every captured one (after a revoke the shop still pays it), the margin their difference. The
success rate is codes over the activations already decided (no longer waiting for an SMS).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from models import ActivationStatus, TopUpStatus
from services.accounts import Viewer, require_admin
from services.db import fetch_rows, is_postgres
from services.errors import InvalidInput

CAPTURED = f"('{ActivationStatus.RECEIVED.value}', '{ActivationStatus.FINISHED.value}')"
REFUNDED = "({})".format(
    ", ".join(
        f"'{s.value}'"
        for s in (ActivationStatus.CANCELLED, ActivationStatus.EXPIRED, ActivationStatus.BANNED)
    )
)
WAITING = f"'{ActivationStatus.WAITING_SMS.value}'"
# Got its code: captured, including one an admin revoked afterwards (R14) with the price given
# back; its first SMS stays recorded.
GOT_A_CODE = f"(a.status IN {CAPTURED} OR a.first_sms_at IS NOT NULL)"
MAX_PERIOD = timedelta(days=366)
DEFAULT_PERIOD = timedelta(hours=24)


class Grouping(Enum):
    """What the rows of a figure are grouped by: (key expression, joins)."""

    TOTAL = ("(a.id * 0)", "")  # an expression, not a constant: SQL reads GROUP BY 0 as a column
    COUNTRY = ("g.code", "JOIN country g ON g.id = a.country_id")
    SERVICE = ("g.code", "JOIN service g ON g.id = a.service_id")
    SUPPLIER = (
        "g.code",
        "JOIN phone_number n ON n.id = a.number_id JOIN supplier g ON g.id = n.supplier_id",
    )


def _counts_sql(grouping: Grouping) -> str:
    key, joins = grouping.value
    return f"""
SELECT {key} AS key, COUNT(*) AS purchases,
  SUM(CASE WHEN {GOT_A_CODE} THEN 1 ELSE 0 END) AS codes,
  SUM(CASE WHEN a.status IN {REFUNDED} THEN 1 ELSE 0 END) AS refunds,
  SUM(CASE WHEN a.status <> {WAITING} THEN 1 ELSE 0 END) AS decided,
  SUM(CASE WHEN a.status IN {CAPTURED} THEN a.price_minor ELSE 0 END) AS revenue,
  SUM(CASE WHEN {GOT_A_CODE} THEN a.cost_minor ELSE 0 END) AS cost
FROM activation a {joins}
WHERE a.created_at >= $1 AND a.created_at < $2
GROUP BY {key}
"""  # noqa: S608 (constants only)


def _seconds_to_code() -> str:
    if is_postgres():
        return "EXTRACT(EPOCH FROM (a.first_sms_at - a.created_at))"
    return "((julianday(a.first_sms_at) - julianday(a.created_at)) * 86400.0)"


def _median_sql(grouping: Grouping) -> str:
    key, joins = grouping.value
    seconds = _seconds_to_code()
    return f"""
SELECT key, AVG(seconds) AS median FROM (
  SELECT {key} AS key, {seconds} AS seconds,
    ROW_NUMBER() OVER (PARTITION BY {key} ORDER BY {seconds}) AS position,
    COUNT(*) OVER (PARTITION BY {key}) AS n
  FROM activation a {joins}
  WHERE a.created_at >= $1 AND a.created_at < $2 AND a.first_sms_at IS NOT NULL
) ranked
WHERE position IN ((n + 1) / 2, (n + 2) / 2)
GROUP BY key
"""  # noqa: S608 (constants only)


TOP_UPS_SQL = f"""
SELECT COALESCE(SUM(credited_minor), 0) AS credited FROM top_up
WHERE status = '{TopUpStatus.SUCCEEDED.value}' AND completed_at >= $1 AND completed_at < $2
"""  # noqa: S608 (constants only)

OFFER_RATES_SQL = f"""
SELECT a.country_id, a.service_id, COUNT(*) AS decided,
  SUM(CASE WHEN {GOT_A_CODE} THEN 1 ELSE 0 END) AS codes
FROM activation a
WHERE a.created_at >= $1 AND a.status <> {WAITING}
GROUP BY a.country_id, a.service_id
"""  # noqa: S608 (constants only)


@dataclass(frozen=True)
class Row:
    key: str | None  # a country, service or supplier code; None for the total
    purchases: int
    codes: int
    refunds: int
    revenue_minor: int
    cost_minor: int
    success_rate: float | None
    median_seconds_to_code: float | None

    @property
    def margin_minor(self) -> int:
        return self.revenue_minor - self.cost_minor


@dataclass(frozen=True)
class Figures:
    start: datetime
    end: datetime
    total: Row
    by_country: list[Row]
    by_service: list[Row]
    by_supplier: list[Row]
    top_ups_minor: int


def _param(moment: datetime) -> Any:
    # SQLite keeps datetimes as ISO text in UTC (tortoise's format): compare text with text.
    return moment if is_postgres() else moment.astimezone(UTC).isoformat(sep=" ")


async def period(admin: Viewer, start: datetime | None, end: datetime | None) -> Figures:
    """The figures of [start, end), by default the 24 hours up to now."""
    require_admin(admin)
    end = end or datetime.now(UTC)
    start = start or end - DEFAULT_PERIOD
    if start >= end or end - start > MAX_PERIOD:
        raise InvalidInput(f"from must be before to, at most {MAX_PERIOD.days} days", field="from")
    params = (_param(start), _param(end))
    total = await _rows(Grouping.TOTAL, params)
    empty = Row(None, 0, 0, 0, 0, 0, None, None)
    credited = await fetch_rows(TOP_UPS_SQL, *params)
    return Figures(
        start=start,
        end=end,
        total=replace(total[0], key=None) if total else empty,
        by_country=await _rows(Grouping.COUNTRY, params),
        by_service=await _rows(Grouping.SERVICE, params),
        by_supplier=await _rows(Grouping.SUPPLIER, params),
        top_ups_minor=int(credited[0]["credited"]),
    )


async def _rows(grouping: Grouping, params: tuple[Any, Any]) -> list[Row]:
    medians = {
        str(r["key"]): float(r["median"]) for r in await fetch_rows(_median_sql(grouping), *params)
    }
    rows = [
        replace(_figures(r), median_seconds_to_code=medians.get(str(r["key"])))
        for r in await fetch_rows(_counts_sql(grouping), *params)
    ]
    return sorted(rows, key=lambda r: (-r.purchases, str(r.key)))


def _figures(r: dict[str, Any]) -> Row:
    decided, codes = int(r["decided"] or 0), int(r["codes"] or 0)
    return Row(
        None if r["key"] is None else str(r["key"]),
        int(r["purchases"]),
        codes,
        int(r["refunds"] or 0),
        int(r["revenue"] or 0),
        int(r["cost"] or 0),
        codes / decided if decided else None,
        None,
    )


async def offer_success_rates(window_hours: int) -> dict[tuple[int, int], float]:
    """(country id, service id) -> share of its activations of the window that got a code."""
    since = datetime.now(UTC) - timedelta(hours=window_hours)
    return {
        (int(r["country_id"]), int(r["service_id"])): int(r["codes"]) / int(r["decided"])
        for r in await fetch_rows(OFFER_RATES_SQL, _param(since))
    }
