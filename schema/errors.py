"""Business errors as the GraphQL API shows them: `UserError` in a mutation payload."""

from __future__ import annotations

import strawberry

from services.errors import ErrorCode as ServiceErrorCode
from services.errors import ServiceError

ErrorCode = strawberry.enum(ServiceErrorCode, name="ErrorCode")


@strawberry.type
class UserError:
    code: ErrorCode  # type: ignore[valid-type]
    message: str
    field: str | None = strawberry.field(description="The argument at fault, if one is.")

    @classmethod
    def from_service(cls, error: ServiceError) -> UserError:
        return cls(code=error.code, message=error.message, field=error.field)
