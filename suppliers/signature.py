"""The supplier webhook signature: `X-Signature: t=<unix seconds>,v1=<hex>`.

`<hex>` is HMAC-SHA256 with the supplier's secret over `<t>.` followed by the raw body
(contract/http.md). A timestamp more than the tolerance away from our clock is refused, so a
captured request cannot be replayed later; the message id makes an early replay a no-op.
"""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, body: bytes, header: str | None, *, now: float, tolerance: float) -> bool:
    if not header or len(header) > 512:
        return False
    parts = dict(part.strip().split("=", 1) for part in header.split(",") if "=" in part)
    raw_timestamp = parts.get("t", "")
    if not (raw_timestamp.isascii() and raw_timestamp.isdigit() and len(raw_timestamp) <= 12):
        return False  # bounded: a 400-digit "timestamp" must not reach the arithmetic below
    timestamp = int(raw_timestamp)
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
