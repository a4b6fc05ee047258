"""What a query may cost: depth, aliases, tokens; and the caches that make the checks cheap.

The validation rules are built once, here, so that strawberry's ValidationCache (keyed by the
rule classes) hits: a limiter constructed per request would make every request re-validate
(DESIGN.md, "Known traps"). Extensions are passed as factories, one instance per request.
"""

from __future__ import annotations

from collections.abc import Callable

from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule

from settings import Settings

_defaults = Settings()
RULES = (
    max_depth_rule(_defaults.graphql_max_depth, None),
    max_aliases_rule(_defaults.graphql_max_aliases),
)
DOCUMENT_CACHE_SIZE = 512  # distinct query texts kept parsed and validated


def extensions() -> list[Callable[[], SchemaExtension]]:
    return [
        lambda: MaxTokensLimiter(max_token_count=_defaults.graphql_max_tokens),
        lambda: ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
        lambda: AddValidationRules(list(RULES)),
        lambda: ValidationCache(maxsize=DOCUMENT_CACHE_SIZE),
    ]
