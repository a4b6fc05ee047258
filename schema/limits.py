"""What a query may cost: depth, aliases, tokens; and the caches that make the checks cheap.

The validation rules are built once per schema, from the settings of its app, so that
strawberry's ValidationCache (keyed by the rule classes) hits: a limiter constructed per request
would make every request re-validate (DESIGN.md, "Known traps"). Extensions are passed as
factories, one instance per request.
"""

from __future__ import annotations

from collections.abc import Callable

from graphql import ASTValidationRule, GraphQLError, NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule

from schema.maintenance import MaintenanceGuard
from services.db import unavailable
from services.errors import ServiceError
from settings import Settings

UNEXPECTED_ERROR = "Unexpected error."  # all a client learns of a bug


def is_unexpected(error: GraphQLError) -> bool:
    """An exception a resolver did not mean to raise: a bug, whose text may reveal internals.

    Only execution errors (they have a path) are masked, and not ours: GraphQLErrors raised on
    purpose carry `extensions.code` (UNAUTHENTICATED, NOT_FOUND, ...). Syntax, validation and
    variable errors have no path and stay visible. strawberry logs the original before masking.
    """
    original = error.original_error
    return (
        error.path is not None
        and original is not None
        and not isinstance(original, GraphQLError | ServiceError)
        and unavailable(original) is None  # the database away for a moment is no bug
    )


class MaskBugs(MaskErrors):
    """Masks bugs as UNEXPECTED_ERROR, and a lost database connection as the retryable BUSY a
    mutation's payload would carry (resolvers/errors.py): the client may retry either way,
    and never sees the driver's words."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=self.should_mask, error_message=UNEXPECTED_ERROR)

    @staticmethod
    def should_mask(error: GraphQLError) -> bool:
        return is_unexpected(error) or unavailable_error(error) is not None

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        lost = unavailable_error(error)
        if lost is None:
            return super().anonymise_error(error)
        return GraphQLError(
            lost.message, nodes=error.nodes, path=error.path, extensions={"code": lost.code.value}
        )


def mask_bugs(errors: list[GraphQLError]) -> list[GraphQLError]:
    """The errors as MaskBugs leaves them (for a query run without the extension pipeline)."""
    return [_MASK.anonymise_error(e) if _MASK.should_mask(e) else e for e in errors]


_MASK = MaskBugs()  # stateless: one serves every request


def unavailable_error(error: GraphQLError) -> ServiceError | None:
    original = error.original_error
    if error.path is None or original is None or isinstance(original, GraphQLError):
        return None
    return unavailable(original)


def code_request_errors(errors: list[GraphQLError] | None) -> None:
    """Gives every request error (syntax, validation, limits, a variable that does not coerce,
    such as a Decimal "abc") `extensions.code = INVALID_INPUT`, so that clients can branch on a
    code for those too. Errors raised while executing (they have a path) keep their own."""
    for error in errors or []:
        if error.path is None and not (error.extensions or {}).get("code"):
            error.extensions = {**(error.extensions or {}), "code": "INVALID_INPUT"}


def validation_rules(settings: Settings) -> list[type[ASTValidationRule]]:
    """The depth and alias limits of GRAPHQL_MAX_DEPTH and GRAPHQL_MAX_ALIASES, and no
    `__schema` / `__type` where INTROSPECTION is off (`__typename` stays: clients need it)."""
    rules: list[type[ASTValidationRule]] = [
        max_depth_rule(settings.graphql_max_depth, None),
        max_aliases_rule(settings.graphql_max_aliases),
    ]
    if not settings.introspection_enabled:
        rules.append(NoSchemaIntrospectionCustomRule)
    return rules


def extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    rules = validation_rules(settings)
    cache_size = settings.graphql_document_cache_size
    return [
        MaskBugs,
        MaintenanceGuard,
        lambda: MaxTokensLimiter(max_token_count=settings.graphql_max_tokens),
        lambda: ParserCache(maxsize=cache_size),
        lambda: AddValidationRules(rules),
        lambda: ValidationCache(maxsize=cache_size),
    ]
