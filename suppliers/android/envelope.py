"""The Android gateway's webhook events, validated field by field (contract/suppliers.md, 2).

Envelope: `{"deviceId", "event", "id", "webhookId", "payload"}`. We act on three events:
`sms:received` (an SMS on one of the phone's SIMs), `app:started` (the phone's SIM cards) and
`system:ping` (liveness). Every other event is acknowledged and ignored, so the app does not
retry it for two days.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers

from suppliers.moments import BadMoment, utc_moment

MAX_TEXT = 2000
MAX_ID = 100
MAX_SIMS = 8


class BadEnvelope(ValueError):
    pass


@dataclass(frozen=True)
class Envelope:
    device_id: str
    event: str
    event_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class ReceivedSms:
    message_key: str  # our de-duplication key, see `_message_key`
    text: str
    sender: str | None
    recipient: str | None  # the SIM's own number, E.164, when the app knows it
    sim_slot: int | None  # 1-based, as the app's `simNumber`
    received_at: datetime


@dataclass(frozen=True)
class SimCard:
    slot: int  # 1-based
    number: str | None  # E.164; the app often cannot read a SIM's own number
    carrier: str | None


def envelope(data: object) -> Envelope:
    if not isinstance(data, dict):
        raise BadEnvelope("the body must be a JSON object")
    payload = data.get("payload", {})
    if not isinstance(payload, dict):
        raise BadEnvelope("'payload' must be an object")
    return Envelope(
        device_id=_text(data, "deviceId", MAX_ID, required=True) or "",
        event=_text(data, "event", MAX_ID, required=True) or "",
        event_id=_text(data, "id", MAX_ID, required=True) or "",
        payload=payload,
    )


def received_sms(payload: dict[str, Any]) -> ReceivedSms:
    message_id = _text(payload, "messageId", 500, required=True) or ""
    text = _text(payload, "message", MAX_TEXT, required=True) or ""
    # `sender` since app 1.x's newer payloads; older versions name it `phoneNumber`.
    sender = _text(payload, "sender", MAX_ID) or _text(payload, "phoneNumber", MAX_ID)
    received_at = _moment(payload.get("receivedAt"))
    return ReceivedSms(
        message_key=_message_key(message_id, received_at),
        text=text,
        sender=sender,
        recipient=e164(_text(payload, "recipient", MAX_ID)),
        sim_slot=_slot(payload.get("simNumber"), "simNumber"),
        received_at=received_at,
    )


def sim_cards(payload: dict[str, Any]) -> list[SimCard]:
    cards = payload.get("simCards", [])
    if not isinstance(cards, list) or len(cards) > MAX_SIMS:
        raise BadEnvelope(f"'simCards' must be a list of at most {MAX_SIMS}")
    result = []
    for card in cards:
        if not isinstance(card, dict):
            raise BadEnvelope("each SIM card must be an object")
        # `simNumber` is the 1-based slot sms:received names; `slotIndex` counts from 0.
        slot = _slot(card.get("simNumber"), "simNumber")
        if slot is None:
            index = _slot(card.get("slotIndex"), "slotIndex", first=0)
            if index is None:
                raise BadEnvelope("a SIM card needs 'simNumber' or 'slotIndex'")
            slot = index + 1
        result.append(
            SimCard(
                slot=slot,
                number=e164(_text(card, "phoneNumber", MAX_ID)),
                carrier=_text(card, "carrierName", MAX_ID),
            )
        )
    return result


def e164(raw: str | None) -> str | None:
    """A number in international form, or None: a SIM's number in national form (no country
    code) cannot be placed, and a wrong guess would deliver a code to the wrong activation."""
    if not raw:
        return None
    candidate = raw if raw.startswith("+") else f"+{raw}"
    try:
        parsed = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _message_key(message_id: str, received_at: datetime) -> str:
    """The app's `messageId` is derived from the content, so the same code sent twice has the
    same id, while a retried event repeats `receivedAt` exactly. Together they tell a retry
    (stored once) from a second, identical SMS (stored and delivered again)."""
    if len(message_id) > 64:
        message_id = hashlib.sha256(message_id.encode()).hexdigest()
    return f"{message_id}@{received_at.timestamp():.3f}"


def _text(data: dict[str, Any], name: str, limit: int, *, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise BadEnvelope(f"'{name}' must be a non-empty string of at most {limit} characters")
    return value.strip() or None


def _slot(value: object, name: str, *, first: int = 1) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not first <= value <= 16:
        raise BadEnvelope(f"'{name}' must be a SIM slot number from {first}")
    return value


def _moment(raw: object) -> datetime:
    """The device's local time with its offset, as UTC."""
    try:
        return utc_moment(raw)
    except BadMoment as bad:
        raise BadEnvelope(str(bad)) from None
