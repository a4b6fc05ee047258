"""The GraphQL schema: root types wired to the resolvers, and the Schema object with its limits.

The contract clients were written against is ../shared/contract/core.graphql; this schema may
add to it but never removes, renames or retypes (`frontend-contract/schema.graphql` is generated
from it and checked by tests/test_contract.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from inspect import isawaitable
from typing import Any, TypeGuard, cast

import strawberry
from graphql import GraphQLError
from graphql import execute as graphql_execute
from strawberry.execution import optimized_is_awaitable
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from resolvers import (
    accounts,
    activations,
    admin_users,
    balances,
    catalog,
    maintenance,
    payments,
    pricing,
    stats,
    suppliers,
    webhooks,
)
from schema.accounts import (
    ApiKeyPayload,
    AuthPayload,
    Credential,
    RevokePayload,
    Viewer,
    ViewerPayload,
)
from schema.activations import Activation, ActivationConnection, ActivationPayload
from schema.admin import (
    ActivityConnection,
    DeleteAccountPayload,
    FlaggedUserConnection,
    UnmatchedSmsConnection,
    UserConnection,
    UserDetail,
    UserPayload,
)
from schema.balances import TransactionConnection
from schema.catalog import Country, PriceOffer, Service
from schema.documents import Prepared, PreparedDocuments
from schema.limits import (
    code_request_errors,
    extensions,
    is_unexpected,
    mask_bugs,
    validation_rules,
)
from schema.maintenance import Maintenance, MaintenancePayload, refusal_of
from schema.payments import (
    PaymentProvider,
    RefundRequestConnection,
    RefundRequestPayload,
    TopUpConnection,
    TopUpDiscrepancy,
    TopUpPayload,
)
from schema.pricing import PricePreview, PriceRule, PriceRulePayload, SaleSwitchPayload
from schema.scalars import SCALARS
from schema.stats import Stats
from schema.suppliers import Supplier, SupplierPayload
from schema.webhooks import SmsWebhookPayload, WebhookDelivery
from settings import Settings
from subscriptions.resolvers import Subscription


@strawberry.type
class Query:
    me: Viewer | None = strawberry.field(
        resolver=accounts.me,
        description="The signed-in user, or null when the request carries no valid credentials.",
    )
    countries: list[Country] = strawberry.field(
        resolver=catalog.countries,
        description="Countries that numbers are sold for, sorted by name.",
    )
    services: list[Service] = strawberry.field(
        resolver=catalog.services, description="Services that numbers are sold for, sorted by name."
    )
    prices: list[PriceOffer] = strawberry.field(
        resolver=catalog.prices,
        description="Offers, filtered by country code and/or service code. "
        "Sold-out offers are listed with available = 0.",
    )
    activation: Activation | None = strawberry.field(
        resolver=activations.activation, description="One of the viewer's activations."
    )
    activations: ActivationConnection = strawberry.field(
        resolver=activations.activation_page, description="The viewer's activations, newest first."
    )
    transactions: TransactionConnection = strawberry.field(
        resolver=balances.transactions, description="The viewer's balance history, newest first."
    )
    credentials: list[Credential] = strawberry.field(
        resolver=accounts.credentials,
        description="The viewer's active sessions and API keys (R13), newest first.",
    )
    top_ups: TopUpConnection = strawberry.field(
        resolver=payments.top_ups, description="The viewer's top-ups, newest first."
    )
    payment_providers: list[PaymentProvider] = strawberry.field(
        resolver=payments.payment_providers,
        description="Payment processors configured on this server.",
    )
    refund_requests: RefundRequestConnection = strawberry.field(
        resolver=payments.refund_requests,
        description="Admin only: refund requests, oldest first.",
    )
    payment_reconciliation: list[TopUpDiscrepancy] = strawberry.field(
        resolver=payments.payment_reconciliation,
        description="Admin only: top-ups whose processor and ledger disagree (a notification "
        "that never arrived, a payment after expiry), and refund payouts not yet confirmed.",
    )
    suppliers: list[Supplier] = strawberry.field(
        resolver=suppliers.supplier_list,
        description="Admin only: every supplier with its measured health.",
    )
    webhook_deliveries: list[WebhookDelivery] = strawberry.field(
        resolver=webhooks.webhook_deliveries,
        description="The viewer's SMS webhook deliveries (setSmsWebhook), newest first.",
    )
    maintenance: Maintenance = strawberry.field(
        resolver=maintenance.maintenance_state,
        description="Whether the shop is in maintenance (R14); public, so that clients can show "
        "the message.",
    )
    activity: ActivityConnection = strawberry.field(
        resolver=admin_users.activity_log,
        description="The viewer's own activity log (R16), newest first.",
    )
    users: UserConnection = strawberry.field(
        resolver=admin_users.users,
        description="Admin only: users, matched by email substring when search is given, "
        "newest first.",
    )
    user: UserDetail = strawberry.field(
        resolver=admin_users.user,
        description="Admin only: one user with their activations, top-ups and activity.",
    )
    user_activity: ActivityConnection = strawberry.field(
        resolver=admin_users.user_activity,
        description="Admin only: one user's activity log, newest first.",
    )
    all_activations: ActivationConnection = strawberry.field(
        resolver=admin_users.all_activations,
        description="Admin only: every user's activations, newest first, narrowed by status, "
        "user, country and service codes.",
    )
    flagged_users: FlaggedUserConnection = strawberry.field(
        resolver=admin_users.flagged_users,
        description="Admin only: repeat offenders of the cancellation rule (R5), with the "
        "figures that flagged them.",
    )
    unmatched_sms: UnmatchedSmsConnection = strawberry.field(
        resolver=admin_users.unmatched_sms,
        description="Admin only: SMS that no activation claimed (R2), newest first, of one "
        "supplier or all.",
    )
    price_rules: list[PriceRule] = strawberry.field(
        resolver=pricing.price_rules,
        description="Admin only: the markup rules that turn supplier costs into prices.",
    )
    price_rule_preview: list[PricePreview] = strawberry.field(
        resolver=pricing.price_rule_preview,
        description="Admin only: the price of every offer the rule's scope covers, now and "
        "with the rule saved; nothing is saved.",
    )
    stats: Stats = strawberry.field(
        resolver=stats.shop_stats,
        description="Admin only: the shop's figures for a period (default: the last 24 hours).",
    )


@strawberry.type
class Mutation:
    register: AuthPayload = strawberry.mutation(resolver=accounts.register)
    login: AuthPayload = strawberry.mutation(resolver=accounts.login)
    verify_email: ViewerPayload = strawberry.mutation(
        resolver=accounts.verify_email,
        description="Confirms the email address with the token sent to it.",
    )
    logout: bool = strawberry.mutation(
        resolver=accounts.logout, description="Revokes the token this request was made with."
    )
    buy_number: ActivationPayload = strawberry.mutation(
        resolver=activations.buy_number,
        description="Buys a number. The price is debited at once and refunded if no SMS arrives.",
    )
    cancel_activation: ActivationPayload = strawberry.mutation(
        resolver=activations.cancel_activation,
        description="Cancels an activation that has not received an SMS yet, with a full refund.",
    )
    ban_number: ActivationPayload = strawberry.mutation(
        resolver=activations.ban_number,
        description="Reports the number as unusable for the service: refund, and it is never "
        "sold for that service again.",
    )
    finish_activation: ActivationPayload = strawberry.mutation(
        resolver=activations.finish_activation,
        description="Ends an activation early once the code has been used.",
    )
    request_another_sms: ActivationPayload = strawberry.mutation(
        resolver=activations.request_another_sms,
        description="Asks for a further SMS on the same activation.",
    )
    create_api_key: ApiKeyPayload = strawberry.mutation(
        resolver=accounts.create_api_key,
        description="Creates an API key for bots and the compatible HTTP API. "
        "The secret is shown only here.",
    )
    revoke_credential: RevokePayload = strawberry.mutation(
        resolver=accounts.revoke_credential,
        description="Revokes one of the viewer's sessions or API keys (R13).",
    )
    adjust_balance: ViewerPayload = strawberry.mutation(
        resolver=balances.adjust_balance,
        description="Admin only: credits (positive) or debits (negative) a user's balance, "
        "recorded in the ledger.",
    )
    create_top_up: TopUpPayload = strawberry.mutation(
        resolver=payments.create_top_up,
        description="Starts a top-up at a payment processor; the user pays on the page at "
        "checkoutUrl (R10).",
    )
    request_refund: RefundRequestPayload = strawberry.mutation(
        resolver=payments.request_refund,
        description="Asks for the remaining balance (or part of it) to be paid back; an admin "
        "decides (R15).",
    )
    decide_refund: RefundRequestPayload = strawberry.mutation(
        resolver=payments.decide_refund, description="Admin only."
    )
    settle_top_up: TopUpPayload = strawberry.mutation(
        resolver=payments.settle_top_up,
        description="Admin only: asks the top-up's processor for its state and applies it, "
        "exactly once (see paymentReconciliation).",
    )
    create_supplier: SupplierPayload = strawberry.mutation(
        resolver=suppliers.create_supplier,
        description="Admin only: registers a supplier. Its generated secret is shown only in "
        "this payload.",
    )
    update_supplier: SupplierPayload = strawberry.mutation(
        resolver=suppliers.update_supplier, description="Admin only."
    )
    rotate_supplier_secret: SupplierPayload = strawberry.mutation(
        resolver=suppliers.rotate_supplier_secret,
        description="Admin only: a new secret, shown only here; the old one stops working at once.",
    )
    set_maintenance: MaintenancePayload = strawberry.mutation(
        resolver=maintenance.set_maintenance,
        description="Admin only (R14): while on, every mutation but an admin's answers "
        "MAINTENANCE with the message.",
    )
    block_user: UserPayload = strawberry.mutation(
        resolver=admin_users.block_user,
        description="Admin only (R14): sessions and API keys stop working at once, the balance "
        "is forfeited.",
    )
    unblock_user: UserPayload = strawberry.mutation(
        resolver=admin_users.unblock_user, description="Admin only."
    )
    revoke_activation: ActivationPayload = strawberry.mutation(
        resolver=admin_users.revoke_activation,
        description="Admin only (R14): ends a live activation with a full refund.",
    )
    delete_account: DeleteAccountPayload = strawberry.mutation(
        resolver=accounts.delete_account,
        description="The viewer deletes their own account (R17): personal data erased, "
        "balance forfeited.",
    )
    set_supplier_cost: SupplierPayload = strawberry.mutation(
        resolver=suppliers.set_supplier_cost,
        description="Admin only: what a supplier is paid for an activation of this offer (null "
        "country/service: its default).",
    )
    set_sms_webhook: SmsWebhookPayload = strawberry.mutation(
        resolver=webhooks.set_sms_webhook,
        description="Every SMS of the viewer's activations is POSTed to this URL, signed; null "
        "turns it off. The secret is shown only here.",
    )
    set_price_rule: PriceRulePayload = strawberry.mutation(
        resolver=pricing.set_price_rule,
        description="Admin only: creates or replaces the rule for this scope (all null: the "
        "global rule).",
    )
    set_on_sale: SaleSwitchPayload = strawberry.mutation(
        resolver=pricing.set_on_sale,
        description="Admin only: switches one country or one service (give exactly one) on or "
        "off for sale.",
    )


class SubscriptionOverHttp(Exception):
    """A subscription sent to `Schema.execute`, which answers one result: subscriptions are
    served over the websocket (graphql-transport-ws, graphql-ws), which streams them."""


# What runs on the prepared path (ADR 0015): queries, and mutations since issue 11's buys
# (strawberry's pipeline did nothing for them but cost CPU). Subscriptions over a websocket have
# their own driver (subscriptions/driven.py); over HTTP they are refused.
PREPARED_OPERATIONS = frozenset({OperationType.QUERY, OperationType.MUTATION})


class Schema(strawberry.Schema):
    """strawberry's schema, with prepared documents: a query whose text has already parsed and
    validated runs straight on graphql-core's executor, without strawberry's per-request
    extension pipeline, every step of which would do nothing for it (ADR 0015)."""

    documents: PreparedDocuments  # set by build_schema

    async def execute(  # noqa: PLR0913 - strawberry's signature
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        # Only HTTP executes here (websockets go through `stream`). A subscription let through
        # would run its field as a query: "Cannot return null", and a traceback in the log.
        allowed = set(allowed_operation_types or OperationType) - {OperationType.SUBSCRIPTION}
        prepared = self.documents.get(query) if query else None
        if prepared is not None and prepared.operation_type(operation_name) in (
            allowed & PREPARED_OPERATIONS
        ):
            return await self.execute_prepared(
                prepared, variable_values, context_value, root_value, operation_name
            )
        try:
            result = await super().execute(
                query,
                variable_values,
                context_value,
                root_value,
                operation_name,
                allowed,
                operation_extensions,
            )
        except InvalidOperationTypeError as refused:
            if refused.operation_type is OperationType.SUBSCRIPTION:
                raise SubscriptionOverHttp from None
            raise
        code_request_errors(result.errors)
        return result

    async def execute_prepared(
        self,
        prepared: Prepared,
        variable_values: dict[str, Any] | None,
        context_value: Any,
        root_value: Any,
        operation_name: str | None,
    ) -> ExecutionResult:
        """What strawberry's pipeline does for a valid query or mutation, less the steps that
        do nothing for one: the document is parsed and validated already; a mutation is
        refused during maintenance as MaintenanceGuard would; bugs are logged and masked as
        MaskBugs would. The document must be prepared by `self.documents` and name a query or
        a mutation."""
        if prepared.operation_type(operation_name) is OperationType.MUTATION:
            refused = await refusal_of(context_value, prepared.document, operation_name)
            if refused is not None:
                return ExecutionResult(data=None, errors=[refused])
        outcome = graphql_execute(
            self._schema,
            prepared.document,
            root_value=root_value,
            context_value=context_value,
            variable_values=variable_values,
            operation_name=operation_name,
            is_awaitable=cast("Callable[[Any], TypeGuard[Awaitable[Any]]]", optimized_is_awaitable),
            **execution_context_class_kwargs(self.execution_context_class),
        )
        done = await outcome if isawaitable(outcome) else outcome
        errors = done.errors
        if errors:
            self._process_errors(errors)  # logs the bugs, before they are masked
            errors = mask_bugs(errors)
            code_request_errors(errors)  # a variable that did not coerce, say
        return ExecutionResult(data=done.data, errors=errors)

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Logs bugs only. strawberry logs every error with a traceback, including a client's
        syntax, validation and auth errors: noise, and a cost an attacker could multiply."""
        super().process_errors([e for e in errors if is_unexpected(e)], execution_context)


def build_schema(settings: Settings) -> Schema:
    """The schema of one app, with the query limits of its settings."""
    schema = Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions(settings),
        config=StrawberryConfig(scalar_map=SCALARS),
    )
    schema.documents = PreparedDocuments(
        schema._schema,
        validation_rules(settings),
        max_tokens=settings.graphql_max_tokens,
        max_entries=settings.graphql_document_cache_size,
    )
    return schema
