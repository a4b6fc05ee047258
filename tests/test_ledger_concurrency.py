"""The ledger under concurrent load (R1, R3, R4, R6): parallel buys, cancels, bans, SMS
deliveries and sweeper runs against ONE user's balance, over the real HTTP API.

On PostgreSQL the server runs these requests in parallel on a connection pool, so row locks and
conditional updates are really contended; SQLite serialises transactions on its one connection
and runs a smaller version of the same workload. Then every invariant is checked from the
stored journal: no overdraft, exactly one capture or void per activation, no number sold twice
for a service, every cached balance equal to the sum of its entries, money conserved.

Two interleavings are also injected on purpose ("Races are tested by injecting the
interleaving", STYLE.md), instead of hoping that the random schedule produces them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from tortoise.expressions import Q

from models import (
    AccountKind,
    Activation,
    ActivationStatus,
    LedgerAccount,
    Sms,
    Transfer,
    TransferKind,
)
from services import activations, audit, ledger, sms, sweeper
from services.runtime import Runtime
from tests.activation_helpers import (
    CAPTURED_TRANSFERS,
    assert_no_pair_sold_twice,
    resolutions,
    sweep_until_ended,
)
from tests.api import Api, User

COUNTRY, SERVICE = "ID", "ds"  # a cheap offer with a large demo pool
CAPTURED = (ActivationStatus.RECEIVED, ActivationStatus.FINISHED)
REFUNDED = (ActivationStatus.CANCELLED, ActivationStatus.EXPIRED, ActivationStatus.BANNED)
POLL_TIMEOUT_SECONDS = 30.0  # a bound, not a wait


@dataclass(frozen=True)
class Size:
    affordable: int  # buys the balance pays for
    attempts: int  # buys fired at once against that balance
    group: int  # activations per scenario group below
    sweepers: int  # sweep_once() calls run at once, besides the app's own background sweeper


BIG = Size(affordable=30, attempts=45, group=4, sweepers=6)
SMALL = Size(affordable=10, attempts=15, group=1, sweepers=3)
GROUPS = (
    "cancel",
    "sms",
    "cancel_vs_sms",
    "ban_vs_sms",
    "expire",
    "expire_vs_cancel",
    "expire_vs_sms",
)


@dataclass
class Watch:
    """Reads the user's balances over and over while the load runs: the lowest ever seen."""

    user_id: int
    lowest_balance_minor: int = 0
    lowest_escrow_minor: int = 0
    reads: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        while not self.stop.is_set():
            rows = await LedgerAccount.filter(user_id=self.user_id).values_list(
                "kind", "balance_minor"
            )
            balances = dict(rows)
            self.lowest_balance_minor = min(self.lowest_balance_minor, balances[AccountKind.USER])
            self.lowest_escrow_minor = min(self.lowest_escrow_minor, balances[AccountKind.ESCROW])
            self.reads += 1
            await asyncio.sleep(0.005)


@pytest.fixture
def no_abuse_limit(override_settings: Callable[..., Any]) -> None:
    """R5 would pause buying after 10 cancellations; this load cancels more than that on purpose."""
    override_settings(abuse_cancel_threshold=1_000_000)


async def price_minor(api: Api) -> int:
    data = await api.gql(
        "query($c: String, $s: String) { prices(country: $c, service: $s) { price { amount } } }",
        {"c": COUNTRY, "s": SERVICE},
    )
    [offer] = data["prices"]
    return int(Decimal(offer["price"]["amount"]) * 100)


async def sms_to(api: Api, activation: dict[str, Any], message_id: str | None = None) -> str:
    response = await api.deliver_sms(
        activation["phoneNumber"],
        "Your Discord verification code is: 424242",
        "Discord",
        message_id=message_id,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


async def error_code(payload: Awaitable[dict[str, Any]]) -> str | None:
    """None when the mutation succeeded, else its one error code."""
    answer = await payload
    if not answer["errors"]:
        assert answer["activation"] is not None
        return None
    [error] = answer["errors"]
    return str(error["code"])


async def sweep_many(rt: Runtime, how_many: int) -> list[sweeper.SweepResult]:
    return list(await asyncio.gather(*(sweeper.sweep_once(rt) for _ in range(how_many))))


async def statuses(ids: list[str]) -> list[ActivationStatus]:
    rows = dict(await Activation.filter(id__in=[int(i) for i in ids]).values_list("id", "status"))
    return [rows[int(i)] for i in ids]


async def wait_until_none_waiting(user_id: int) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + POLL_TIMEOUT_SECONDS
    while await Activation.filter(user_id=user_id, status=ActivationStatus.WAITING_SMS).exists():
        assert loop.time() < deadline, "the sweepers left activations waiting past the deadline"
        await asyncio.sleep(0.05)


# -- the workload ------------------------------------------------------------------------------
async def buy_all_at_once(api: Api, user: User, size: Size, price: int) -> list[dict[str, Any]]:
    """R1: of `attempts` parallel buys, exactly what the balance pays for succeed."""
    payloads = await asyncio.gather(
        *(api.buy(user, COUNTRY, SERVICE) for _ in range(size.attempts))
    )
    bought = [p["activation"] for p in payloads if not p["errors"]]
    refused = [p["errors"][0]["code"] for p in payloads if p["errors"]]
    assert len(bought) == size.affordable, refused
    assert refused == ["INSUFFICIENT_BALANCE"] * (size.attempts - size.affordable)
    assert await ledger.balance_minor(user.id) == 0
    assert (await ledger.escrow_account(user.id)).balance_minor == size.affordable * price
    return bought


async def phase_actions(
    api: Api, user: User, groups: dict[str, list[dict[str, Any]]], size: Size
) -> tuple[dict[str, list[Any]], list[dict[str, Any]]]:
    """Cancels, bans, SMS (each twice with one message id), races of the two, more buys (only
    refunds can pay for them) and sweeps, all at once."""
    tasks: dict[str, Any] = {
        "cancel": [
            error_code(api.act(user, "cancelActivation", a["id"])) for a in groups["cancel"]
        ],
        "sms": [_twice(api, a) for a in groups["sms"]],
        "cancel_vs_sms": [
            _race(api.act(user, "cancelActivation", a["id"]), sms_to(api, a))
            for a in groups["cancel_vs_sms"]
        ],
        "ban_vs_sms": [
            _race(api.act(user, "banNumber", a["id"]), sms_to(api, a)) for a in groups["ban_vs_sms"]
        ],
    }
    extra = [api.buy(user, COUNTRY, SERVICE) for _ in range(2 * size.group + 2)]
    names = list(tasks)
    flat = [coro for name in names for coro in tasks[name]]
    results = await asyncio.gather(*flat, *extra, sweep_many(api.rt, size.sweepers))
    by_group: dict[str, list[Any]] = {}
    position = 0
    for name in names:
        by_group[name] = list(results[position : position + len(tasks[name])])
        position += len(tasks[name])
    return by_group, list(results[position : position + len(extra)])


async def _twice(api: Api, activation: dict[str, Any]) -> list[str]:
    message_id = f"dup-{uuid.uuid4()}"
    both = await asyncio.gather(*(sms_to(api, activation, message_id) for _ in range(2)))
    return sorted(both)


async def _race(
    mutation: Awaitable[dict[str, Any]], delivery: Awaitable[str]
) -> tuple[str | None, str]:
    refused, outcome = await asyncio.gather(error_code(mutation), delivery)
    return refused, outcome


async def check_actions(
    groups: dict[str, list[dict[str, Any]]], results: dict[str, list[Any]]
) -> None:
    assert results["cancel"] == [None] * len(groups["cancel"])
    assert await statuses(_ids(groups["cancel"])) == [ActivationStatus.CANCELLED] * len(
        groups["cancel"]
    )
    assert results["sms"] == [["delivered", "duplicate"]] * len(groups["sms"])
    assert await statuses(_ids(groups["sms"])) == [ActivationStatus.RECEIVED] * len(groups["sms"])
    for name, loser_status in (
        ("cancel_vs_sms", ActivationStatus.CANCELLED),
        ("ban_vs_sms", ActivationStatus.BANNED),
    ):
        for activation, (refused, outcome) in zip(groups[name], results[name], strict=True):
            [status] = await statuses([activation["id"]])
            # Exactly one wins: the refund (and the SMS is only stored) or the code (and the
            # cancel/ban is refused). Never both, never neither.
            if refused is None:
                assert (status, outcome) == (loser_status, "stored"), activation
                assert await resolutions(activation["id"]) == [TransferKind.HOLD, TransferKind.VOID]
            else:
                assert (refused, status, outcome) == (
                    "INVALID_STATE",
                    ActivationStatus.RECEIVED,
                    "delivered",
                ), activation
                assert await resolutions(activation["id"]) == CAPTURED_TRANSFERS


def _ids(group: list[dict[str, Any]]) -> list[str]:
    return [a["id"] for a in group]


async def phase_expiry(
    api: Api, user: User, groups: dict[str, list[dict[str, Any]]], size: Size
) -> tuple[list[str | None], list[str]]:
    """R4: past the SMS deadline, sweepers race user cancels and late SMS."""
    api.rt.clock.advance(api.rt.settings.sms_wait_seconds + 1)
    cancels = [
        error_code(api.act(user, "cancelActivation", a["id"])) for a in groups["expire_vs_cancel"]
    ]
    late = [sms_to(api, a) for a in groups["expire_vs_sms"]]
    results = await asyncio.gather(*cancels, *late, sweep_many(api.rt, size.sweepers))
    await wait_until_none_waiting(user.id)
    return list(results[: len(cancels)]), list(results[len(cancels) : len(cancels) + len(late)])


async def check_expiry(
    groups: dict[str, list[dict[str, Any]]], cancels: list[str | None], late: list[str]
) -> None:
    group = groups["expire"]
    assert await statuses(_ids(group)) == [ActivationStatus.EXPIRED] * len(group)
    for activation, refused in zip(groups["expire_vs_cancel"], cancels, strict=True):
        [status] = await statuses([activation["id"]])
        expected = ActivationStatus.CANCELLED if refused is None else ActivationStatus.EXPIRED
        assert (refused in (None, "INVALID_STATE"), status) == (True, expected), activation
    # After the deadline an SMS neither captures nor shows, whoever sweeps first (R4).
    assert late == ["stored"] * len(groups["expire_vs_sms"])
    group = groups["expire_vs_sms"]
    assert await statuses(_ids(group)) == [ActivationStatus.EXPIRED] * len(group)


async def phase_window_close(api: Api, user: User, received: list[str], size: Size) -> None:
    """R3: the window closes while the user finishes: one FINISHED either way, no money moves."""
    api.rt.clock.advance(api.rt.settings.activation_window_seconds)
    finishes = [error_code(api.act(user, "finishActivation", i)) for i in received]
    results = await asyncio.gather(*finishes, sweep_many(api.rt, size.sweepers))
    assert set(results[: len(finishes)]) <= {None, "INVALID_STATE"}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + POLL_TIMEOUT_SECONDS
    while set(await statuses(received)) - {ActivationStatus.FINISHED}:
        assert loop.time() < deadline, "received activations were not finished"
        await asyncio.sleep(0.05)


# -- the invariants ----------------------------------------------------------------------------
async def check_ledger(
    user: User,
    funded_minor: int,
    price: int,
    extra_bought: int,
    refunds_before_extra: int,
    watch: Watch,
) -> None:
    assert watch.reads > 0
    assert watch.lowest_balance_minor >= 0
    assert watch.lowest_escrow_minor >= 0
    # Extra buys ran on a balance of zero: only refunds could pay for them.
    assert extra_bought <= refunds_before_extra
    rows = await Activation.filter(user_id=user.id).values_list("id", "status", "refunded")
    captured = [r for r in rows if r[1] in CAPTURED]
    assert all(r[1] in CAPTURED or r[1] in REFUNDED for r in rows)
    assert all(r[2] == (r[1] in REFUNDED) for r in rows)
    assert await ledger.balance_minor(user.id) == funded_minor - price * len(captured)
    assert (await ledger.escrow_account(user.id)).balance_minor == 0
    for activation_id, status, _ in rows:
        kinds = await resolutions(str(activation_id))
        expected = (
            CAPTURED_TRANSFERS if status in CAPTURED else [TransferKind.HOLD, TransferKind.VOID]
        )
        assert kinds == expected, (activation_id, status, kinds)
    await check_journal(user)


async def check_journal(user: User) -> None:
    """Each of the user's balances is the sum of its entries; all accounts sum to zero."""
    for account in await LedgerAccount.filter(user_id=user.id):
        credits = await Transfer.filter(credit_account_id=account.id).values_list(
            "amount_minor", flat=True
        )
        debits = await Transfer.filter(debit_account_id=account.id).values_list(
            "amount_minor", flat=True
        )
        assert account.balance_minor == sum(credits) - sum(debits), account.kind
    everything = await LedgerAccount.all().values_list("balance_minor", flat=True)
    assert sum(everything) == 0
    assert await audit.ledger_violations() == []
    await assert_no_pair_sold_twice(user)


async def run_workload(api: Api, size: Size) -> None:
    price = await price_minor(api)
    user = await api.funded_user(str(Decimal(size.affordable * price).scaleb(-2)))
    watch = Watch(user.id)
    watcher = asyncio.create_task(watch.run())
    try:
        bought = await buy_all_at_once(api, user, size, price)
        phones = [a["phoneNumber"] for a in bought]
        assert len(set(phones)) == len(phones)
        groups = {
            name: bought[i * size.group : (i + 1) * size.group] for i, name in enumerate(GROUPS)
        }

        results, extra = await phase_actions(api, user, groups, size)
        await check_actions(groups, results)
        extra_bought = [p["activation"] for p in extra if not p["errors"]]
        assert {p["errors"][0]["code"] for p in extra if p["errors"]} <= {"INSUFFICIENT_BALANCE"}
        refunds = await Activation.filter(user_id=user.id, refunded=True).count()

        cancels, late = await phase_expiry(api, user, groups, size)
        await check_expiry(groups, cancels, late)
        # Bought in the action phase and left alone: they expired too.
        assert set(await statuses(_ids(extra_bought))) <= {ActivationStatus.EXPIRED}

        received = [
            i
            for i, s in zip(_ids(bought), await statuses(_ids(bought)), strict=True)
            if s == ActivationStatus.RECEIVED
        ]
        assert len(received) >= len(groups["sms"])
        await phase_window_close(api, user, received, size)
    finally:
        watch.stop.set()
        await watcher
    await check_ledger(user, size.affordable * price, price, len(extra_bought), refunds, watch)


@pytest.mark.backends("postgres")
@pytest.mark.usefixtures("no_abuse_limit")
async def test_parallel_buys_cancels_sms_and_sweeps_keep_the_ledger_exact(api: Api) -> None:
    await run_workload(api, BIG)


@pytest.mark.backends("sqlite")
@pytest.mark.usefixtures("no_abuse_limit")
async def test_the_same_workload_smaller_on_sqlite(api: Api) -> None:
    await run_workload(api, SMALL)


# -- injected interleavings ----------------------------------------------------------------------
@dataclass
class Once:
    """Runs an injected step for the first caller only: the app's background sweeper and the
    test may reach the injection point at the same moment, so the claim comes before the await."""

    results: list[Any] = field(default_factory=list)
    claimed: bool = False

    async def run(self, step: Callable[[], Awaitable[Any]]) -> None:
        if self.claimed:
            return
        self.claimed = True
        self.results.append(await step())


async def test_r4_cancel_that_saw_waiting_loses_to_an_sms_committed_meanwhile(
    api: Api, monkeypatch: pytest.MonkeyPatch, ledger_is_consistent: None
) -> None:
    """The cancel has read the activation (WAITING_SMS); before its update, the first SMS
    arrives and commits. The cancel must then be refused: the code wins, no refund."""
    user = await api.funded_user("1.00")
    activation = await api.bought(user, COUNTRY, SERVICE)
    original = activations._end_waiting
    deliveries = Once()

    async def sms_first(
        rt: Runtime, target: Activation, status: ActivationStatus, **kw: Any
    ) -> Activation:
        if target.id == int(activation["id"]):
            assert target.status == ActivationStatus.WAITING_SMS  # what the cancel saw
            await deliveries.run(lambda: sms_to(api, activation))
        return await original(rt, target, status, **kw)

    monkeypatch.setattr(activations, "_end_waiting", sms_first)
    refused = await error_code(api.act(user, "cancelActivation", activation["id"]))

    assert (deliveries.results, refused) == (["delivered"], "INVALID_STATE")
    stored = await Activation.get(id=int(activation["id"]))
    assert (stored.status, stored.refunded) == (ActivationStatus.RECEIVED, False)
    assert await resolutions(activation["id"]) == CAPTURED_TRANSFERS
    price = int(Decimal(activation["price"]["amount"]) * 100)
    assert await ledger.balance_minor(user.id) == 100 - price


@pytest.mark.backends("postgres")  # SQLite: one connection, a second transaction cannot interleave
async def test_r4_sms_that_saw_waiting_loses_to_a_cancel_committed_meanwhile(
    api: Api, monkeypatch: pytest.MonkeyPatch, ledger_is_consistent: None
) -> None:
    """The SMS ingest has found the activation live (WAITING_SMS) inside its transaction; before
    it updates it, a cancel commits. The SMS is then only stored: the refund wins, no capture."""
    user = await api.funded_user("1.00")
    activation = await api.bought(user, COUNTRY, SERVICE)
    original = sms._deliver_to
    cancels = Once()

    async def cancel_first(
        rt: Runtime, conn: Any, message: Sms, target: Activation, code: str | None
    ) -> Any:
        if target.id == int(activation["id"]):
            assert target.status == ActivationStatus.WAITING_SMS  # what the ingest saw
            await cancels.run(
                lambda: error_code(api.act(user, "cancelActivation", activation["id"]))
            )
        return await original(rt, conn, message, target, code)

    monkeypatch.setattr(sms, "_deliver_to", cancel_first)
    outcome = await sms_to(api, activation)

    assert (cancels.results, outcome) == ([None], "stored")
    stored = await Activation.get(id=int(activation["id"]))
    assert (stored.status, stored.refunded, stored.code) == (ActivationStatus.CANCELLED, True, None)
    assert await resolutions(activation["id"]) == [TransferKind.HOLD, TransferKind.VOID]
    assert await Sms.filter(to_e164=activation["phoneNumber"], activation_id=None).count() == 1
    assert await ledger.balance_minor(user.id) == 100


async def test_r4_expiry_that_saw_waiting_wins_over_a_late_sms_committed_meanwhile(
    api: Api, monkeypatch: pytest.MonkeyPatch, ledger_is_consistent: None
) -> None:
    """A sweeper has picked the activation as due; before it expires it, an SMS arrives after
    the deadline. The SMS is only stored, and the expiry refunds in full."""
    user = await api.funded_user("1.00")
    activation = await api.bought(user, COUNTRY, SERVICE)
    original = activations._end_waiting
    deliveries = Once()

    async def late_sms_first(
        rt: Runtime, target: Activation, status: ActivationStatus, **kw: Any
    ) -> Activation:
        if target.id == int(activation["id"]) and status == ActivationStatus.EXPIRED:
            await deliveries.run(lambda: sms_to(api, activation))
        return await original(rt, target, status, **kw)

    real_sweep = sweeper.sweep_once

    async def paused(*_: object) -> sweeper.SweepResult:
        return sweeper.SweepResult(expired=0, finished=0)

    # Only this test's sweep may reach the injection point: the app's loop is paused.
    monkeypatch.setattr(sweeper, "sweep_once", paused)
    monkeypatch.setattr(activations, "_end_waiting", late_sms_first)
    api.rt.clock.advance(api.rt.settings.sms_wait_seconds + 1)
    await sweep_until_ended(lambda: real_sweep(api.rt), activation["id"])

    assert deliveries.results == ["stored"]
    stored = await Activation.get(id=int(activation["id"]))
    assert (stored.status, stored.refunded, stored.code) == (ActivationStatus.EXPIRED, True, None)
    assert await resolutions(activation["id"]) == [TransferKind.HOLD, TransferKind.VOID]
    assert await ledger.balance_minor(user.id) == 100
    assert (
        await Transfer.filter(
            Q(activation_id=int(activation["id"])) & Q(kind=TransferKind.CAPTURE)
        ).count()
        == 0
    )
