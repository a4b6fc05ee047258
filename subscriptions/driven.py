"""Subscriptions without a task each: one task per socket, not per operation (issue 11).

strawberry runs every graphql-transport-ws operation in a task of its own, which for a live
feed lives as long as the subscription: a socket waiting for a code held its receive task plus
one task per subscription, each blocked in an `await` under strawberry's and graphql-core's
per-operation machinery (an extension runner, an AsyncExitStack, a response-stream mapper).

Here a subscription whose document is prepared (schema/documents.py: parsed and validated once
per text) is driven instead. Pulled by this driver, its feed (subscriptions/follow.py) yields
its wake-up when it has caught up; the driver then leaves the generator suspended at that
`yield`, asks the wake-up to call it back, and its task ends. A notification starts a task
that pulls the feed until it has caught up again, executing each event on graphql-core's
per-event executor and sending `next`.
Idle, a subscription is a suspended generator and this object; the only task a socket keeps is
the one reading it, so `ping` and `complete` are still answered while a feed sends.

What a client sees is what strawberry's path sends (tests/test_live_feed_protocol.py): `next`
per event, a feed's error as a `next` with errors then `complete`, an error before streaming
as `error`. Anything not prepared, or whose variables do not coerce, takes strawberry's path,
which answers it with the errors it always did.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

import structlog
from graphql import (
    DocumentNode,
    GraphQLError,
    create_source_event_stream,
    execute_subscription_event,
)
from graphql import ExecutionResult as CoreResult
from graphql.execution import Executor
from graphql.execution.executor_throwing_on_incremental import ExecutorThrowingOnIncremental
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import Operation
from strawberry.types.execution import ExecutionResult
from strawberry.types.graphql import OperationType

from schema.limits import mask_bugs
from subscriptions.bus import Wakeup
from subscriptions.follow import DRIVEN

if TYPE_CHECKING:
    from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage

    from schema import Schema
    from subscriptions.protocols import TransportWSHandler

log = structlog.get_logger("subscriptions")


class DrivenOperation(Operation[Any, Any]):
    """One subscription of a socket. `task` is set only while the feed is being pulled."""

    __slots__ = ("closed", "document", "feed")

    def __init__(
        self, handler: TransportWSHandler, message: SubscribeMessage, document: DocumentNode
    ) -> None:
        payload = message["payload"]
        # The query's text is not kept: the prepared document stands for it. Nor is an executor
        # (2.3 KiB with its plan caches): one is built per pull, a fraction of one event's cost.
        super().__init__(
            handler, message["id"], "", payload.get("variables"), payload.get("operationName")
        )
        self.document = document
        self.feed: AsyncIterator[Any] | None = None
        self.closed = False

    @property
    def schema(self) -> Schema:
        return self.handler.schema  # type: ignore[return-value]

    def start(self) -> None:
        self._run(self._open())

    def _executor(self) -> Executor[Any]:
        executor = ExecutorThrowingOnIncremental.build(
            self.schema._schema,
            self.document,
            root_value=self.handler.root_value,
            context_value=self.handler.context,
            raw_variable_values=self.variables,
            operation_name=self.operation_name,
        )
        assert not isinstance(executor, list), "the variables coerced in prepare()"
        return executor

    def _run(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` in a task of its own that pulls feeds as their driver (`DRIVEN`)."""
        context = contextvars.copy_context()
        context.run(DRIVEN.set, True)
        self.task = asyncio.create_task(work, context=context)
        self.task.add_done_callback(_retrieve)

    async def _open(self) -> None:
        """Call the subscription's resolver (it returns the feed, not yet started), then pull."""
        try:
            feed = create_source_event_stream(self._executor())
            if isawaitable(feed):
                feed = await feed
        except Exception as error:  # noqa: BLE001 - answered as strawberry's path would
            feed = CoreResult(None, [_as_graphql_error(error)])
        if isinstance(feed, CoreResult):  # refused before streaming: an `error` message
            await self.send_initial_errors(self._processed(feed.errors or []))
            return
        self.feed = aiter(feed)
        await self._pull()

    def _wake(self) -> None:
        """The wake-up's callback: a notification arrived while the feed was idle."""
        if not self.closed and self.task is None:
            self._run(self._pull())

    async def _pull(self) -> None:
        """Pull the feed until it has caught up (or ends), sending each event."""
        assert self.feed is not None
        executor = None
        while True:
            try:
                event = await anext(self.feed)
            except StopAsyncIteration:
                await self.send_operation_message({"id": self.id, "type": "complete"})
                return
            except Exception as error:  # noqa: BLE001 - the feed failed: told, then complete
                result = ExecutionResult(None, self._processed([_as_graphql_error(error)]))
                await self.send_next(result)
                await self.send_operation_message({"id": self.id, "type": "complete"})
                return
            if isinstance(event, Wakeup):
                if event.consume():
                    continue  # notified while reading: read again
                self.task = None  # suspended at its `yield` until the next notification
                event.call_on_notify(self._wake)
                return
            executor = executor or self._executor()
            await self.send_next(await self._execute(executor, event))

    async def _execute(self, executor: Executor[Any], event: object) -> ExecutionResult:
        outcome = execute_subscription_event(executor.build_per_event_executor(event))
        result = await outcome if isawaitable(outcome) else outcome
        assert isinstance(result, CoreResult)
        errors = self._processed(result.errors) if result.errors else None
        return ExecutionResult(data=result.data, errors=errors)

    def _processed(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        """As strawberry's pipeline leaves them: bugs logged (schema.process_errors), then
        masked (MaskBugs)."""
        self.schema.process_errors(errors)
        return mask_bugs(errors)

    async def close(self) -> None:
        """`complete` from the client, or the socket closing: stop the feed (it unsubscribes
        from the bus as it ends). A pull in progress is cancelled; the cancellation ends the
        feed where it waits. An idle feed is closed here, at its `yield` (nothing to wait for)."""
        self.closed = True
        task, feed = self.task, self.feed
        if task is not None and not task.done():
            task.cancel()
        elif isinstance(feed, AsyncGenerator):
            with contextlib.suppress(Exception):
                await feed.aclose()


def prepare(handler: TransportWSHandler, message: SubscribeMessage) -> DrivenOperation | None:
    """The driven operation of a `subscribe` message, or None when strawberry's path must
    answer it (a document that is not prepared, not a subscription, or variables that do not
    coerce: its errors are strawberry's to word)."""
    payload = message["payload"]
    variables, name = payload.get("variables"), payload.get("operationName")
    if variables is not None and not isinstance(variables, dict):
        return None
    schema: Schema = handler.schema  # type: ignore[assignment]
    prepared = schema.documents.get(payload["query"])
    if prepared is None or prepared.operation_type(name) is not OperationType.SUBSCRIPTION:
        return None
    coerced = ExecutorThrowingOnIncremental.build(
        schema._schema,
        prepared.document,
        root_value=handler.root_value,
        context_value=handler.context,
        raw_variable_values=variables,
        operation_name=name,
    )
    if isinstance(coerced, list):
        return None
    return DrivenOperation(handler, message, prepared.document)


def _as_graphql_error(error: Exception) -> GraphQLError:
    if isinstance(error, GraphQLError):
        return error
    return GraphQLError(str(error), original_error=error)


def _retrieve(task: asyncio.Task[None]) -> None:
    """A pull's failure (the socket gone while sending) is the socket's to handle: its reader
    sees the disconnect and closes every operation. Retrieved, so asyncio does not warn."""
    if not task.cancelled() and task.exception() is not None:
        log.debug("live feed send failed", error=repr(task.exception()))
