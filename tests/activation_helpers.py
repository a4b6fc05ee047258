"""Helpers of the activation tests (tests/test_activations_*.py, and the race tests): amounts,
prices, the transfers of an activation, waiting for the sweeper, a code SMS through the webhook,
the one refusal a payload carries, and the rule that no (number, service) pair is sold twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from models import Activation, ActivationStatus, NumberUse, Transfer, TransferKind
from services import sweeper
from tests.api import Api, User

POLL_TIMEOUT_SECONDS = 30.0  # a bound, not a wait: the sweeper runs every 0.1 s in tests
MAX_SWEEPS = 100  # explicit sweep rounds before a test gives up
MISSING_ID = str(2**31 - 1)  # a valid id that no activation will reach in a test run
ACTIVATION_MUTATIONS = ("cancelActivation", "banNumber", "finishActivation", "requestAnotherSms")


def minor(amount: str) -> int:
    return int(Decimal(amount) * 100)


async def price_of(api: Api, country: str, service: str) -> str:
    data = await api.gql(
        "query($c: String, $s: String) { prices(country: $c, service: $s) { price { amount } } }",
        {"c": country, "s": service},
    )
    [offer] = data["prices"]
    return offer["price"]["amount"]  # type: ignore[no-any-return]


# The transfers of an activation that received its code: the hold, its capture, and the
# supplier's cost linked to the capture (docs/adr/0009).
CAPTURED_TRANSFERS = [TransferKind.HOLD, TransferKind.CAPTURE, TransferKind.COST]


async def resolutions(activation_id: str) -> list[TransferKind]:
    """The kinds of the transfers of one activation, in order (see CAPTURED_TRANSFERS)."""
    rows = await Transfer.filter(activation_id=int(activation_id)).order_by("id")
    return [t.kind for t in rows]


async def wait_for_status(activation_id: str, status: ActivationStatus) -> Activation:
    """Polls the stored activation until the background sweeper has moved it (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + POLL_TIMEOUT_SECONDS
    while True:
        activation = await Activation.get(id=int(activation_id))
        if activation.status == status:
            return activation
        if loop.time() > deadline:
            raise AssertionError(f"still {activation.status} after {POLL_TIMEOUT_SECONDS}s")
        await asyncio.sleep(0.05)


async def sweep_until_ended(
    sweep: Callable[[], Awaitable[sweeper.SweepResult]], activation_id: str
) -> None:
    """Runs `sweep` until it has ended this activation. One round takes a bounded batch, oldest
    deadline first, and other tests' leftovers fall due at once when the clock jumps."""
    for _ in range(MAX_SWEEPS):
        await sweep()
        if not await Activation.exists(id=int(activation_id), status=ActivationStatus.WAITING_SMS):
            return
    raise AssertionError(f"activation {activation_id} still waiting after {MAX_SWEEPS} sweeps")


async def code_sms(api: Api, phone: str, code: str) -> dict[str, Any]:
    response = await api.deliver_sms(phone, f"Telegram code: {code}. Do not give this code")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def only_error(payload: dict[str, Any], code: str) -> dict[str, Any]:
    assert payload["activation"] is None, payload
    [error] = payload["errors"]
    assert error["code"] == code, payload
    return error  # type: ignore[no-any-return]


async def assert_no_pair_sold_twice(user: User) -> None:
    """Over every activation ever stored, each (number, service) pair appears at most once; and
    each of this user's pairs is recorded as used, so that it is never offered again."""
    pairs = await Activation.all().values_list("number_id", "service_id")
    assert len(pairs) == len(set(pairs))
    mine = set(await Activation.filter(user_id=user.id).values_list("number_id", "service_id"))
    used = await NumberUse.filter(number_id__in=[number for number, _ in mine]).values_list(
        "number_id", "service_id"
    )
    assert mine <= set(used)
