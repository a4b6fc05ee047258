"""The business counters of /metrics (issue 12): what an operator watches besides HTTP.

Counters are counted after the commit of what they count where the code has such a point
(purchases, refunds); codes and top-ups are counted inside their transaction, so a rare
rolled-back one may count once too often: a gauge of trends, never a figure of money
(`stats` and the ledger are those). Supplier labels are supplier codes, bounded by the registry.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PURCHASES = Counter("smsrooms_purchases_total", "Activations bought")
CODES = Counter("smsrooms_codes_total", "Activations that received their first SMS")
REFUNDS = Counter("smsrooms_refunds_total", "Activations refunded", ["status"])
TOP_UPS = Counter("smsrooms_top_ups_total", "Top-up payments credited", ["provider"])
TOP_UP_MINOR = Counter(
    "smsrooms_top_up_minor_total", "Top-up amounts credited, in minor units", ["provider"]
)
SUPPLIER_ERRORS = Counter(
    "smsrooms_supplier_errors_total",
    "Supplier failures when asked for a number",
    ["supplier", "reason"],
)
SUPPLIER_LATENCY = Histogram(
    "smsrooms_supplier_acquire_seconds", "How long a supplier takes to give a number", ["supplier"]
)
WEBSOCKETS = Gauge("smsrooms_websocket_connections", "Open GraphQL websocket connections")
OUTBOX_DEPTH = Gauge("smsrooms_outbox_depth", "Outbox messages not yet sent (read at scrape)")
