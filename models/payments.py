"""Money in and out through payment processors: top-ups (R10), their notifications, and refund
requests (R15). Money itself moves only in the ledger (models/ledger.py); these rows say why.

A top-up's `credited_minor`, `refunded_minor` and `disputed_minor` are the totals the ledger has
moved for it: to the user, and back out through refunds at the processor (R15 payouts included)
and disputes. They change only by
conditional updates in the transaction that posts the matching transfer, so a notification that
arrives twice, or twenty times at once, moves money once (services/payments/settlement.py).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.accounts import User
    from models.ledger import Transfer


class TopUpStatus(StrEnum):
    PENDING = "PENDING"  # waiting for the user to pay on the processor's page
    SUCCEEDED = "SUCCEEDED"  # paid (in full or in part: see credited_minor)
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"
    REFUNDED = "REFUNDED"  # the processor gave all of it back (refund or lost dispute)


class TopUp(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="top_ups", on_delete=fields.RESTRICT
    )
    user_id: int
    provider = fields.CharField(max_length=20)
    amount_minor = fields.BigIntField()  # what the user asked to pay, in the shop currency
    currency = fields.CharField(max_length=3)
    status = fields.CharEnumField(TopUpStatus, max_length=10, default=TopUpStatus.PENDING)
    # The processor's id of the checkout (Stripe Checkout Session, NOWPayments invoice...).
    reference = fields.CharField(max_length=100, null=True)
    # The processor's id of the payment itself, once known (Stripe PaymentIntent, NOWPayments
    # payment id): refunds and disputes name this one.
    payment_reference = fields.CharField(max_length=100, null=True)
    checkout_url = fields.CharField(max_length=500, null=True)
    idempotency_key = fields.CharField(max_length=100, null=True)
    credited_minor = fields.BigIntField(default=0)
    # As the processor counts them (Stripe's amount_refunded): our R15 payouts included.
    refunded_minor = fields.BigIntField(default=0)
    disputed_minor = fields.BigIntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    completed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "top_up"
        unique_together = (
            ("provider", "reference"),
            ("provider", "payment_reference"),
            ("user", "idempotency_key"),
        )
        indexes = (("completed_at",),)  # the top-ups of a period (services/stats.py)


class PaymentNotification(Model):
    # Every notification a processor sent that we acted on, once: unique by its event key.

    id = fields.BigIntField(primary_key=True)
    provider = fields.CharField(max_length=20)
    event_key = fields.CharField(max_length=200)
    kind = fields.CharField(max_length=40)
    top_up: fields.ForeignKeyNullableRelation[TopUp] = fields.ForeignKeyField(
        "models.TopUp", related_name="notifications", null=True, on_delete=fields.RESTRICT
    )
    top_up_id: int | None
    outcome = fields.CharField(max_length=40)
    received_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "payment_notification"
        unique_together = (("provider", "event_key"),)


class RefundRequestState(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    DECLINED = "DECLINED"


class PayoutState(StrEnum):
    NONE = "none"  # not approved (yet), or nothing to pay out (the fee took it all)
    REQUESTED = "requested"  # approved; the processor is being asked to refund
    ISSUED = "issued"  # refunded at the processor of the user's top-up
    MANUAL = "manual"  # the processor cannot refund: the operator pays it out by hand
    FAILED = "failed"  # the processor refused; listed by the reconciliation


class RefundRequest(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="refund_requests", on_delete=fields.RESTRICT
    )
    user_id: int
    amount_minor = fields.BigIntField()
    reason = fields.CharField(max_length=200)
    state = fields.CharEnumField(
        RefundRequestState, max_length=10, default=RefundRequestState.PENDING
    )
    note = fields.CharField(max_length=200, null=True)
    # The hold (user -> escrow) that keeps the amount out of reach while an admin decides.
    hold: fields.OneToOneRelation[Transfer] = fields.OneToOneField(
        "models.Transfer", related_name="refund_request", on_delete=fields.RESTRICT
    )
    hold_id: int
    fee_minor = fields.BigIntField(default=0)
    # Where the payout went: a top-up whose processor refunds it, or none (paid by hand).
    top_up: fields.ForeignKeyNullableRelation[TopUp] = fields.ForeignKeyField(
        "models.TopUp", related_name="refund_requests", null=True, on_delete=fields.RESTRICT
    )
    top_up_id: int | None
    payout_state = fields.CharEnumField(PayoutState, max_length=10, default=PayoutState.NONE)
    payout_reference = fields.CharField(max_length=100, null=True)
    decided_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="refund_decisions", null=True, on_delete=fields.RESTRICT
    )
    decided_by_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    decided_at = fields.DatetimeField(null=True)

    class Meta:
        table = "refund_request"
