"""Retry later, at the edge: an HTTP route whose request failed because the database
connection was lost or refused, or a lock was not granted in time (`Busy`, escaping a route
that does not answer it itself), answers 503 with Retry-After, which suppliers, payment
processors and clients retry, instead of a 500 and a traceback in the log. (GraphQL answers
BUSY instead: resolvers/errors.py, schema/limits.py.)"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import asyncpg
import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from tortoise.exceptions import BaseORMException

from services.db import unavailable
from services.errors import Busy

log = structlog.get_logger("web")
RETRY_AFTER_SECONDS = 1
# What a lost connection surfaces as (the driver's errors, or tortoise's wrapping them); each
# is looked at, and answered 503 only if it is one.
DRIVER_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    BaseORMException,
    ConnectionError,
)


async def retry_later(request: Request, error: Exception) -> Response:
    busy = error if isinstance(error, Busy) else unavailable(error)
    if busy is None:
        raise error  # a bug: the usual 500, with its traceback in the log
    log.warning("answered 503, retry later", path=request.url.path, error=type(error).__name__)
    return JSONResponse(
        {"error": busy.message}, status_code=503, headers={"retry-after": str(RETRY_AFTER_SECONDS)}
    )


def exception_handlers() -> Mapping[Any, Callable[..., Any]]:
    """Starlette's `exception_handlers` of the app."""
    return dict.fromkeys((*DRIVER_ERRORS, Busy), retry_later)
