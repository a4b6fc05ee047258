"""CPU per POST of a user's webhook (services/webhook_http.py, ADR 0018): ours (aiohttp, with
the address check and one session per host) against the httpx client it replaced, both to a
bare receiver in another process on loopback. Prints a table; not a test.

    .venv/bin/python bench/webhook_client.py [--posts 5000] [--concurrency 20]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=20)
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
    finally:
        receiver.terminate()


if __name__ == "__main__":
    main()
