"""Where one small GraphQL request's time goes, without HTTP, wrk or a busy machine's noise.

    .venv/bin/python bench/query_profile.py [--requests 3000] [--query '{me{balance{amount}}}']
                                            [--concurrency 1] [--apq] [--cprofile] [--top 25]

SMS Rooms' app (create_app, PostgreSQL + Redis as in bench/api_bench.py) is driven in this
process through ASGI calls, the whole middleware stack included, with one signed-in, funded
user's bearer token. Printed: the app's CPU time per request (process time, so the database
server's share is left out), the database round trips per request (every statement asyncpg
sends, counted), and with --cprofile the Python function calls per request (a count: the same
on a busy machine as on a quiet one) and the functions that took the time. --apq sends the query as
an automatic persisted query (its sha256 hash only, after one registration), as Apollo does.
Figure (a) of api_bench.py is this path plus uvicorn's HTTP handling.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import io
import json
import pstats
import time
from typing import Any
from urllib.parse import urlencode

from common import app_settings, backend, quiet_logs

SMALL_QUERY = "{me{balance{amount}}}"


class RoundTrips:
    """Counts the statements asyncpg sends (a query with arguments, or a plain one)."""

    def __init__(self) -> None:
        import asyncpg.connection

        self.count = 0
        cls = asyncpg.connection.Connection
        do_execute, execute = cls._do_execute, cls.execute

        async def counted_do_execute(conn: Any, *args: Any, **kw: Any) -> Any:
            self.count += 1
            return await do_execute(conn, *args, **kw)

        async def counted_execute(conn: Any, query: str, *args: Any, **kw: Any) -> Any:
            if not args:  # with arguments it goes through _do_execute, counted there
                self.count += 1
            return await execute(conn, query, *args, **kw)

        cls._do_execute = counted_do_execute  # type: ignore[method-assign]
        cls.execute = counted_execute  # type: ignore[method-assign]


async def call(app: Any, method: str, path: str, query: str, body: bytes, token: str) -> bytes:
    """One ASGI HTTP request through the whole app; the response body."""
    headers = [
        (b"host", b"bench"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"authorization", f"Bearer {token}".encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    sent = False
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # never: the app does not read past the body
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return b"".join(chunks)


async def run(args: argparse.Namespace) -> None:
    from app import create_app
    from settings import Settings
    from testkit import factory

    trips = RoundTrips()
    async with backend() as (database_url, prefix):
        # The identity cache kept warm and the background jobs (sweeper, outbox) quiet all run:
        # their statements and calls would count in a slow run and not in a fast one.
        fixed = app_settings(
            database_url,
            prefix,
            auth_cache_seconds=3600,
            sweeper_interval_seconds=3600,
            outbox_poll_seconds=3600,
            smshub_poll_min_seconds=3600,
            smshub_poll_max_seconds=3600,
        )
        settings = Settings.from_env(env_file=None, **fixed)
        app = create_app(settings, freeze_gc_after_start=True)  # as the served app
        rt = app.state.runtime
        quiet_logs()
        async with app.router.lifespan_context(app):
            with rt.database.activate():
                admin = await factory.admin(rt)
                user = (await factory.users(rt, 1, tag="profile"))[0]
                await factory.fund(rt, admin, user.id, "10.00")
            if args.apq:
                digest = hashlib.sha256(args.query.encode()).hexdigest()
                ext = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
                register = json.dumps({"query": args.query, "extensions": ext}).encode()
                print((await call(app, "POST", "/graphql", "", register, user.token)).decode())
                method, path, qs, body = (
                    "GET",
                    "/graphql",
                    urlencode({"extensions": json.dumps(ext, separators=(",", ":"))}),
                    b"",
                )
            else:
                method, path, qs = "POST", "/graphql", ""
                body = json.dumps({"query": args.query, "variables": {}}).encode()
            answer = await call(app, method, path, qs, body, user.token)
            print(f"answer: {answer.decode()}")
            for _ in range(300):  # warm-up: caches filled, code paths hot
                await call(app, method, path, qs, body, user.token)
            trips.count = 0
            profiler = cProfile.Profile() if args.cprofile else None
            cpu0, wall0 = time.process_time(), time.perf_counter()
            if profiler:
                profiler.enable()

            async def client(count: int) -> None:
                for _ in range(count):
                    await call(app, method, path, qs, body, user.token)

            each = args.requests // args.concurrency
            await asyncio.gather(*(client(each) for _ in range(args.concurrency)))
            if profiler:
                profiler.disable()
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            n = each * args.concurrency
            print(
                f"{n} requests: {1e6 * cpu / n:,.0f} us CPU and {1e6 * wall / n:,.0f} us wall per "
                f"request in this process; {trips.count / n:.2f} database round trips per request"
                + (" (cProfile on: times inflated)" if profiler else "")
            )
            if profiler:
                out = io.StringIO()
                stats = pstats.Stats(profiler, stream=out)
                calls = stats.total_calls  # type: ignore[attr-defined]
                print(f"{calls / n:,.0f} Python function calls per request (machine-independent)")
                stats.sort_stats("tottime").print_stats(args.top)
                stats.sort_stats("cumulative").print_stats(args.top)
                print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--query", default=SMALL_QUERY)
    parser.add_argument("--concurrency", type=int, default=1, help="requests at once")
    parser.add_argument("--apq", action="store_true", help="send the query's hash only (GET)")
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
