"""Query documents parsed and validated once per query text (ADR 0015).

Parsing and validating `{me{balance{amount}}}` cost more than answering it. Both depend only on
the query text and on the schema's rules (the token, depth and alias limits, introspection),
which are fixed for an app: the outcome for one text is the same on every request, so it is
kept in a bounded LRU keyed by the text. A document that parsed and validated without an error
is kept with its operations; one that did not is remembered as refused, and its request takes
strawberry's whole pipeline, which produces the very errors (messages, locations) it always did.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    parse,
    specified_rules,
)
from strawberry.schema.schema import validate_document
from strawberry.types.graphql import OperationType


@dataclass(frozen=True)
class Prepared:
    """A document that parsed within the token limit and passed every validation rule."""

    document: DocumentNode
    operations: dict[str | None, OperationType]  # by name; None: the only operation, if one

    def operation_type(self, operation_name: str | None) -> OperationType | None:
        """The type of the operation a request names (None when it names none that exists,
        or names none and the document has several, or the name is no string: strawberry's
        pipeline says why)."""
        if operation_name is not None and not isinstance(operation_name, str):
            return None
        return self.operations.get(operation_name)


REFUSED = object()  # the text failed to parse or validate: the full pipeline answers it


class PreparedDocuments:
    def __init__(
        self,
        schema: GraphQLSchema,
        rules: Sequence[type[ASTValidationRule]],
        *,
        max_tokens: int,
        max_entries: int,
    ) -> None:
        self.schema = schema
        self.rules = (*specified_rules, *rules)  # with strawberry's own two, as it validates
        self.max_tokens = max_tokens
        self.max_entries = max_entries
        self._entries: OrderedDict[str, object] = OrderedDict()

    def get(self, query: str) -> Prepared | None:
        """The prepared document of this text, parsing and validating it on first sight."""
        entry = self._entries.get(query)
        if entry is None:
            entry = self._prepare(query)
            if self.max_entries > 0:
                self._entries[query] = entry
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(query)
        return entry if isinstance(entry, Prepared) else None

    def _prepare(self, query: str) -> object:
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLError:
            return REFUSED
        try:
            refused = bool(validate_document(self.schema, document, self.rules))
        except Exception:  # noqa: BLE001 - a rule that chokes (strawberry's depth limiter
            # raises KeyError on an unknown fragment): strawberry's pipeline answers it as a
            # request error, as it always did, rather than a 500 from here
            return REFUSED
        if refused:
            return REFUSED
        return Prepared(document, _operations(document))


def _operations(document: DocumentNode) -> dict[str | None, OperationType]:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    by_name: dict[str | None, OperationType] = {
        d.name.value: OperationType(d.operation.value) for d in operations if d.name
    }
    if len(operations) == 1:
        by_name[None] = OperationType(operations[0].operation.value)
    return by_name
