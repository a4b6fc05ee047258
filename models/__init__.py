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
    ShopSetting,
    User,
    UserState,
)
from models.activations import Activation, ActivationEvent, ActivationStatus, EventKind, Sms
from models.catalog import (
    Country,
    NumberState,
    NumberUse,
    PhoneNumber,
    Price,
    Service,
    Supplier,
    SupplierCost,
    SupplierKind,
    SupplierState,
    SupplierStock,
)
from models.gateways import GatewaySim
from models.ledger import AccountKind, LedgerAccount, Transfer, TransferKind
from models.outbox import OutboxMessage
from models.payments import (
    PaymentNotification,
    PayoutState,
    RefundRequest,
    RefundRequestState,
    TopUp,
    TopUpStatus,
)
from models.pricing import PriceRule
from models.upstream import UpstreamAccount, UpstreamPoll
from models.webhooks import DeliveryStatus, SmsWebhook, WebhookDelivery

__all__ = [
    "AccountKind",
    "Activation",
    "ActivationEvent",
    "ActivationStatus",
    "ActivityLog",
    "Country",
    "Credential",
    "CredentialKind",
    "DeliveryStatus",
    "EmailToken",
    "EventKind",
    "GatewaySim",
    "LedgerAccount",
    "NumberState",
    "NumberUse",
    "OutboxMessage",
    "PaymentNotification",
    "PayoutState",
    "PhoneNumber",
    "Price",
    "PriceRule",
    "RefundRequest",
    "RefundRequestState",
    "Role",
    "Service",
    "ShopSetting",
    "Sms",
    "SmsWebhook",
    "Supplier",
    "SupplierCost",
    "SupplierKind",
    "SupplierState",
    "SupplierStock",
    "TopUp",
    "TopUpStatus",
    "Transfer",
    "TransferKind",
    "UpstreamAccount",
    "UpstreamPoll",
    "User",
    "UserState",
    "WebhookDelivery",
]
