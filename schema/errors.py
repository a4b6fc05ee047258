"""Business errors as the GraphQL API shows them: `UserError` in a mutation payload."""

from __future__ import annotations

from typing import TypeAlias

import strawberry

from services.errors import ErrorCode as ServiceErrorCode
from services.errors import ServiceError

# strawberry.enum marks the services' enum itself as the GraphQL enum (and returns it); the
# alias names that GraphQL enum in annotations, where mypy needs a type, not a call.
strawberry.enum(ServiceErrorCode, name="ErrorCode")
ErrorCode: TypeAlias = ServiceErrorCode


@strawberry.type
class UserError:
    code: ErrorCode
    message: str
    field: str | None = strawberry.field(description="The argument at fault, if one is.")

    @classmethod
    def from_service(cls, error: ServiceError) -> UserError:
        return cls(code=error.code, message=error.message, field=error.field)
