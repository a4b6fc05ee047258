"""The one "nothing changed" check: after every refused operation, a test asserts that the stored
state is as it was (STYLE.md, "Assert precisely").

    before = await snapshot(user)
    ... a refused operation ...
    assert await snapshot(user) == before

A snapshot holds, for each user asked for, what the database keeps of them (balance and escrow,
the transfers touching their accounts, their activations with every field an operation may
change, the SMS shown to them, their cool-down, their live credentials), and, for everybody,
the counts no refusal may move (users, activations, numbers used or banned, credentials,
adjustments, the suppliers as admins set them, ledger accounts). `snapshot()` with no user
takes the counts alone. Counts that background work moves on its own (the sweeper's refunds,
SMS stored for audit) are left out, so that a test never fails for what another test's
leftovers do meanwhile.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tortoise.expressions import Q

from models import (
    AccountKind,
    Activation,
    Credential,
    LedgerAccount,
    NumberUse,
    Sms,
    Supplier,
    Transfer,
    TransferKind,
    User,
)
from services import ledger

# The fields of a supplier that an admin's operation may change.
SUPPLIER_FIELDS = (
    "id",
    "code",
    "name",
    "kind",
    "state",
    "paused_reason",
    "url",
    "secret_sealed",
    "default_cost_minor",
)
# The fields of an activation that an operation may change.
ACTIVATION_FIELDS = ("id", "status", "refunded", "code", "another_sms_requested_at", "ended_at")


class HasId(Protocol):
    @property
    def id(self) -> int: ...


@dataclass(frozen=True)
class UserRows:
    """What the database holds for one user."""

    user_id: int
    balance_minor: int
    escrow_minor: int
    transfers: int  # touching the user's own or escrow account
    activations: tuple[tuple[Any, ...], ...]  # ACTIVATION_FIELDS of each, oldest first
    sms_shown: int  # delivered to one of the user's activations
    cooldown_until: datetime | None  # R5
    credentials: tuple[tuple[int, str], ...]  # live sessions and API keys: (id, kind)


@dataclass(frozen=True)
class World:
    """Counts over every user that no refused operation may change."""

    users: int
    activations: int
    number_uses: tuple[int, int]  # (rows, banned rows)
    credentials: tuple[int, int]  # (rows, revoked rows)
    adjustments: tuple[int, int]  # (transfers, balance of the adjustments account)
    suppliers: tuple[tuple[Any, ...], ...]  # SUPPLIER_FIELDS of each, by id
    ledger_accounts: int


@dataclass(frozen=True)
class Snapshot:
    users: tuple[UserRows, ...]
    world: World

    @property
    def user(self) -> UserRows:
        """The rows of the one user of this snapshot."""
        [only] = self.users
        return only

    def with_user(self, **changes: Any) -> Snapshot:
        """This snapshot with some fields of its one user changed: what a test expects after an
        operation that may change those and nothing else."""
        return dataclasses.replace(self, users=(dataclasses.replace(self.user, **changes),))

    def of(self, user: int | HasId) -> UserRows:
        user_id = user if isinstance(user, int) else user.id
        return next(rows for rows in self.users if rows.user_id == user_id)


async def snapshot(*users: int | HasId) -> Snapshot:
    ids = [user if isinstance(user, int) else user.id for user in users]
    return Snapshot(tuple([await user_rows(user_id) for user_id in ids]), await world())


async def user_rows(user_id: int) -> UserRows:
    accounts = {a.kind: a for a in await LedgerAccount.filter(user_id=user_id)}
    account_ids = [a.id for a in accounts.values()]
    transfers = await Transfer.filter(
        Q(debit_account_id__in=account_ids) | Q(credit_account_id__in=account_ids)
    ).count()
    activations = (
        await Activation.filter(user_id=user_id).order_by("id").values_list(*ACTIVATION_FIELDS)
    )
    credentials = await Credential.filter(user_id=user_id, revoked_at=None).order_by("id")
    stored = await User.get(id=user_id)
    return UserRows(
        user_id=user_id,
        balance_minor=accounts[AccountKind.USER].balance_minor,
        escrow_minor=accounts[AccountKind.ESCROW].balance_minor,
        transfers=transfers,
        activations=tuple(tuple(row) for row in activations),
        sms_shown=await Sms.filter(activation__user_id=user_id).count(),
        cooldown_until=stored.cooldown_until,
        credentials=tuple((c.id, c.kind.value) for c in credentials),
    )


async def world() -> World:
    adjustments = await ledger.system_account(AccountKind.ADJUSTMENTS)
    return World(
        users=await User.all().count(),
        activations=await Activation.all().count(),
        number_uses=(await NumberUse.all().count(), await NumberUse.filter(banned=True).count()),
        credentials=(
            await Credential.all().count(),
            await Credential.filter(revoked_at__isnull=False).count(),
        ),
        adjustments=(
            await Transfer.filter(kind=TransferKind.ADJUSTMENT).count(),
            adjustments.balance_minor,
        ),
        suppliers=tuple(
            tuple(row) for row in await Supplier.all().order_by("id").values_list(*SUPPLIER_FIELDS)
        ),
        ledger_accounts=await LedgerAccount.all().count(),
    )
