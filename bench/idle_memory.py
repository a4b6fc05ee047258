"""Where the Python heap of an idle live-feed subscriber goes (tracemalloc). Not a test.

    .venv/bin/python bench/idle_memory.py --subscribers 500 [--frames 25] [--top 25] [--postgres]

SMS Rooms (`create_app`) runs under uvicorn in this script's own loop, as in tests/conftest.py,
on a SQLite file in a temporary folder and the `memory://` bus (--postgres: a throw-away
PostgreSQL database and Redis prefix). A spawned child process holds the sockets, out of this
heap: graphql-transport-ws, no compression, connection_init with a user's token, one
`subscription { activationEvents { cursor kind } }`, then idle. tracemalloc (--frames deep)
traces from before the first socket: 10 sockets connect and close (warm-up), gc, snapshot A; N
connect, every user channel has its subscriber on the bus, a settle (--settle), gc, snapshot
B. Printed per subscriber: traced bytes of B - A; its top sites (tracebacks grouped at their
deepest frame outside PLUMBING, with the frame that allocated most); its top lines (`lineno`); by
package; the VmRSS delta (tracemalloc's own traces included) and the asyncio tasks added.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import gc
import json
import linecache
import multiprocessing
import os
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from multiprocessing.connection import Connection
from typing import Any

from common import ROOT, app_settings, backend, fmt, quiet_logs, rss_kib, table

PROTOCOL = "graphql-transport-ws"
QUERY = "subscription { activationEvents { cursor kind } }"
WARM_UP = 10
WAIT_SECONDS = 300.0
STDLIB = os.path.dirname(os.__file__) + "/"
# Generic plumbing (path prefixes): a site is shown at its deepest frame outside it.
GENERIC = ["asyncio/", "contextlib", "typing", "functools", "abc", "weakref", "_weakrefset"]
GENERIC += ["copy", "enum", "dataclasses", "threading"]
PLUMBING = (*(f"stdlib/{m}" for m in GENERIC), "<", "typing_extensions", "anyio/")
UVICORN: dict[str, Any] = {"host": "127.0.0.1", "log_level": "warning", "lifespan": "on"}
# The websockets of `smsrooms serve` (cli.uvicorn_flags): no per-message deflate.
UVICORN |= {"ws": "websockets-sansio", "ws_per_message_deflate": False, "access_log": False}
UVICORN |= {"timeout_graceful_shutdown": 5}
Call = Callable[..., Awaitable[Any]]  # the child process's: call("connect", tokens) -> errors
CLIENT: dict[str, Any] = {"compression": None, "ping_interval": None, "open_timeout": 120}


def client_process(pipe: Connection, url: str) -> None:
    asyncio.run(_clients(pipe, url))


async def _clients(pipe: Connection, url: str) -> None:
    """Obeys ("connect", tokens) -> errors, ("close" | "exit", None) -> sockets closed. While
    idle nothing comes but the server's pings, which the websockets library answers itself."""
    sockets: list[Any] = []
    while True:
        command, tokens = await asyncio.to_thread(pipe.recv)
        if command == "connect":
            gate = asyncio.Semaphore(10)
            opening = (_open(url, t, gate) for t in tokens)
            done = await asyncio.gather(*opening, return_exceptions=True)
            sockets += [r for r in done if not isinstance(r, BaseException)]
            pipe.send([repr(r)[:200] for r in done if isinstance(r, BaseException)])
            continue
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        pipe.send(len(sockets))
        sockets = []
        if command == "exit":
            return


async def _open(url: str, token: str, gate: asyncio.Semaphore) -> Any:
    import websockets
    from websockets.typing import Subprotocol

    async with gate:
        ws = await websockets.connect(url, subprotocols=[Subprotocol(PROTOCOL)], **CLIENT)
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        await ws.send(json.dumps(init))
        message = json.loads(await asyncio.wait_for(ws.recv(), 120))
        if message["type"] != "connection_ack":
            raise RuntimeError(f"expected connection_ack, got {message}")
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": QUERY}}))
    return ws


@contextlib.asynccontextmanager
async def clients(url: str) -> AsyncIterator[Call]:
    """The child process, driven by the call it yields; its sockets closed at the end."""
    context = multiprocessing.get_context("spawn")
    pipe, child = context.Pipe()
    process = context.Process(target=client_process, args=(child, url), daemon=True)
    process.start()
    child.close()  # the child's end is the child's: its exit ends a recv() here (EOFError)

    async def call(command: str, tokens: list[str] | None = None) -> Any:
        pipe.send((command, tokens))
        return await asyncio.to_thread(pipe.recv)

    try:
        yield call
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(call("exit"), 60)
        process.join(10)
        if process.is_alive():
            process.terminate()
            process.join(5)


@contextlib.asynccontextmanager
async def serving(app: Any, max_size: int) -> AsyncIterator[str]:
    """`app` under uvicorn in this loop on a free port (as tests/serving.py): its /graphql URL."""
    import uvicorn

    from testkit.backends import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, ws_max_size=max_size, **UVICORN))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn did not start")
        await asyncio.sleep(0.05)
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await task  # the app's lifespan ends with it: jobs cancelled, runtime closed


async def connect(call: Call, rt: Any, users: list[Any], live: bool = True) -> None:
    """Connects (or closes all sockets), then waits until every user's channel has (has no)
    subscriber on the app's bus, as tests/live.py `wait_subscribed`."""
    from subscriptions.channels import user_channel

    errors = await call("connect" if live else "close", [u.token for u in users])
    if live and errors:
        raise RuntimeError(f"{len(errors)} sockets failed, e.g. {errors[0]}")
    deadline = time.monotonic() + WAIT_SECONDS
    while any((rt.bus.subscriber_count(user_channel(u.id)) > 0) != live for u in users):
        if time.monotonic() > deadline:
            raise RuntimeError("the subscriptions did not " + ("start" if live else "end"))
        await asyncio.sleep(0.05)


def measure() -> tuple[int, collections.Counter[str], tracemalloc.Snapshot]:
    gc.collect()
    coroutines = (getattr(t.get_coro(), "__qualname__", "") for t in asyncio.all_tasks())
    return rss_kib(os.getpid()), collections.Counter(coroutines), tracemalloc.take_snapshot()


def short(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1]
    if filename.startswith(str(ROOT) + "/"):
        return filename[len(str(ROOT)) + 1 :]
    return "stdlib/" + filename[len(STDLIB) :] if filename.startswith(STDLIB) else filename


def package(filename: str) -> str:
    parts = short(filename).removesuffix(".py").split("/", 2)
    return f"stdlib: {parts[1]}" if parts[0] == "stdlib" else parts[0]


def site_of(frames: list[tracemalloc.Frame]) -> tracemalloc.Frame:
    """The deepest frame outside plumbing; the allocating one if that is only this script (the
    loop's root: an event-loop callback such as accepting a connection)."""
    for frame in frames:
        if not short(frame.filename).startswith(PLUMBING):
            return frames[0] if frame.filename == __file__ else frame
    return frames[0]


def where(frame: tracemalloc.Frame) -> str:
    line = linecache.getline(frame.filename, frame.lineno).strip()
    return f"{short(frame.filename)}:{frame.lineno}" + (f"  {line[:40]}" if line else "")


def report(a: tracemalloc.Snapshot, b: tracemalloc.Snapshot, n: int, top: int) -> list[str]:
    def per(size: int, count: int) -> list[str]:
        return [fmt(size / kib, 2), fmt(count / n, 1)]

    kib, packages = 1024 * n, collections.Counter[tuple[str, str]]()
    sites: dict[tracemalloc.Frame, tuple[list[int], collections.Counter[tracemalloc.Frame]]] = {}
    for stat in b.compare_to(a, "traceback"):
        frames = list(reversed(stat.traceback))  # the allocating frame first
        site = site_of(frames)
        totals, allocated = sites.setdefault(site, ([0, 0], collections.Counter()))
        totals[0], totals[1] = totals[0] + stat.size_diff, totals[1] + stat.count_diff
        allocated[frames[0]] += stat.size_diff
        packages["in", package(frames[0].filename)] += stat.size_diff
        packages["by", package(site.filename)] += stat.size_diff
    rows = []
    for site, ((size, count), allocated) in sorted(sites.items(), key=lambda s: -s[1][0][0])[:top]:
        first = allocated.most_common(1)[0][0]
        via = "" if first == site else f"{short(first.filename)}:{first.lineno}"
        rows.append([where(site), via, *per(size, count)])
    lines = ["", f"top {top} sites (tracebacks grouped at their deepest frame outside plumbing)"]
    lines.append(
        table(["site", "allocated in (most)", "KiB/sub", "blocks/sub"], rows, text_columns=2)
    )
    lines += ["", f"top {top} lines (lineno: the allocating frame)"]
    by_line = sorted(b.compare_to(a, "lineno"), key=lambda s: -s.size_diff)[:top]
    rows = [[where(s.traceback[0]), *per(s.size_diff, s.count_diff)] for s in by_line]
    lines.append(table(["file:line", "KiB/sub", "blocks/sub"], rows))
    lines += ["", "by package, KiB/sub: allocated in its code / attributed to it (the sites above)"]
    largest = {p: max(packages["in", p], packages["by", p]) for _, p in packages}
    names = sorted(largest, key=lambda p: -largest[p])
    rows = [[p, fmt(packages["in", p] / kib, 2), fmt(packages["by", p] / kib, 2)] for p in names]
    return [*lines, table(["package", "allocated in", "attributed to"], rows[:top])]


async def run(args: argparse.Namespace) -> None:
    from app import create_app
    from settings import Settings
    from testkit import factory

    quiet_logs()
    async with contextlib.AsyncExitStack() as stack:  # unwinds: clients, uvicorn, database
        if args.postgres:
            values = app_settings(*await stack.enter_async_context(backend()))
        else:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="idle-memory-"))
            database = f"sqlite://{folder}/smsrooms.sqlite3"
            values = app_settings(database, "idle:", event_bus_url="memory://", redis_url=None)
        settings = Settings.from_env(env_file=None, **values)
        app = create_app(settings)
        rt, n = app.state.runtime, args.subscribers
        url = await stack.enter_async_context(serving(app, settings.graphql_max_body_bytes))
        with rt.database.activate():
            users = await factory.users(rt, WARM_UP + n, tag="idle")
        call = await stack.enter_async_context(clients(url))
        stack.callback(tracemalloc.stop)

        tracemalloc.start(args.frames)
        await connect(call, rt, users[:WARM_UP])
        await connect(call, rt, users[:WARM_UP], live=False)
        await asyncio.sleep(args.settle)
        rss_a, tasks_a, a = measure()
        started = time.monotonic()
        await connect(call, rt, users[WARM_UP:])
        connected = time.monotonic() - started
        await asyncio.sleep(args.settle)
        rss_b, tasks_b, b = measure()
        tracemalloc.stop()

        ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
        a, b = a.filter_traces(ignore), b.filter_traces(ignore)
        diff = b.compare_to(a, "filename")
        total, blocks = sum(s.size_diff for s in diff), sum(s.count_diff for s in diff)
        added = ", ".join(f"{k} {fmt(v / n, 2)}" for k, v in (tasks_b - tasks_a).most_common())
        tasks = tasks_b.total() - tasks_a.total()
        bus = "PostgreSQL + Redis" if args.postgres else "SQLite + memory://"
        print(f"SMS Rooms: {n} idle subscribers ({PROTOCOL}, no compression) on {bus}, uvicorn")
        print(f"in-process (asyncio, websockets-sansio), Python {sys.version.split()[0]}, ", end="")
        print(
            f"tracemalloc {args.frames} frames; live in {connected:.1f} s, settle {args.settle:g} s"
        )
        print(f"plumbing: {' '.join(PLUMBING)}\n")
        print(f"traced heap per subscriber:   {fmt(total / 1024 / n, 2)} KiB in ", end="")
        print(f"{fmt(blocks / n, 1)} blocks (B - A = {fmt(total / 2**20, 2)} MiB)")
        print(f"VmRSS per subscriber:         {fmt((rss_b - rss_a) / n, 2)} KiB ", end="")
        print("(tracemalloc's own traces included)")
        print(f"asyncio tasks per subscriber: {fmt(tasks / n, 2)} ({tasks_a.total()} -> ", end="")
        print(f"{tasks_b.total()}: {added or 'none'})")
        print("\n".join(report(a, b, n, args.top)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--subscribers", type=int, default=500, help="idle sockets measured")
    parser.add_argument("--frames", type=int, default=25, help="tracemalloc traceback depth")
    parser.add_argument("--top", type=int, default=25, help="rows per table")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds before a snapshot")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL + Redis instead")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
