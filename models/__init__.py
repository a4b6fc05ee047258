"""Tortoise models: the persistent state of SMS Rooms. Writes go through `services/` only.

Each relation `x` is followed by a bare annotation `x_id: int` for the column tortoise adds for
it: an annotation without a value is not a field, so the schema is unchanged, and mypy knows it.
"""

from models.accounts import (
    ActivityLog,
    Credential,
    CredentialKind,
    EmailToken,
    Role,
    User,
    UserState,
)
from models.activations import Activation, ActivationEvent, ActivationStatus, EventKind, Sms
from models.catalog import Country, NumberState, NumberUse, PhoneNumber, Price, Service, Supplier
from models.ledger import AccountKind, LedgerAccount, Transfer, TransferKind

__all__ = [
    "AccountKind",
    "Activation",
    "ActivationEvent",
    "ActivationStatus",
    "ActivityLog",
    "Country",
    "Credential",
    "CredentialKind",
    "EmailToken",
    "EventKind",
    "LedgerAccount",
    "NumberState",
    "NumberUse",
    "PhoneNumber",
    "Price",
    "Role",
    "Service",
    "Sms",
    "Supplier",
    "Transfer",
    "TransferKind",
    "User",
    "UserState",
]
