"""A phone running "SMS Gateway for Android" (capcom6), as its webhooks reach a server.

Written from the app's published protocol (docs.sms-gate.app, "Webhooks"; contract/suppliers.md,
2), not from our code: a JSON envelope `{deviceId, event, id, webhookId, payload}`, signed with
`X-Signature` = hex HMAC-SHA256(signing key, raw body + X-Timestamp). Like the app, it retries an
event that was not acknowledged with 2xx, with the same event id and the same payload.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx


class AndroidGateway:
    def __init__(
        self, client: httpx.AsyncClient, code: str, signing_key: str, device_id: str = "phone-1"
    ) -> None:
        self.client = client
        self.path = f"/suppliers/{code}/android"
        self.signing_key = signing_key
        self.device_id = device_id
        self.webhook_id = f"wh-{uuid.uuid4().hex[:8]}"

    async def app_started(self, *sims: tuple[int, str | None]) -> httpx.Response:
        """The app's start: its SIM cards as (1-based slot, the SIM's number or None)."""
        cards = [
            {
                "slotIndex": slot - 1,
                "simNumber": slot,
                "phoneNumber": number,
                "carrierName": f"Carrier {slot}",
                "iccid": f"8970{slot:015d}",
            }
            for slot, number in sims
        ]
        return await self.send("app:started", {"simCards": cards})

    async def ping(self) -> httpx.Response:
        return await self.send("system:ping", {"health": {"status": "pass"}})

    def sms(
        self,
        text: str,
        sender: str = "Telegram",
        *,
        recipient: str | None = None,
        slot: int | None = 1,
        received_at: datetime | None = None,
        legacy: bool = False,
    ) -> dict[str, Any]:
        """An `sms:received` payload; `legacy` names the sender `phoneNumber`, as older versions
        of the app do. The messageId is derived from the content, as the app derives it."""
        moment = (received_at or datetime.now(UTC)).astimezone()  # the phone's local time
        return {
            "messageId": hashlib.sha256(f"{sender}|{text}".encode()).hexdigest()[:16],
            "message": text,
            ("phoneNumber" if legacy else "sender"): sender,
            "recipient": recipient,
            "simNumber": slot,
            "receivedAt": moment.isoformat(timespec="milliseconds"),
        }

    async def send(
        self,
        event: str,
        payload: dict[str, Any],
        *,
        event_id: str | None = None,
        key: str | None = None,
        timestamp: str | None = None,
        body: bytes | None = None,
    ) -> httpx.Response:
        """One delivery attempt of one event (the same `event_id` again is the app's retry)."""
        raw = (
            body
            or json.dumps(
                {
                    "deviceId": self.device_id,
                    "event": event,
                    "id": event_id or uuid.uuid4().hex,
                    "webhookId": self.webhook_id,
                    "payload": payload,
                }
            ).encode()
        )
        stamp = timestamp or str(int(time.time()))
        signature = hmac.new(
            (key or self.signing_key).encode(), raw + stamp.encode(), hashlib.sha256
        ).hexdigest()
        return await self.client.post(
            self.path,
            content=raw,
            headers={
                "content-type": "application/json",
                "x-signature": signature,
                "x-timestamp": stamp,
            },
        )
