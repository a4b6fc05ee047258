"""Serving an ASGI app from the test's own event loop: our app, and the partners' stand-ins."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

import testkit.backends

SHUTDOWN_SECONDS = 5
SLOW_STOP_SECONDS = 1


@asynccontextmanager
async def served(
    app: Any, *, cut_open_requests: bool = False, **config: Any
) -> AsyncIterator[tuple[str, uvicorn.Server]]:
    """`app` served by uvicorn on a free local port until the block ends: (base URL, server).
    `cut_open_requests` ends the server without waiting for requests still open (a stand-in
    that never answers); the app's lifespan is then shut down after the server."""
    port = testkit.backends.free_port()
    settings = {
        "host": "127.0.0.1",
        "port": port,
        "log_level": "warning",
        # A client that keeps a connection open (a browser that did not stop, a socket left
        # behind) cannot hold the end of a test up: uvicorn alone would wait for it without end.
        "timeout_graceful_shutdown": SHUTDOWN_SECONDS,
    } | config
    server = uvicorn.Server(uvicorn.Config(app, **settings))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    for _ in range(300):  # uvicorn has no start event to await
        if server.started or task.done():
            break
        await asyncio.sleep(0.05)
    if not server.started:
        task.result()  # raises what stopped it
        raise RuntimeError("the server did not start")
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        server.force_exit = cut_open_requests
        stopping = time.monotonic()
        open_connections = len(server.server_state.connections)
        await task
        if time.monotonic() - stopping > SLOW_STOP_SECONDS:  # shown with a failing test's output
            sys.stderr.write(
                f"the server on port {port} took {time.monotonic() - stopping:.1f} s to stop "
                f"({open_connections} connections open when asked)\n"
            )
        if cut_open_requests:  # uvicorn skipped the lifespan's shutdown: end its task here
            await server.lifespan.shutdown()
