"""How resolvers answer a refusal: in a mutation's payload as a `UserError`, in a query or a
subscription as a GraphQL error with `extensions.code`. The one place errors are mapped."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from graphql import GraphQLError

from schema.errors import UserError
from services.db import unavailable
from services.errors import ServiceError

P = TypeVar("P")


async def payload(call: Callable[[], Awaitable[P]], refused: Callable[[list[UserError]], P]) -> P:
    """Runs `call`; a ServiceError becomes `refused([UserError])`, and so does a database
    connection lost outside a transaction (BUSY); anything else is a bug."""
    try:
        return await call()
    except ServiceError as error:
        return refused([UserError.from_service(error)])
    except Exception as error:
        lost = unavailable(error)
        if lost is None:
            raise
        return refused([UserError.from_service(lost)])


def query_error(error: ServiceError) -> GraphQLError:
    return GraphQLError(error.message, extensions={"code": error.code.value, "field": error.field})
