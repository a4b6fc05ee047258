"""Live code feed benchmark of SMS Rooms (issue 3, item 7). Prints a table; not a test.

    .venv/bin/python bench/live_bench.py [--sizes 1,100,1000] [--rate 200] [--seconds 3]
                                         [--profile]

One run starts, on 127.0.0.1 only: a fresh PostgreSQL database with a random name (dropped at
the end) and a random Redis key prefix; for every N a fresh SMS Rooms process
(`python -m uvicorn app:app`, flags in the header: one worker, PostgreSQL + Redis) and then a
fresh raw baseline (bench/baseline_ws.py: a Starlette websocket endpoint forwarding Redis channel
messages, no GraphQL, no database) with the same flags; and client processes (--clients, 2 by
default) holding the websockets. The machine has 2 cores: the server, PostgreSQL, Redis, this
driver (webhooks, Redis publishes) and the client processes share them.

Set-up (not measured), through the services (testkit/factory.py, the app's own write paths):
the largest N users, each with a session token (one password hash shared by all: argon2 is slow
on purpose), funded by an admin adjustment, and one activation (`tg`, bought in two set-up
worker processes, so one number each) that already received one SMS (the first SMS captures the
hold; every further SMS is then one SMS_RECEIVED event, one frame).
Every subscriber is its own user on its own activation: a user's channel wakes all of that
user's subscriptions, so one user with N activations would measure N database reads per code.

Subscribers speak graphql-transport-ws (no compression, like uvicorn's
--ws-per-message-deflate false) and subscribe to `activationEvents(activationId)`.
What each figure measures, for each N:
- connect, init->ack: from sending connection_init to receiving connection_ack (SMS Rooms
  authenticates the token here). Sockets connect --connect-concurrency at a time per client
  process; the figure includes waiting behind the other connects in flight.
- connect, subscribe->first event: from sending subscribe to the first frame. SMS Rooms replays
  the activation's stored SMS right after it has subscribed to the bus, so this first frame
  marks the first moment a new event could be delivered; the baseline sends a "ready" frame once
  Redis confirmed its subscription.
- RSS per idle subscriber: (VmRSS of the server with N subscribers connected and idle, 1 s
  after the last connect - VmRSS after a warm-up with 0 subscribers) / N, from
  /proc/<pid>/status. Meaningless for small N (shown for N >= 100).
- bus->client p50/p99: SMS Rooms: this driver ingests an SMS through services/sms.py (the
  webhook's own path: the SMS and its SMS_RECEIVED event committed), whose publisher is the
  app's (the wake-up `{"events": [id]}` on `<REDIS_PREFIX>user:<id>`); measured from the publish
  to the frame at the client (so it covers the wake-up, the subscriber's database read and the
  GraphQL result, not the ingest before it). Baseline: a publish of
  the frame itself (same size as SMS Rooms' frame) on that channel -> the frame at the client.
  Paced at min(--rate, 20*N) messages/s for --seconds, round-robin over the subscribers (at most
  20/s per subscriber, so that a row written for the next message is never read early).
- webhook->client p50/p99 (end to end): a signed supplier webhook (POST /suppliers/demo/sms)
  sent -> the frame at the client; same pacing. SMS Rooms only (the baseline has no webhook).
- max codes/s: SMS Rooms: webhooks sent as fast as the server answers them on
  --concurrency keep-alive connections for --seconds; the figure counts frames received at the
  clients per second, from the first webhook sent to the last frame received (webhooks
  accepted/s shown beside). Baseline: Redis publishes as fast as its clients receive them
  (at most --window messages in flight), frames received per second likewise.
Clocks: send and receive times are time.monotonic() (CLOCK_MONOTONIC, one clock for every
process of the machine); each frame is matched to its message by a `ref=` tag in the SMS text.
With --profile, a further SMS Rooms process with --profile-n subscribers is sampled by py-spy
during a max-codes/s run (not one of the measured runs), and the top frames are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import gc
import itertools
import json
import multiprocessing
import multiprocessing.connection
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import common
from common import (
    HOST,
    REDIS_URL,
    SUPPLIER_SECRET,
    CpuMeter,
    HttpConnection,
    ServerProcess,
    app_env,
    app_server,
    backend,
    baseline_server,
    fmt,
    machine_lines,
    percentile,
    ratio,
    rss_kib,
    runtime,
    start_py_spy,
    summarise_py_spy,
    table,
    wait_until_quiet,
)
from webhook_receiver import Receiver

if TYPE_CHECKING:
    from models import Supplier
    from services.events import Notice
    from services.runtime import Runtime
    from web.state import AppRuntime

PROTOCOL = "graphql-transport-ws"
SUBSCRIPTION = (
    "subscription($a:ID){activationEvents(activationId:$a){cursor kind "
    "activation{id status code} sms{id sender text code receivedAt}}}"
)
IDLE_SUBSCRIPTION = "subscription{activationEvents{cursor kind activation{id status code}}}"
TAG = "ref="
TAG_LENGTH = 12  # "r" + 11 digits: never a standalone 5-digit Telegram code
PER_SUBSCRIBER_RATE = 20.0


def tag_text(tag: str, code: str = "48213") -> str:
    return f"Telegram code: {code}. Do not give this code to anyone! {TAG}{tag}"


# =============================================================================================
# Client processes: each holds a share of the websockets and timestamps every tagged frame.
# =============================================================================================
@dataclass
class Socket:
    ws: Any
    reader: asyncio.Task[None] | None = None


def quiet_collector() -> None:
    """No garbage collection in a load generator while it times messages: a full collection of
    a process holding 500 sockets stopped it for tens of milliseconds, which the figures then
    charged to the server (ours and the baseline alike). What exists now is frozen (never walked
    during the phase); `collector_back()` once the phase is over. A phase keeps what it records
    (a tag and a time per frame) and little else."""
    gc.collect()
    gc.freeze()
    gc.disable()


def collector_back() -> None:
    gc.unfreeze()
    gc.enable()


class ClientWorker:
    """Runs in its own process; obeys commands sent over a pipe by the driver."""

    def __init__(self, pipe: multiprocessing.connection.Connection, counter: Any) -> None:
        self.pipe = pipe
        self.counter = counter  # shared with the driver: tagged frames received so far
        self.sockets: list[Socket] = []
        self.frames: list[tuple[str, float]] = []
        self.recording = False
        self.closed_early = 0

    async def serve(self) -> None:
        while True:
            command, args = await asyncio.to_thread(self.pipe.recv)
            if command == "exit":
                await self.close()
                self.pipe.send(None)
                return
            self.pipe.send(await getattr(self, command)(*args))

    async def connect(
        self, url: str, kind: str, items: list[dict[str, Any]], concurrency: int
    ) -> dict[str, Any]:
        gate = asyncio.Semaphore(concurrency)
        results = await asyncio.gather(
            *(self._connect_one(url, kind, i, gate) for i in items), return_exceptions=True
        )
        timings = [r for r in results if isinstance(r, tuple)]
        errors = [repr(r)[:200] for r in results if not isinstance(r, tuple)]
        return {
            "handshake": [t[0] for t in timings],
            "ack": [t[1] for t in timings],
            "first": [t[2] for t in timings],
            "errors": errors,
        }

    async def _connect_one(
        self, url: str, kind: str, item: dict[str, Any], gate: asyncio.Semaphore
    ) -> tuple[float, float, float]:
        import websockets

        async with gate:
            started = time.monotonic()
            ws = await websockets.connect(
                url,
                subprotocols=[PROTOCOL],
                compression=None,
                ping_interval=None,
                max_size=2**20,
                open_timeout=60,
            )
            opened = time.monotonic()
            token = item.get("token", "")
            await ws.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
                )
            )
            await self._expect(ws, "connection_ack")
            acked = time.monotonic()
            if kind == "ours":
                payload = {"query": SUBSCRIPTION, "variables": {"a": str(item["activation_id"])}}
            elif kind == "idle":  # every activation of a user who has none: no first frame
                payload = {"query": IDLE_SUBSCRIPTION}
            else:
                payload = {"channel": item["channel"]}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            if kind != "idle":
                await self._expect(ws, "next")
            first = time.monotonic()
        socket = Socket(ws)
        socket.reader = asyncio.create_task(self._read(socket))
        self.sockets.append(socket)
        return (opened - started) * 1000, (acked - opened) * 1000, (first - acked) * 1000

    @staticmethod
    async def _expect(ws: Any, kind: str) -> None:
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if message.get("type") == kind:
                return
            if message.get("type") == "ping":
                await ws.send('{"type":"pong"}')
            elif message.get("type") in ("error", "complete"):
                raise RuntimeError(f"expected {kind}, got {message}")

    async def _read(self, socket: Socket) -> None:
        import websockets

        try:
            async for message in socket.ws:
                received = time.monotonic()
                at = message.find(TAG)
                if at >= 0:
                    self.counter.value += 1
                    if self.recording:
                        start = at + len(TAG)
                        self.frames.append((message[start : start + TAG_LENGTH], received))
                elif '"ping"' in message:
                    await socket.ws.send('{"type":"pong"}')
        except websockets.ConnectionClosed:
            pass
        self.closed_early += 1

    async def record(self) -> None:
        self.frames = []
        self.recording = True
        quiet_collector()

    async def collect(self) -> dict[str, Any]:
        frames, self.frames, self.recording = self.frames, [], False
        collector_back()
        return {"frames": frames, "closed_early": self.closed_early}

    async def close(self) -> None:
        sockets, self.sockets = self.sockets, []
        for socket in sockets:
            if socket.reader:
                socket.reader.cancel()
        await asyncio.gather(*(s.ws.close() for s in sockets), return_exceptions=True)
        await asyncio.gather(*(s.reader for s in sockets if s.reader), return_exceptions=True)
        self.closed_early = 0


def client_main(pipe: multiprocessing.connection.Connection, counter: Any) -> None:
    asyncio.run(ClientWorker(pipe, counter).serve())


class Clients:
    """The driver's handle on the client processes."""

    def __init__(self, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes = []
        self.counters = []
        self.processes = []
        for _ in range(count):
            mine, theirs = context.Pipe()
            counter = context.Value("q", 0, lock=False)
            process = context.Process(target=client_main, args=(theirs, counter), daemon=True)
            process.start()
            self.pipes.append(mine)
            self.counters.append(counter)
            self.processes.append(process)

    def frames_so_far(self) -> int:
        return sum(c.value for c in self.counters)

    async def call(
        self, command: str, per_client_args: list[tuple[Any, ...]] | None = None
    ) -> list[Any]:
        for i, pipe in enumerate(self.pipes):
            pipe.send((command, per_client_args[i] if per_client_args else ()))
        return [await asyncio.to_thread(pipe.recv) for pipe in self.pipes]

    async def connect(
        self, url: str, kind: str, items: list[dict[str, Any]], concurrency: int
    ) -> dict[str, Any]:
        shares = [items[i :: len(self.pipes)] for i in range(len(self.pipes))]
        ws_url = url.replace("http://", "ws://") + "/graphql"
        results = await self.call("connect", [(ws_url, kind, s, concurrency) for s in shares])
        merged: dict[str, Any] = {"handshake": [], "ack": [], "first": [], "errors": []}
        for result in results:
            for key in merged:
                merged[key] += result[key]
        return merged

    async def collect(self) -> tuple[list[tuple[str, float]], int]:
        results = await self.call("collect")
        frames = [f for r in results for f in r["frames"]]
        return frames, sum(r["closed_early"] for r in results)

    async def stop(self) -> None:
        if all(p.is_alive() for p in self.processes):
            await self.call("exit")
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()


# =============================================================================================
# Set-up: users, tokens, activations that already received their first SMS.
# =============================================================================================
@dataclass(frozen=True)
class Subscriber:
    user_id: int
    token: str
    activation_id: int
    e164: str


async def create_subscribers(
    rt: Runtime, database_url: str, prefix: str, count: int, *, processes: int = 2
) -> list[Subscriber]:
    """Numbers and users here; the purchases and first SMS in `processes` worker processes
    (the ORM's Python overhead, not the database, bounds one process at ~35 set-ups/s)."""
    from suppliers import demo
    from testkit import factory

    for code in demo.POOLS:  # one number per activation (a number sells once per service)
        await factory.numbers(rt, code, count // len(demo.POOLS) + 5)
    users = [(u.id, u.token) for u in await factory.users(rt, count, tag="live")]
    shares = [users[i::processes] for i in range(processes)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        results = await asyncio.to_thread(
            pool.starmap, setup_worker, [(database_url, prefix, share) for share in shares]
        )
    return [Subscriber(*fields) for result in results for fields in result]


def setup_worker(
    database_url: str, prefix: str, users: list[tuple[int, str]]
) -> list[tuple[int, str, int, str]]:
    return asyncio.run(_setup_worker(database_url, prefix, users))


async def _setup_worker(
    database_url: str, prefix: str, users: list[tuple[int, str]], batch: int = 20
) -> list[tuple[int, str, int, str]]:
    from suppliers import demo
    from testkit import factory

    async with runtime(database_url, prefix, pool_size=10) as rt:
        supplier = await factory.demo_supplier()
        admin = await factory.admin(rt)
        countries = list(demo.POOLS)
        done: list[tuple[int, str, int, str]] = []
        for start in range(0, len(users), batch):
            done += await asyncio.gather(
                *(
                    buy_and_receive(rt, admin, supplier, user_id, token, countries[(start + i) % 5])
                    for i, (user_id, token) in enumerate(users[start : start + batch])
                )
            )
        return done


async def buy_and_receive(
    rt: Runtime, admin: Any, supplier: Any, user_id: int, token: str, country: str
) -> tuple[int, str, int, str]:
    from services.errors import NoNumbers
    from services.sms import Outcome
    from testkit import factory

    await factory.fund(rt, admin, user_id, "5.00", "live benchmark")
    for attempt in range(20):
        try:
            activation = await factory.buy(rt, token, country, "tg")
            break
        except NoNumbers:  # "right now": the free numbers were all being taken by other buys
            if attempt == 19:
                raise
            await asyncio.sleep(0.05)
    outcome = await factory.sms(
        rt,
        supplier,
        activation.number.e164,
        "Telegram code: 11111. The first one.",
        message_id=f"setup-{activation.id}",
    )
    assert outcome is Outcome.DELIVERED, outcome
    return user_id, token, activation.id, activation.number.e164


# =============================================================================================
# Sending: paced or as fast as possible; webhooks and Redis publishes.
# =============================================================================================
def channel_of(prefix: str, sub: Subscriber) -> str:
    """The Redis channel SMS Rooms' bus uses for this subscriber's user."""
    from subscriptions.channels import user_channel

    return prefix + user_channel(sub.user_id)


class Tags:
    """Send times by tag. Tags are unique across the run: they are also message ids."""

    _counter = itertools.count(1)

    def __init__(self) -> None:
        self.sent: dict[str, float] = {}
        self.ingested: dict[str, float] = {}  # when the supplier webhook answered (committed)

    def next(self) -> str:
        return f"r{next(self._counter):011d}"


class WebhookSender:
    def __init__(self, url: str, limit: int = 256) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port, self.limit = host, int(port), limit
        self.idle: list[HttpConnection] = []
        self.failures: dict[str, int] = {}

    async def warm(self, connections: int) -> None:
        self.idle += [await HttpConnection.open(self.host, self.port) for _ in range(connections)]

    async def send(self, sub: Subscriber, tags: Tags) -> bool:
        from suppliers.signature import sign

        tag = tags.next()
        body = json.dumps(
            {
                "id": f"bench-{tag}",
                "to": sub.e164,
                "from": "Telegram",
                "text": tag_text(tag, f"{secrets.randbelow(90000) + 10000}"),
            }
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Signature": sign(SUPPLIER_SECRET, body, int(time.time())),
        }
        try:
            status, answer = await self._post(tags, tag, body, headers)
        except (OSError, asyncio.IncompleteReadError) as exc:
            self._fail(type(exc).__name__)
            return False
        if status != 200 or b"delivered" not in answer:
            self._fail(f"{status} {answer[:60]!r}")
            return False
        tags.ingested[tag] = time.monotonic()
        return True

    async def _post(
        self, tags: Tags, tag: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        """On a pooled connection; once more on a new one if the server had closed it (uvicorn
        closes keep-alive connections idle for 5 s). The webhook is idempotent by message id."""
        conn = self._pooled()
        pooled = conn is not None
        for _ in range(2):
            conn = conn or await HttpConnection.open(self.host, self.port)
            tags.sent[tag] = time.monotonic()
            try:
                answer = await conn.request("POST", "/suppliers/demo/sms", body, headers)
            except (OSError, asyncio.IncompleteReadError):
                conn.close()
                if not pooled:
                    raise
                conn, pooled = None, False
                continue
            conn.last_used = time.monotonic()
            self.idle.append(conn)
            return answer
        raise AssertionError("unreachable")

    def _pooled(self) -> HttpConnection | None:
        """An idle connection the server has not closed for idleness yet (uvicorn: 5 s)."""
        while self.idle:
            conn = self.idle.pop()
            if time.monotonic() - conn.last_used < 4.0:
                return conn
            conn.close()
        return None

    def _fail(self, reason: str) -> None:
        self.failures[reason] = self.failures.get(reason, 0) + 1

    def close(self) -> None:
        for conn in self.idle:
            conn.close()
        self.idle = []


# The tag of the SMS this task is ingesting, for the publisher to note its send time.
_sending: contextvars.ContextVar[tuple[Tags, str] | None] = contextvars.ContextVar(
    "sending", default=None
)


class BusPublisher:
    """Publishes on the Redis channels subscribers listen to: SMS Rooms' wake-ups through the
    app's own publisher (`rt`, the driver's runtime), the baseline's frames directly."""

    def __init__(self, rt: AppRuntime, supplier: Supplier, prefix: str, template: str) -> None:
        import redis.asyncio as aioredis

        # Blocking: on a loaded machine paced publishes pile up; they wait for a connection
        # rather than fail with "Too many connections" (redis-py's pool is bounded).
        pool = aioredis.BlockingConnectionPool.from_url(REDIS_URL, max_connections=256, timeout=60)
        self.redis = aioredis.Redis(connection_pool=pool)
        self.rt = rt
        self.supplier = supplier
        self.prefix = prefix
        self.template = template  # a real frame of SMS Rooms with the tag replaced by {tag}
        publish = rt.publisher
        assert publish is not None

        async def timed(notices: Sequence[Notice]) -> None:
            """The app's publisher, noting when the wake-up of a tagged SMS goes out."""
            sending = _sending.get()
            if sending is not None:
                tags, tag = sending
                tags.sent[tag] = time.monotonic()
            await publish(notices)

        rt.publisher = timed

    def channel(self, sub: Subscriber) -> str:
        return channel_of(self.prefix, sub)

    async def wake_ours(self, sub: Subscriber, tags: Tags) -> None:
        """Ingests an SMS for the subscriber's activation (committed, then published)."""
        from services.sms import Outcome
        from testkit import factory

        tag = tags.next()
        token = _sending.set((tags, tag))
        try:
            outcome = await factory.sms(
                self.rt, self.supplier, sub.e164, tag_text(tag), message_id=f"bus-{tag}"
            )
        finally:
            _sending.reset(token)
        assert outcome is Outcome.DELIVERED, outcome

    def frame(self, tag: str) -> str:
        return self.template.replace("{tag}", tag)

    async def publish_frame(self, sub: Subscriber, tags: Tags) -> None:
        tag = tags.next()
        frame = self.frame(tag)
        tags.sent[tag] = time.monotonic()
        await self.redis.publish(self.channel(sub), frame)

    async def close(self) -> None:
        await self.redis.aclose()


async def paced(rate: float, seconds: float, send_one: Callable[[int], Awaitable[Any]]) -> None:
    """Starts send_one(i) at t0 + i/rate, without waiting for the previous ones to finish."""
    count = max(1, int(rate * seconds))
    started = time.monotonic()
    tasks = []
    for i in range(count):
        delay = started + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send_one(i)))
    await asyncio.gather(*tasks)


async def drain(clients: Clients, before: int, expected: int, limit_seconds: float = 10.0) -> None:
    deadline = time.monotonic() + limit_seconds
    # Polling: the count lives in the client processes' shared memory, no event can signal it.
    while clients.frames_so_far() - before < expected and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.05)


@dataclass
class Latency:
    latencies_ms: list[float] = field(default_factory=list)
    sent: int = 0
    missing: int = 0
    # (seconds since the first message was sent, latency in ms): when in the run the slow ones
    # were — a cold start, a stall in mid-run or a slow drift tell different stories.
    timeline: list[tuple[float, float]] = field(default_factory=list)

    @classmethod
    def join(cls, tags: Tags, frames: list[tuple[str, float]]) -> Latency:
        received = {}
        for tag, at in frames:
            received.setdefault(tag, at)
        result = cls(sent=len(tags.sent))
        first = min(tags.sent.values(), default=0.0)
        for tag, sent_at in tags.sent.items():
            if tag in received:
                latency_ms = (received[tag] - sent_at) * 1000
                result.latencies_ms.append(latency_ms)
                result.timeline.append((sent_at - first, latency_ms))
            else:
                result.missing += 1
        return result

    def p(self, pct: float) -> float:
        return percentile(self.latencies_ms, pct)

    def slowest(self, count: int = 8) -> str:
        """The `count` slowest messages as `+seconds into the run: ms`, in the order sent."""
        worst = sorted(self.timeline, key=lambda sample: sample[1])[-count:]
        return ", ".join(f"+{at:.2f}s: {ms:.0f}" for at, ms in sorted(worst))


async def measure_latency(
    clients: Clients, rate: float, seconds: float, send_one: Callable[[int, Tags], Awaitable[Any]]
) -> Latency:
    tags = Tags()
    await clients.call("record")
    before = clients.frames_so_far()
    quiet_collector()  # the driver's too: it stamps the send times
    try:
        await paced(rate, seconds, lambda i: send_one(i, tags))
        await drain(clients, before, len(tags.sent))
    finally:
        collector_back()
    frames, _ = await clients.collect()
    return Latency.join(tags, frames)


@dataclass
class Throughput:
    frames_per_second: float = float("nan")
    sent_per_second: float = float("nan")
    sent: int = 0
    received: int = 0


def throughput_of(
    started: float, sending_seconds: float, sent: int, tags: Tags, frames: list[tuple[str, float]]
) -> Throughput:
    frames = [f for f in frames if f[0] in tags.sent]  # not late frames of an earlier phase
    if not frames:
        return Throughput(sent=sent)
    last = max(at for _, at in frames)
    return Throughput(len(frames) / (last - started), sent / sending_seconds, sent, len(frames))


async def flat_out(
    sender: WebhookSender | SplitSender, subs: list[Subscriber], seconds: float, concurrency: int
) -> tuple[Tags, int, float, float]:
    """Supplier webhooks as fast as the server answers them on `concurrency` connections:
    (tags, accepted, start, seconds spent sending)."""
    tags, accepted = Tags(), 0
    started = time.monotonic()
    deadline = started + seconds

    async def loop(first: int) -> None:
        nonlocal accepted
        i = first
        while time.monotonic() < deadline:
            ok = await sender.send(subs[i % len(subs)], tags)
            accepted += ok  # not `+= await`: that reads the total before awaiting
            i += concurrency

    await asyncio.gather(*(loop(i) for i in range(concurrency)))
    return tags, accepted, started, time.monotonic() - started


async def webhook_throughput(
    clients: Clients,
    sender: WebhookSender | SplitSender,
    subs: list[Subscriber],
    seconds: float,
    concurrency: int,
) -> Throughput:
    await clients.call("record")
    before = clients.frames_so_far()
    tags, delivered, started, sending = await flat_out(sender, subs, seconds, concurrency)
    await drain(clients, before, delivered)
    frames, _ = await clients.collect()
    return throughput_of(started, sending, delivered, tags, frames)


async def bus_throughput(
    clients: Clients,
    publisher: BusPublisher,
    subs: list[Subscriber],
    seconds: float,
    window: int,
    batch: int = 50,
) -> Throughput:
    """Publishes frames as fast as the clients take them, at most `window` in flight."""
    tags = Tags()
    await clients.call("record")
    before = clients.frames_so_far()
    sent = 0
    started = time.monotonic()
    deadline = started + seconds
    while time.monotonic() < deadline:
        if sent - (clients.frames_so_far() - before) > window:
            await asyncio.sleep(0.0005)
            continue
        pipe = publisher.redis.pipeline(transaction=False)
        now = time.monotonic()
        for _ in range(batch):
            tag = tags.next()
            tags.sent[tag] = now
            pipe.publish(publisher.channel(subs[sent % len(subs)]), publisher.frame(tag))
            sent += 1
        await pipe.execute()
    sending = time.monotonic() - started
    await drain(clients, before, sent)
    frames, _ = await clients.collect()
    return throughput_of(started, sending, sent, tags, frames)


# =============================================================================================
# One N against one server.
# =============================================================================================
@dataclass
class Figures:
    connect: dict[str, Any] = field(default_factory=dict)
    rss_per_sub_kib: float = float("nan")
    rss0_mib: float = float("nan")
    bus: Latency | None = None
    webhook: Latency | None = None
    throughput: Throughput | None = None
    webhook_failures: dict[str, int] = field(default_factory=dict)
    closed_early: int = 0
    cpu: dict[str, str] = field(default_factory=dict)


async def metered(figures: Figures, name: str, server: ServerProcess, work: Awaitable[Any]) -> Any:
    """Runs `work`, noting how busy the server and the machine were meanwhile."""
    meter = CpuMeter(server.pid)
    result = await work
    figures.cpu[name] = meter.stop()
    return result


def items_for(kind: str, subs: list[Subscriber], prefix: str) -> list[dict[str, Any]]:
    if kind == "ours":
        return [{"token": s.token, "activation_id": s.activation_id} for s in subs]
    return [{"channel": channel_of(prefix, s)} for s in subs]


async def connect_and_weigh(
    server: ServerProcess,
    clients: Clients,
    kind: str,
    subs: list[Subscriber],
    args: argparse.Namespace,
    prefix: str,
    warm_up: Callable[[], Awaitable[None]],
) -> Figures:
    figures = Figures()
    await warm_up()
    await asyncio.sleep(0.5)
    rss0 = rss_kib(server.pid)
    figures.rss0_mib = rss0 / 1024
    figures.connect = await clients.connect(
        server.url, kind, items_for(kind, subs, prefix), args.connect_concurrency
    )
    await asyncio.sleep(1.0)
    connected = len(figures.connect["first"])
    if connected:
        figures.rss_per_sub_kib = (rss_kib(server.pid) - rss0) / connected
    return figures


async def measure_ours(
    database_url: str,
    prefix: str,
    clients: Clients,
    subs: list[Subscriber],
    publisher: BusPublisher,
    args: argparse.Namespace,
) -> Figures:
    server = await app_server(database_url, prefix).start()
    sender = WebhookSender(server.url)
    rate = min(args.rate, PER_SUBSCRIBER_RATE * len(subs))
    try:
        await sender.warm(min(args.concurrency, 64))

        async def warm_up() -> None:
            few = subs[: min(len(subs), 10)]
            await clients.connect(server.url, "ours", items_for("ours", few, prefix), 10)
            await measure_latency(clients, 100, 0.5, lambda i, t: sender.send(few[i % len(few)], t))
            await clients.call("close")

        figures = await connect_and_weigh(server, clients, "ours", subs, args, prefix, warm_up)
        figures.bus = await metered(
            figures,
            "bus",
            server,
            measure_latency(
                clients,
                rate,
                args.seconds,
                lambda i, t: publisher.wake_ours(subs[i % len(subs)], t),
            ),
        )
        figures.webhook = await metered(
            figures,
            "webhook",
            server,
            measure_latency(
                clients, rate, args.seconds, lambda i, t: sender.send(subs[i % len(subs)], t)
            ),
        )
        figures.throughput = await metered(
            figures,
            "max",
            server,
            webhook_throughput(clients, sender, subs, args.seconds, args.concurrency),
        )
        figures.webhook_failures = dict(sender.failures)
        figures.closed_early = (await clients.collect())[1]
        await clients.call("close")
        return figures
    finally:
        sender.close()
        await server.stop()


async def measure_baseline(
    prefix: str,
    clients: Clients,
    subs: list[Subscriber],
    publisher: BusPublisher,
    args: argparse.Namespace,
) -> Figures:
    server = await baseline_server("baseline_ws:app", {"REDIS_URL": REDIS_URL}).start()
    rate = min(args.rate, PER_SUBSCRIBER_RATE * len(subs))
    try:

        async def warm_up() -> None:
            few = subs[: min(len(subs), 10)]
            await clients.connect(server.url, "baseline", items_for("baseline", few, prefix), 10)
            await measure_latency(
                clients, 100, 0.5, lambda i, t: publisher.publish_frame(few[i % len(few)], t)
            )
            await clients.call("close")

        figures = await connect_and_weigh(server, clients, "baseline", subs, args, prefix, warm_up)
        figures.bus = await metered(
            figures,
            "bus",
            server,
            measure_latency(
                clients,
                rate,
                args.seconds,
                lambda i, t: publisher.publish_frame(subs[i % len(subs)], t),
            ),
        )
        figures.throughput = await metered(
            figures,
            "max",
            server,
            bus_throughput(clients, publisher, subs, args.seconds, args.window),
        )
        figures.closed_early = (await clients.collect())[1]
        await clients.call("close")
        return figures
    finally:
        await server.stop()


async def frame_template(database_url: str, prefix: str, clients: Clients, sub: Subscriber) -> str:
    """One real frame of SMS Rooms with its tag as `{tag}`: the baseline publishes frames of
    exactly this size."""
    server = await app_server(database_url, prefix).start()
    sender = WebhookSender(server.url)
    try:
        import websockets

        url = server.url.replace("http://", "ws://") + "/graphql"
        async with websockets.connect(url, subprotocols=[PROTOCOL], compression=None) as ws:
            await ws.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"authorization": f"Bearer {sub.token}"}}
                )
            )
            await ClientWorker._expect(ws, "connection_ack")
            await ws.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {
                            "query": SUBSCRIPTION,
                            "variables": {"a": str(sub.activation_id)},
                        },
                    }
                )
            )
            await ClientWorker._expect(ws, "next")  # the replay of the set-up SMS
            tags = Tags()
            assert await sender.send(sub, tags)
            while TAG not in (frame := await asyncio.wait_for(ws.recv(), 10)):
                pass
        tag = next(iter(tags.sent))
        return str(frame).replace(tag, "{tag}")
    finally:
        sender.close()
        await server.stop()


# =============================================================================================
# Scale (issue 11, item 6): many idle subscribers in one process; two processes, one Redis.
# =============================================================================================
@dataclass
class IdleFigures:
    count: int = 0
    connect_seconds: float = float("nan")
    connect: dict[str, Any] = field(default_factory=dict)
    rss_per_sub_kib: float = float("nan")
    rss_mib: float = float("nan")


async def measure_idle(
    database_url: str, prefix: str, clients: Clients, tokens: list[str], args: argparse.Namespace
) -> IdleFigures:
    """`len(tokens)` users, each with one idle `activationEvents` subscription (no activation:
    nothing to replay), connected to one fresh SMS Rooms process: RSS and connect time."""
    figures = IdleFigures(count=len(tokens))
    server = await app_server(database_url, prefix).start()
    try:
        items = [{"token": t} for t in tokens]
        await clients.connect(server.url, "idle", items[:10], 10)  # warm-up
        await clients.call("close")
        await asyncio.sleep(0.5)
        rss0 = rss_kib(server.pid)
        started = time.monotonic()
        figures.connect = await clients.connect(server.url, "idle", items, args.connect_concurrency)
        figures.connect_seconds = time.monotonic() - started
        await asyncio.sleep(1.0)
        rss = rss_kib(server.pid)
        figures.rss_mib = rss / 1024
        connected = len(figures.connect["first"])
        if connected:
            figures.rss_per_sub_kib = (rss - rss0) / connected
        figures.connect["closed_early"] = (await clients.collect())[1]
        await clients.call("close")
        return figures
    finally:
        await server.stop()


def print_idle_report(figures: IdleFigures, args: argparse.Namespace) -> None:
    connect = figures.connect
    print()
    print(
        f"Idle subscribers in one process: {figures.count} users, one subscription each, "
        f"{args.clients} client processes x {args.connect_concurrency} connects in flight"
    )
    rows = [
        ["connected / failed", "", f"{len(connect['first'])} / {len(connect['errors'])}"],
        [
            "connect all, s (sockets/s)",
            "",
            f"{fmt(figures.connect_seconds)} "
            f"({fmt(len(connect['first']) / figures.connect_seconds, 0)})",
        ],
        ["init->ack p50 / p99, ms", "p99 <= 50", ms_pair(connect["ack"])],
        ["RSS per idle subscriber, KiB", "<= 32", fmt(figures.rss_per_sub_kib)],
        ["server RSS with all connected, MiB", "", fmt(figures.rss_mib)],
    ]
    print(table(["figure", "target", "SMS Rooms"], rows, text_columns=3))
    if connect["errors"]:
        print(f"connect errors, e.g. {connect['errors'][0]}")
    if connect.get("closed_early"):
        print(f"{connect['closed_early']} sockets closed by the server")


class SplitSender:
    """Supplier webhooks to several servers in turn (they share the database and Redis)."""

    def __init__(self, senders: list[WebhookSender]) -> None:
        self.senders = senders
        self.turn = itertools.cycle(senders)

    async def send(self, sub: Subscriber, tags: Tags) -> bool:
        return await next(self.turn).send(sub, tags)

    @property
    def failures(self) -> dict[str, int]:
        merged: dict[str, int] = {}
        for sender in self.senders:
            for reason, count in sender.failures.items():
                merged[reason] = merged.get(reason, 0) + count
        return merged


async def measure_processes(
    database_url: str,
    prefix: str,
    clients: Clients,
    subs: list[Subscriber],
    publisher: BusPublisher,
    args: argparse.Namespace,
    processes: int = 2,
) -> Figures:
    """`processes` SMS Rooms processes behind one Redis: each subscriber on one of them, the
    webhooks to each in turn, so most codes cross processes through the bus."""
    servers = [await app_server(database_url, prefix).start() for _ in range(processes)]
    senders = [WebhookSender(server.url) for server in servers]
    split = SplitSender(senders)
    figures = Figures()
    rate = min(args.rate, PER_SUBSCRIBER_RATE * len(subs))
    try:
        for sender in senders:
            await sender.warm(min(args.concurrency, 64) // processes)
        for i, server in enumerate(servers):
            share = subs[i::processes]
            connected = await clients.connect(
                server.url, "ours", items_for("ours", share, prefix), args.connect_concurrency
            )
            for key, values in connected.items():
                figures.connect.setdefault(key, []).extend(values)
        figures.bus = await measure_latency(
            clients, rate, args.seconds, lambda i, t: publisher.wake_ours(subs[i % len(subs)], t)
        )
        figures.webhook = await measure_latency(
            clients, rate, args.seconds, lambda i, t: split.send(subs[i % len(subs)], t)
        )
        figures.throughput = await webhook_throughput(
            clients, split, subs, args.seconds, args.concurrency
        )
        figures.webhook_failures = split.failures
        figures.closed_early = (await clients.collect())[1]
        await clients.call("close")
        return figures
    finally:
        for sender in senders:
            sender.close()
        for server in servers:
            await server.stop()


def print_processes_report(
    n: int, figures: Figures, one: Figures | None, base: Figures | None, processes: int
) -> None:
    print()
    print(
        f"{processes} SMS Rooms processes behind one Redis, N={n} subscribers split between "
        "them; webhooks to each in turn (one process and the raw baseline of the same run beside)"
    )
    tp = figures.throughput or Throughput()
    one_tp = (one.throughput if one else None) or Throughput()
    base_tp = (base.throughput if base else None) or Throughput()
    rows = [
        [
            "bus->client p50 / p99, ms",
            latency_pair(figures.bus),
            latency_pair(one.bus if one else None),
            latency_pair(base.bus if base else None),
        ],
        [
            "webhook->client p50 / p99, ms",
            latency_pair(figures.webhook),
            latency_pair(one.webhook if one else None),
            "",
        ],
        [
            "max codes/s (frames at clients)",
            fmt(tp.frames_per_second, 0),
            fmt(one_tp.frames_per_second, 0),
            fmt(base_tp.frames_per_second, 0),
        ],
        [
            "  webhooks accepted/s",
            fmt(tp.sent_per_second, 0),
            fmt(one_tp.sent_per_second, 0),
            "",
        ],
    ]
    print(
        table(["figure", f"{processes} processes", "1 process", "baseline"], rows, text_columns=1)
    )
    for problem in problems_of(n, f"{processes} processes", figures):
        print(problem)


# =============================================================================================
# Users' SMS webhooks (issue 13): SMS ingested -> POST received at the user's webhook.
# =============================================================================================
SECRETS_KEY = "kYp6o3cVbI1p4aHq0eQz8m1hXn3s9Zr2Wc5Tt7Ly0Ug="  # seals the bench users' secrets
SET_WEBHOOK = "mutation($u:String){setSmsWebhook(url:$u){errors{code message}}}"


@dataclass
class WebhookFigures:
    users: int = 0
    rate: float = 0.0
    apart: bool = False  # sent by `smsrooms webhook-worker`, not the app's own worker
    latency: Latency | None = None  # from the supplier webhook sent (ingest included)
    after_commit: Latency | None = None  # from its answer: the SMS committed
    ingest_without: Throughput | None = None  # webhooks accepted/s, no user has a webhook
    ingest_with: Throughput | None = None  # the same, every user of the run has one
    posts_per_second: float = float("nan")  # at the receiver, during `ingest_with`
    failures: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, str] = field(default_factory=dict)  # how busy the server and the machine were


async def ingest_throughput(
    sender: WebhookSender, subs: list[Subscriber], seconds: float, concurrency: int
) -> tuple[Throughput, Tags]:
    """Supplier webhooks as fast as the server answers them (no websocket clients)."""
    tags, accepted, _, sending = await flat_out(sender, subs, seconds, concurrency)
    return Throughput(sent_per_second=accepted / sending, sent=accepted), tags


async def set_webhooks(server: ServerProcess, subs: list[Subscriber], url: str | None) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    conn = await HttpConnection.open(host, int(port))
    try:
        for sub in subs:
            body = json.dumps({"query": SET_WEBHOOK, "variables": {"u": url}}).encode()
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {sub.token}"}
            status, answer = await conn.request("POST", "/graphql", body, headers)
            if status != 200 or b'"errors":[]' not in answer:
                raise RuntimeError(f"setSmsWebhook failed: {status} {answer[:200]!r}")
    finally:
        conn.close()


async def arrivals_settled(receiver: Receiver, expected: int, limit_seconds: float = 10.0) -> None:
    deadline = time.monotonic() + limit_seconds
    while len(receiver.arrivals) < expected and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def webhook_worker_process(env: dict[str, str]) -> AsyncIterator[None]:
    """`smsrooms webhook-worker` (ADR 0018) beside the server, once it says it is up."""
    command = str(Path(common.PYTHON).with_name("smsrooms"))
    process = await asyncio.create_subprocess_exec(
        command,
        "webhook-worker",
        env=common.server_env(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    seen = b""
    async with asyncio.timeout(60):
        while b"webhook worker is up" not in seen:
            line = await process.stdout.readline()
            if not line:
                raise RuntimeError(f"the webhook worker ended: {seen.decode()[-2000:]}")
            seen += line
    drain = asyncio.create_task(process.stdout.read())  # its log must not fill the pipe
    try:
        yield
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)
        await drain


async def measure_user_webhooks(
    database_url: str,
    prefix: str,
    subs: list[Subscriber],
    args: argparse.Namespace,
    *,
    rate: float,
    apart: bool,
) -> WebhookFigures:
    """SMS paced at `rate` to users with webhooks; `apart`: the app's webhook worker off,
    `smsrooms webhook-worker` sending instead."""
    figures = WebhookFigures(users=len(subs), rate=rate, apart=apart)
    receiver = await Receiver(TAG, TAG_LENGTH).start()
    env = app_env(
        database_url,
        prefix,
        webhooks_allow_private=True,
        secrets_key=SECRETS_KEY,
        webhook_worker_in_app=not apart,
    )
    server = await common.server("app:app", env, ready_path="/readyz").start()
    sender = WebhookSender(server.url)
    try:
        async with webhook_worker_process(env) if apart else contextlib.nullcontext():
            await sender.warm(min(args.concurrency, 64))
            meter = CpuMeter(server.pid)
            figures.ingest_without, _ = await ingest_throughput(
                sender, subs, args.seconds, args.concurrency
            )
            figures.cpu["no user webhooks"] = meter.stop()
            await set_webhooks(server, subs, receiver.url)
            # Warm-up: the worker's connections to the receiver, the server's caches.
            await paced(100, 0.5, lambda i: sender.send(subs[i % len(subs)], Tags()))
            await arrivals_settled(receiver, 50)
            receiver.arrivals.clear()

            tags = Tags()
            await paced(rate, args.seconds, lambda i: sender.send(subs[i % len(subs)], tags))
            await arrivals_settled(receiver, len(tags.sent))
            figures.latency = Latency.join(tags, receiver.arrivals)
            committed = Tags()
            committed.sent = tags.ingested
            figures.after_commit = Latency.join(committed, receiver.arrivals)

            receiver.arrivals.clear()
            started = time.monotonic()
            meter = CpuMeter(server.pid)
            figures.ingest_with, tags = await ingest_throughput(
                sender, subs, args.seconds, args.concurrency
            )
            figures.cpu["with user webhooks"] = meter.stop()
            await arrivals_settled(receiver, figures.ingest_with.sent, limit_seconds=30.0)
            posted = [at for tag, at in receiver.arrivals if tag in tags.sent]
            if posted:
                figures.posts_per_second = len(posted) / (max(posted) - started)
            figures.ingest_with.received = len(posted)
            figures.failures = dict(sender.failures)
            # Off again: the next measurement's "no user webhooks" must have none.
            await set_webhooks(server, subs, None)
            return figures
    finally:
        sender.close()
        await server.stop()
        await receiver.stop()


def print_webhook_report(figures: WebhookFigures, seconds: float) -> None:
    latency = figures.latency or Latency()
    without = figures.ingest_without or Throughput()
    with_ = figures.ingest_with or Throughput()
    print()
    sender = "a `smsrooms webhook-worker` process" if figures.apart else "the app's own worker"
    print(
        f"Users' SMS webhooks (issue 13): {figures.users} users with a webhook on a receiver in "
        f"this driver, sent by {sender}; paced {figures.rate:g} SMS/s for {seconds:g} s"
    )
    rows = [
        ["SMS sent -> webhook received p50 / p99, ms", "p99 < 50", latency_pair(latency)],
        [
            "  SMS committed -> webhook received p50 / p99, ms",
            "",
            latency_pair(figures.after_commit),
        ],
        ["  SMS sent / POSTs missing after 10 s", "", f"{latency.sent} / {latency.missing}"],
        ["ingest max, webhooks accepted/s, no user webhooks", "", fmt(without.sent_per_second, 0)],
        [
            "ingest max, webhooks accepted/s, with user webhooks",
            "no effect",
            fmt(with_.sent_per_second, 0),
        ],
        [
            "  POSTs received/s meanwhile (received / sent)",
            "",
            f"{fmt(figures.posts_per_second, 0)} ({with_.received} / {with_.sent})",
        ],
    ]
    print(table(["figure", "target", "SMS Rooms"], rows, text_columns=3))
    for phase, cpu in figures.cpu.items():
        print(f"CPU, ingest max with {phase}: SMS Rooms {cpu}")
    if figures.failures:
        print(f"supplier webhook failures: {figures.failures}")


# =============================================================================================
# The report.
# =============================================================================================
def ms_pair(values: list[float]) -> str:
    return f"{fmt(percentile(values, 50), 2)} / {fmt(percentile(values, 99), 2)}"


def latency_pair(latency: Latency | None) -> str:
    if latency is None or not latency.latencies_ms:
        return "-"
    return f"{fmt(latency.p(50), 2)} / {fmt(latency.p(99), 2)}"


def rows_for(n: int, ours: Figures, base: Figures) -> list[list[str]]:
    target_1000 = n == 1000
    rss_ok = n >= 100
    o_tp, b_tp = ours.throughput or Throughput(), base.throughput or Throughput()
    o_bus, b_bus = ours.bus or Latency(), base.bus or Latency()
    return [
        [
            f"N={n}",
            "connect: init->ack p50 / p99, ms",
            "",
            ms_pair(ours.connect["ack"]),
            ms_pair(base.connect["ack"]),
            ratio(percentile(ours.connect["ack"], 99), percentile(base.connect["ack"], 99)),
        ],
        [
            "",
            "connect: subscribe->first event p50 / p99, ms",
            "",
            ms_pair(ours.connect["first"]),
            ms_pair(base.connect["first"]),
            ratio(percentile(ours.connect["first"], 99), percentile(base.connect["first"], 99)),
        ],
        [
            "",
            "RSS per idle subscriber, KiB",
            "< 40" if target_1000 else "",
            fmt(ours.rss_per_sub_kib) if rss_ok else "-",
            fmt(base.rss_per_sub_kib) if rss_ok else "-",
            ratio(ours.rss_per_sub_kib, base.rss_per_sub_kib) if rss_ok else "",
        ],
        [
            "",
            "bus->client p50 / p99, ms",
            "p99 <= 2x base" if target_1000 else "",
            latency_pair(ours.bus),
            latency_pair(base.bus),
            ratio(o_bus.p(99), b_bus.p(99)),
        ],
        [
            "",
            "webhook->client p50 / p99, ms",
            "p99 < 25" if target_1000 else "",
            latency_pair(ours.webhook),
            "",
            "",
        ],
        [
            "",
            "max codes/s (frames at clients)",
            ">= 5,000",
            fmt(o_tp.frames_per_second, 0),
            fmt(b_tp.frames_per_second, 0),
            ratio(o_tp.frames_per_second, b_tp.frames_per_second),
        ],
        [
            "",
            "  webhooks accepted/s / baseline publishes/s",
            "",
            fmt(o_tp.sent_per_second, 0),
            fmt(b_tp.sent_per_second, 0),
            "",
        ],
    ]


def problems_of(n: int, name: str, figures: Figures) -> list[str]:
    out = []
    if figures.connect.get("errors"):
        errors = figures.connect["errors"]
        out.append(f"N={n} {name}: {len(errors)} sockets failed to connect, e.g. {errors[0]}")
    for label, latency in (("bus", figures.bus), ("webhook", figures.webhook)):
        if latency is not None and latency.missing:
            out.append(
                f"N={n} {name}: {latency.missing} of {latency.sent} {label} messages "
                "never reached a client within 10 s"
            )
    tp = figures.throughput
    if tp is not None and tp.received < tp.sent:
        out.append(
            f"N={n} {name}: max-rate run: {tp.sent - tp.received} of {tp.sent} frames "
            "missing after 10 s"
        )
    if figures.webhook_failures:
        out.append(f"N={n} {name}: webhook failures {figures.webhook_failures}")
    if figures.closed_early:
        out.append(f"N={n} {name}: {figures.closed_early} sockets closed by the server")
    return out


def print_report(
    args: argparse.Namespace,
    quiet: str,
    results: list[tuple[int, Figures, Figures]],
    frame_bytes: int,
) -> None:
    print()
    print("SMS Rooms live feed benchmark (issue 3) - PostgreSQL + Redis, one uvicorn worker")
    for line in [*machine_lines(), quiet]:
        print(line)
    print(
        f"clients: {args.clients} processes, websockets (graphql-transport-ws, no compression),"
        f" {args.connect_concurrency} connects in flight per process; frame {frame_bytes} B"
    )
    print(
        f"paced: min({args.rate:g}, 20*N) msg/s for {args.seconds:g} s; max rate: "
        f"{args.concurrency} webhook connections (ours), <= {args.window} publishes in flight "
        f"(baseline), {args.seconds:g} s"
    )
    print(
        "baseline: bench/baseline_ws.py (raw Starlette websocket forwarding the Redis channel, "
        "same uvicorn flags); targets apply at N=1000 (codes/s at any N)"
    )
    print()
    rows = [row for n, ours, base in results for row in rows_for(n, ours, base)]
    print(
        table(
            ["N", "figure", "target", "SMS Rooms", "baseline", "ours/baseline"],
            rows,
            text_columns=3,
        )
    )
    notes = [
        p
        for n, ours, base in results
        for p in problems_of(n, "SMS Rooms", ours) + problems_of(n, "baseline", base)
    ]
    notes += [
        f"N={n}: server RSS after warm-up with 0 subscribers: SMS Rooms "
        f"{fmt(ours.rss0_mib)} MiB, baseline {fmt(base.rss0_mib)} MiB"
        for n, ours, base in results
    ]
    notes += [
        f"N={n} slowest {label} messages, {name} (+s into the run: ms): {latency.slowest()}"
        for n, ours, base in results
        for name, figures in (("SMS Rooms", ours), ("baseline", base))
        for label, latency in (("bus", figures.bus), ("webhook", figures.webhook))
        if latency is not None and latency.timeline
    ]
    notes += [
        f"N={n} CPU, {phase}: SMS Rooms {ours.cpu.get(phase, '-')}; "
        f"baseline {base.cpu.get(phase, '-')}"
        for n, ours, base in results
        for phase in ("bus", "webhook", "max")
    ]
    print()
    for note in notes:
        print(note)


async def profile(
    database_url: str,
    prefix: str,
    clients: Clients,
    subs: list[Subscriber],
    args: argparse.Namespace,
) -> None:
    server = await app_server(database_url, prefix).start()
    sender = WebhookSender(server.url)
    out = Path(tempfile.mkstemp(prefix="smsrooms-pyspy-", suffix=".txt")[1])
    try:
        await clients.connect(
            server.url, "ours", items_for("ours", subs, prefix), args.connect_concurrency
        )
        await sender.warm(min(args.concurrency, 64))
        spy = start_py_spy(server.pid, args.profile_seconds - 1, out)
        await webhook_throughput(clients, sender, subs, args.profile_seconds, args.concurrency)
        if spy is not None:
            await asyncio.to_thread(spy.wait, 30)
        await clients.call("close")
        print()
        print(
            f"py-spy, SMS Rooms server during max codes/s with N={len(subs)} subscribers "
            f"({args.concurrency} webhook connections):"
        )
        for line in summarise_py_spy(out, args.profile_top):
            print("  " + line)
    finally:
        sender.close()
        await server.stop()
        await asyncio.to_thread(out.unlink, True)


async def run(args: argparse.Namespace) -> None:
    sizes = sorted({int(s) for s in args.sizes.split(",")})
    quiet = await asyncio.to_thread(wait_until_quiet, args.wait_quiet)
    clients = Clients(args.clients)
    try:
        async with backend() as (database_url, prefix):
            await measure(args, quiet, sizes, clients, database_url, prefix)
    finally:
        await clients.stop()


async def measure(
    args: argparse.Namespace,
    quiet: str,
    sizes: list[int],
    clients: Clients,
    database_url: str,
    prefix: str,
) -> None:
    from testkit import factory

    setup = app_server(database_url, prefix)
    try:
        await setup.start()  # migrates the database and seeds the demo catalog
        async with runtime(database_url, prefix, pool_size=20) as rt:
            started = time.monotonic()
            count = max(*sizes, args.user_webhooks, 1)
            subs = await create_subscribers(rt, database_url, prefix, count)
            await setup.stop()
            print(
                f"set-up: {len(subs)} users with an activation each in "
                f"{time.monotonic() - started:.0f} s",
                flush=True,
            )
            template = await frame_template(database_url, prefix, clients, subs[0])
            publisher = BusPublisher(rt, await factory.demo_supplier(), prefix, template)
            results = []
            for n in sizes:
                ours = await measure_ours(database_url, prefix, clients, subs[:n], publisher, args)
                base = await measure_baseline(prefix, clients, subs[:n], publisher, args)
                results.append((n, ours, base))
                print(f"N={n} measured", flush=True)
            print_report(args, quiet, results, len(template.replace("{tag}", "r" + "0" * 11)))
            if args.processes > 1:
                n, one, base = results[-1]
                spread = await measure_processes(
                    database_url, prefix, clients, subs[:n], publisher, args, args.processes
                )
                print_processes_report(n, spread, one, base, args.processes)
            if args.idle:
                started = time.monotonic()
                idle_users = await factory.users(rt, args.idle, tag="idle")
                print(
                    f"set-up: {len(idle_users)} idle users in {time.monotonic() - started:.0f} s",
                    flush=True,
                )
                idle = await measure_idle(
                    database_url, prefix, clients, [u.token for u in idle_users], args
                )
                print_idle_report(idle, args)
            if args.user_webhooks:
                hooked = subs[: args.user_webhooks]
                for rate in sorted({float(r) for r in args.webhook_rate.split(",")}):
                    for apart in (False, True):
                        figures = await measure_user_webhooks(
                            database_url, prefix, hooked, args, rate=rate, apart=apart
                        )
                        print_webhook_report(figures, args.seconds)
            if args.profile:
                await profile(database_url, prefix, clients, subs[: args.profile_n], args)
            await publisher.close()
    finally:
        await setup.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="1,100,1000",
        help="subscriber counts, comma-separated (default 1,100,1000; add 5000)",
    )
    parser.add_argument("--rate", type=float, default=200.0, help="paced msg/s (200)")
    parser.add_argument("--seconds", type=float, default=3.0, help="per figure (3)")
    parser.add_argument(
        "--concurrency", type=int, default=64, help="webhook connections for max codes/s (64)"
    )
    parser.add_argument(
        "--window", type=int, default=2000, help="baseline max rate: publishes in flight (2000)"
    )
    parser.add_argument("--clients", type=int, default=2, help="client processes (2)")
    parser.add_argument(
        "--user-webhooks",
        type=int,
        default=100,
        help="users with an SMS webhook for the SMS -> webhook figure (100; 0: skip it)",
    )
    parser.add_argument(
        "--webhook-rate",
        default="1000",
        help="paced SMS/s to them, comma-separated (1000; each measured with the app's own "
        "webhook worker and with a `smsrooms webhook-worker` process)",
    )
    parser.add_argument(
        "--connect-concurrency",
        type=int,
        default=25,
        help="connects in flight per client process (25)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="then N=max(sizes) split over this many app processes behind one Redis (2; 1: skip)",
    )
    parser.add_argument(
        "--idle",
        type=int,
        default=0,
        metavar="N",
        help="then N idle subscribers (users without activations) in one process: RSS and "
        "connect time (0: skip; the issue's figure is 10000; mind `ulimit -n`)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="afterwards, sample the server with py-spy at max codes/s",
    )
    parser.add_argument("--profile-n", type=int, default=1000)
    parser.add_argument("--profile-seconds", type=float, default=8.0)
    parser.add_argument("--profile-top", type=int, default=12)
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="wait up to this long for the cores to be idle first (60)",
    )
    parser.add_argument(
        "--server-path",
        metavar="DIR",
        help="prepend DIR to the servers' PYTHONPATH (e.g. uvloop + httptools)",
    )
    args = parser.parse_args()
    common.SERVER_PATH = args.server_path
    assert HOST == "127.0.0.1"
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
