"""The HTTP clients' own CPU (ADR 0018), against the httpx clients they replaced. Prints two
tables; not a test.
- per POST of a user's webhook (services/webhook_http.py: aiohttp with the address check and
  one session per host), to a bare receiver in another process on loopback;
- per client made and closed (suppliers/upstream/client.py makes one for every purchase,
  status poll and setStatus).

    .venv/bin/python bench/http_clients.py [--posts 5000] [--concurrency 20] [--clients 50]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aiohttp
import httpx
import uvloop
from common import fmt, table
from webhook_receiver import Receiver

from services import webhook_http
from settings import Settings

BODY = (
    b'{"activationId": 1, "service": "tg", "text": "Your code 12345", "code": "12345", '
    b'"country": 16, "receivedAt": "2026-12-01 00:00:00"}'
)
HEADERS = {"content-type": "application/json", "x-signature": "t=1,v1=ab", "idempotency-key": "k"}
SETTINGS = Settings(webhooks_allow_private=True)


def receive(ready: Any) -> None:
    async def main() -> None:
        receiver = await Receiver("#", 1).start()
        ready.put(receiver.url)
        await asyncio.Event().wait()

    uvloop.run(main())


async def ours(url: str, posts: int, concurrency: int) -> None:
    async with webhook_http.clients(SETTINGS) as clients:

        async def one() -> None:
            answer = await webhook_http.post(SETTINGS, clients, url, BODY, HEADERS)
            assert answer.ok, answer

        await _many(one, posts, concurrency)


async def with_httpx(url: str, posts: int, concurrency: int) -> None:
    """What services/webhook_http.py did before ADR 0018 (the address check left out)."""
    limits = httpx.Limits(max_connections=SETTINGS.webhook_max_in_flight)
    async with httpx.AsyncClient(trust_env=False, follow_redirects=False, limits=limits) as http:

        async def one() -> None:
            response = await http.send(
                http.build_request("POST", url, content=BODY, headers=HEADERS), stream=True
            )
            async for _ in response.aiter_bytes():
                break
            await response.aclose()
            assert response.status_code == 200

        await _many(one, posts, concurrency)


async def _many(one: Callable[[], Awaitable[None]], posts: int, concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def gated() -> None:
        async with gate:
            await one()

    await asyncio.gather(*(gated() for _ in range(posts)))


def measure(
    client: Callable[[str, int, int], Coroutine[Any, Any, None]], url: str, args: argparse.Namespace
) -> tuple[float, float]:
    """(CPU µs per POST in this process, POSTs/s), after a warm-up."""
    uvloop.run(client(url, max(args.posts // 10, 1), args.concurrency))
    cpu, wall = time.process_time(), time.perf_counter()
    uvloop.run(client(url, args.posts, args.concurrency))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return 1e6 * cpu / args.posts, args.posts / wall


async def made_and_closed(count: int) -> tuple[float, float]:
    """CPU µs per client made and closed: (httpx, aiohttp)."""
    started = time.process_time()
    for _ in range(count):
        await httpx.AsyncClient(timeout=5, follow_redirects=False).aclose()
    with_httpx = time.process_time() - started
    started = time.process_time()
    for _ in range(count):
        await aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)).close()
    with_aiohttp = time.process_time() - started
    return 1e6 * with_httpx / count, 1e6 * with_aiohttp / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--clients", type=int, default=50, help="clients made and closed (50)")
    args = parser.parse_args()
    ready: Any = multiprocessing.Queue()
    receiver = multiprocessing.Process(target=receive, args=(ready,), daemon=True)
    receiver.start()
    url = ready.get(timeout=30)
    try:
        rows = []
        for name, client in [("ours (aiohttp)", ours), ("httpx (before ADR 0018)", with_httpx)]:
            cpu, rate = measure(client, url, args)
            rows.append([name, fmt(cpu, 0), fmt(rate, 0)])
        print(f"{args.posts} POSTs, {args.concurrency} at once, to a bare receiver on loopback")
        print(table(["client", "CPU per POST, µs", "POSTs/s"], rows, text_columns=1))
        httpx_us, aiohttp_us = uvloop.run(made_and_closed(args.clients))
        print()
        print(f"{args.clients} clients made and closed (the upstream client's life)")
        made = [
            ["aiohttp.ClientSession (ours)", fmt(aiohttp_us, 0)],
            ["httpx.AsyncClient (before ADR 0018)", fmt(httpx_us, 0)],
        ]
        print(table(["client", "CPU per client, µs"], made, text_columns=1))
    finally:
        receiver.terminate()


if __name__ == "__main__":
    main()
