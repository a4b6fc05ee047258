"""How resolvers answer a refusal: in a mutation's payload as a `UserError`, in a query or a
subscription as a GraphQL error with `extensions.code`. The one place errors are mapped."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from graphql import GraphQLError

from schema.errors import UserError
from services.errors import ServiceError

P = TypeVar("P")


async def payload(call: Callable[[], Awaitable[P]], refused: Callable[[list[UserError]], P]) -> P:
    """Runs `call`; a ServiceError becomes `refused([UserError])`, anything else is a bug."""
    try:
        return await call()
    except ServiceError as error:
        return refused([UserError.from_service(error)])


def query_error(error: ServiceError) -> GraphQLError:
    return GraphQLError(error.message, extensions={"code": error.code.value, "field": error.field})
