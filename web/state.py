"""The app's runtime: the services' runtime plus what only the web side has (the event bus and
the open websockets), kept in `app.state.runtime` and made current for every request.

`create_app(settings)` makes one `AppRuntime`; a request reaches it with `runtime_of(request)`,
a GraphQL resolver through `info.context.runtime`, a background job as its argument. The
`ActivateRuntime` middleware makes the runtime's database the one models use while a request
(or the lifespan, and so every background job it starts) runs, so that two apps can live in one
process without sharing anything.
"""

from __future__ import annotations

from functools import partial

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from services.coalesced import Coalesced
from services.runtime import Runtime
from settings import Settings
from subscriptions import channels
from subscriptions.bus import EventBus
from subscriptions.sockets import SocketRegistry


class AppRuntime(Runtime):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.bus = EventBus(
            settings.event_bus_url,
            prefix=settings.redis_prefix,
            reconnect_max_seconds=settings.redis_reconnect_max_seconds,
            ping_seconds=settings.redis_ping_seconds,
            subscribe_confirm_seconds=settings.redis_subscribe_confirm_seconds,
            publish_retry_seconds=settings.redis_publish_retry_seconds,
        )
        self.sockets = SocketRegistry()
        self.publisher = partial(channels.publish, self.bus)
        self.hooks.after_credential_revoked.append(partial(channels.publish_revocation, self.bus))
        if not settings.webhook_worker_in_app:  # `smsrooms webhook-worker` processes send them
            self.remote_webhook_wakeup = Coalesced(
                partial(channels.wake_webhook_workers, self.bus), "wake webhook workers"
            )

    async def open(self) -> None:
        await super().open()
        await self.bus.connect()

    async def close(self) -> None:
        if self.remote_webhook_wakeup is not None:
            await self.remote_webhook_wakeup.close()
        await self.bus.disconnect()
        await super().close()


def runtime_of(connection: HTTPConnection) -> AppRuntime:
    runtime: AppRuntime = connection.app.state.runtime
    return runtime


class ActivateRuntime:
    """Outermost middleware: the app's database is current while it handles anything."""

    def __init__(self, app: ASGIApp, *, runtime: AppRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with self.runtime.database.activate():
            await self.app(scope, receive, send)
