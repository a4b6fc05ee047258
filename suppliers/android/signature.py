"""The Android gateway's webhook signature (docs.sms-gate.app, "Webhooks").

`X-Signature` is the hex HMAC-SHA256, keyed with the app's signing key, of the raw body followed
by the `X-Timestamp` header (Unix seconds) as sent. Unlike our own supplier signature the two are
separate headers and nothing separates body and timestamp in the signed message.
"""

from __future__ import annotations

import hashlib
import hmac

TOLERANCE_SECONDS = 300  # the protocol's ±5 minutes


def sign(key: str, body: bytes, timestamp: str) -> str:
    return hmac.new(key.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()


def verify(
    key: str, body: bytes, signature: str | None, timestamp: str | None, *, now: float
) -> bool:
    if not signature or not timestamp or len(signature) > 128:
        return False
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False  # bounded before the arithmetic: a 400-digit "timestamp" is just wrong
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return False  # a captured request cannot be replayed later
    return hmac.compare_digest(sign(key, body, timestamp), signature.lower())
