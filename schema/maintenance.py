"""R14 in the GraphQL API: the maintenance state, and the guard that refuses mutations with it.

The guard is a schema extension, so that every mutation, those added later included, is
covered without each resolver remembering to ask. A refused request gets no data and one
error with `extensions.code = MAINTENANCE` and the operator's message; nothing ran. `login`
is let through: the service lets only admins sign in then (services/accounts.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import strawberry
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
)
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from resolvers.context import Context
from schema.errors import UserError
from services import maintenance
from services.db import unavailable
from services.errors import Maintenance as MaintenanceRefusal
from services.errors import ServiceError

# Root mutation fields the guard lets through (their services decide).
LET_THROUGH = frozenset({"login", "__typename"})


@strawberry.type
class Maintenance:
    on: bool
    message: str | None

    @classmethod
    def from_state(cls, state: maintenance.State) -> Maintenance:
        return cls(on=state.on, message=state.message)


@strawberry.type
class MaintenancePayload:
    maintenance: Maintenance | None
    errors: list[UserError]


class MaintenanceGuard(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        run = self.execution_context
        if run.operation_type == OperationType.MUTATION and run.graphql_document is not None:
            refused = await refusal_of(run.context, run.graphql_document, run.operation_name)
            if refused is not None:
                run.result = ExecutionResult(data=None, errors=[refused])
        yield


async def refusal_of(
    context: Context, document: DocumentNode, operation_name: str | None
) -> GraphQLError | None:
    """The error that refuses this mutation during maintenance, or None to let it run (also
    the prepared path's check: schema.Schema.execute_prepared)."""
    if _only_let_through(document, operation_name):
        return None
    try:
        refusal = await _refusal(context)
    except Exception as error:
        if unavailable(error) is None:
            raise
        return None  # the database is away: the mutation itself answers BUSY
    if refusal is None:
        return None
    return GraphQLError(refusal.message, extensions={"code": refusal.code.value})


async def _refusal(context: Context) -> ServiceError | None:
    """The refusal of this request's mutation, if maintenance is on and no admin asks. The
    state is read first: it is cached, and the viewer is looked up only when it matters."""
    if not (await maintenance.current(context.runtime)).on:
        return None
    viewer = await context.viewer()
    admin = viewer is not None and viewer.is_admin
    try:
        await maintenance.refuse_during(context.runtime, admin=admin)
    except MaintenanceRefusal as refused:
        return refused
    return None


def _only_let_through(document: DocumentNode, operation_name: str | None) -> bool:
    operations = [
        d
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
        and (operation_name is None or (d.name and d.name.value == operation_name))
    ]
    if len(operations) != 1:
        return False
    selections = operations[0].selection_set.selections
    return all(isinstance(s, FieldNode) and s.name.value in LET_THROUGH for s in selections)
