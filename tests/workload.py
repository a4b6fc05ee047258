"""A seeded workload of buyers for fault-injection tests: each `Shopper` buys numbers, cancels,
bans, finishes and receives codes (signed supplier webhooks) through one app's public interfaces,
and the `Deliveries` book records what the app acknowledged, to be checked against the database.

Every choice comes from a `random.Random` the test seeds, so a failing run can be replayed (the
interleaving of concurrent requests, and where a fault lands, still vary from run to run).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from suppliers import demo
from tests.api import Api, User

COUNTRIES = tuple(demo.POOLS)  # each has its own numbers: the test server's stock lasts longer
SERVICE = "tg"
# Refusals a busy, racing or faulty app may answer; any other code in a payload is a bug.
EXPECTED_REFUSALS = frozenset(
    {"INVALID_STATE", "NO_NUMBERS", "INSUFFICIENT_BALANCE", "BUSY", "RATE_LIMITED"}
)
ACKNOWLEDGED = frozenset({"delivered", "stored", "duplicate"})
RESENDS = 50  # a supplier's retries of one SMS the app answered 503 (busy)


@dataclass(frozen=True)
class Sent:
    """One SMS sent to the webhook, as its supplier keeps it to send again."""

    message_id: str
    to: str
    code: str
    user_id: int


@dataclass
class Deliveries:
    """What the supplier side knows: the SMS the app acknowledged (2xx), and with which
    outcome, and those whose answer never came (to be sent again, as a supplier would)."""

    acknowledged: dict[str, str] = field(default_factory=dict)  # message id -> outcome
    sent: dict[str, Sent] = field(default_factory=dict)
    unanswered: dict[str, Sent] = field(default_factory=dict)
    # Telegram's codes have five digits; each SMS gets its own, to be traced to its feed.
    _codes: itertools.count[int] = field(default_factory=lambda: itertools.count(10_000))

    def new(self, to: str, user_id: int) -> Sent:
        sent = Sent(f"fault-{uuid.uuid4()}", to, str(next(self._codes)), user_id)
        self.sent[sent.message_id] = sent
        return sent

    async def send(self, api: Api, sent: Sent) -> str | None:
        """Posts the SMS; returns the outcome the app acknowledged, or None if it answered a
        retryable 503. A broken connection leaves it unanswered and raises."""
        self.unanswered[sent.message_id] = sent
        answer = await api.deliver_sms(
            sent.to, f"Telegram code: {sent.code}", message_id=sent.message_id
        )
        if answer.status_code == 503:
            return None
        assert answer.status_code == 200, answer.text
        outcome: str = answer.json()["status"]
        assert outcome in ACKNOWLEDGED, outcome
        del self.unanswered[sent.message_id]
        self.acknowledged[sent.message_id] = outcome
        return outcome

    async def send_unanswered(self, api: Api) -> None:
        """What a supplier does after a broken connection or a 503: sends them again, until
        answered (a bounded number of times)."""
        for sent in list(self.unanswered.values()):
            for _ in range(RESENDS):
                if await self.send(api, sent) is not None:
                    break
                await asyncio.sleep(0.1)
        assert self.unanswered == {}, self.unanswered

    def delivered_codes(self) -> dict[int, set[str]]:
        """The codes the app said it delivered to a live activation, by user."""
        codes: dict[int, set[str]] = {}
        for message_id, outcome in self.acknowledged.items():
            if outcome == "delivered":
                sent = self.sent[message_id]
                codes.setdefault(sent.user_id, set()).add(sent.code)
        return codes


class Shopper:
    """One user's seeded stream of operations, each against one of the `apps` (processes of
    one deployment), chosen by the seeded generator too."""

    def __init__(
        self, apps: Sequence[Api], user: User, rng: random.Random, deliveries: Deliveries
    ) -> None:
        self.apps = apps
        self.api = apps[0]
        self.user = user
        self.rng = rng
        self.deliveries = deliveries
        self.live: list[dict[str, Any]] = []  # activations this shopper still acts on
        self.refusals: list[str] = []

    async def step(self) -> None:
        """One operation: buy while holding few numbers, else act on one of them."""
        self.api = self.rng.choice(self.apps)
        if len(self.live) < 2 and (not self.live or self.rng.random() < 0.5):
            await self.buy()
            return
        activation = self.rng.choice(self.live)
        roll = self.rng.random()
        if roll < 0.2:
            await self.act("cancelActivation", activation)
        elif roll < 0.3:
            await self.act("banNumber", activation)
        elif roll < 0.4:
            await self.act("finishActivation", activation)
        elif roll < 0.5:
            self.live.remove(activation)  # left to its deadline: it expires, or closes (R3, R4)
        else:
            await self.sms(activation)

    async def buy(self) -> None:
        payload = await self.api.buy(self.user, self.rng.choice(COUNTRIES), SERVICE)
        if self._refused(payload):
            return
        self.live.append(payload["activation"])

    async def act(self, mutation: str, activation: dict[str, Any]) -> None:
        payload = await self.api.act(self.user, mutation, activation["id"])
        refused = self._refused(payload)
        # INVALID_STATE: it has ended meanwhile (expired), or has a code and cannot be cancelled;
        # a refused finish may be of one still waiting for its code.
        ended = not refused or (mutation != "finishActivation" and "INVALID_STATE" in refused)
        if ended and activation in self.live:
            self.live.remove(activation)

    async def sms(self, activation: dict[str, Any]) -> None:
        sent = self.deliveries.new(activation["phoneNumber"], self.user.id)
        await self.deliveries.send(self.api, sent)

    def _refused(self, payload: dict[str, Any]) -> list[str]:
        """The refusal codes of a payload (none when it succeeded)."""
        codes = [error["code"] for error in payload["errors"]]
        assert set(codes) <= EXPECTED_REFUSALS, payload
        self.refusals += codes
        return codes


def broken(error: BaseException) -> bool:
    """A request cut off by a dying app process (connection refused, reset or closed)."""
    return isinstance(error, httpx.TransportError)
