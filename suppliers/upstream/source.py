"""The NumberSource of UPSTREAM suppliers: a number bought from another activation service
with getNumberV2, under routing's per-supplier deadline, and its end relayed with setStatus.

The number becomes a PhoneNumber row of the upstream supplier when the purchase takes it
(services/activations.py), and the upstream's activation id is kept on our activation
(`supplier_activation_id`): the status poller (codes.py) asks the upstream about it, and the
relay (relay.py) tells the upstream how it ended.
"""

from __future__ import annotations

from datetime import timedelta

from models import Activation, ActivationStatus, UpstreamPoll
from services import money
from services.db import Connection
from services.routing import Acquired, Ending, NumberSource, Want
from suppliers.upstream import relay, upstreams
from suppliers.upstream.protocol import NO_NUMBERS, UpstreamError

MAX_ACTIVATION_ID = 64  # Activation.supplier_activation_id
# Refusals that mean "nothing for this offer right now", not a failure of the upstream.
NOTHING_TO_SELL = frozenset({NO_NUMBERS, "WRONG_MAX_PRICE"})


class UpstreamSource(NumberSource):
    async def acquire(self, want: Want) -> Acquired | None:
        deadline = self.rt.settings.supplier_acquire_timeout_seconds
        try:
            async with upstreams.connected(self.rt, self.supplier) as client:
                bought = await client.buy(
                    want.service.code,
                    want.country.compat_id,
                    # Never more than the cost routing ranked it by: an upstream whose price
                    # rose answers WRONG_MAX_PRICE and is skipped until its next sync.
                    max_price=money.format_minor(want.cost_minor),
                    deadline_seconds=deadline,
                )
        except UpstreamError as error:
            if error.refusal in NOTHING_TO_SELL:
                return None
            raise
        if len(bought.activation_id) > MAX_ACTIVATION_ID:
            # Not storable, so never to be asked about: left to expire (and refund) there.
            raise UpstreamError("the upstream answered an activation id we cannot keep")
        return Acquired(
            e164=bought.phone,
            supplier_activation_id=bought.activation_id,
            cost_minor=bought.cost_minor,
        )

    async def release(self, conn: Connection, ending: Ending) -> None:
        upstream_id = ending.supplier_activation_id
        if upstream_id is None:
            return
        if ending.status == ActivationStatus.FINISHED:
            await relay.enqueue(conn, self.rt, self.supplier, upstream_id, relay.FINISH)
            return
        ended_there = UpstreamPoll.filter(activation_id=ending.activation_id, ended_upstream=True)
        if ending.activation_id is not None and await ended_there.using_db(conn).exists():
            return  # the upstream cancelled it itself: nothing to tell it
        await relay.enqueue(conn, self.rt, self.supplier, upstream_id, relay.CANCEL)

    async def another_sms(self, conn: Connection, activation: Activation) -> None:
        upstream_id = activation.supplier_activation_id
        asked_at = activation.another_sms_requested_at
        if upstream_id is None or asked_at is None:
            return
        occasion = asked_at.isoformat()
        await relay.enqueue(conn, self.rt, self.supplier, upstream_id, relay.ANOTHER_SMS, occasion)
        # The next code may come any moment now: poll soon again, from the first interval.
        first = self.rt.settings.upstream_status_first_seconds
        await (
            UpstreamPoll.filter(activation_id=activation.id)
            .using_db(conn)
            .update(due_at=self.rt.clock.now() + timedelta(seconds=first), polls=0)
        )
