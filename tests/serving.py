"""A small ASGI app (a stand-in, a simulated supplier) served by uvicorn in the test's loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.types import ASGIApp

from testkit.backends import HOST, free_port


@asynccontextmanager
async def served(app: ASGIApp, name: str) -> AsyncIterator[str]:
    """`app` on a free port of 127.0.0.1 until the block ends; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning"))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    for _ in range(300):  # uvicorn has no start event to await
        if server.started or task.done():
            break
        await asyncio.sleep(0.02)
    assert server.started, f"{name} did not start"
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        await task
