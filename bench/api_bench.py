"""GraphQL over HTTP benchmark of SMS Rooms (issue 2, item 10). Prints a table; not a test.

    .venv/bin/python bench/api_bench.py [--seconds 5] [--connections 32] [--buyers 32] [--profile]

One run starts, on 127.0.0.1 only:
- a fresh PostgreSQL database with a random name (dropped at the end) and a random Redis prefix;
- SMS Rooms: `python -m uvicorn app:app` with the flags printed in the header (one worker,
  PostgreSQL + Redis), after which this script stocks a catalog of 200 offers (40 countries x
  5 services, with numbers) through the demo supplier's own catalog steps (testkit/factory.py);
- the raw Starlette baseline (bench/baseline_app.py) with the same uvicorn flags, answering the
  same JSON captured from SMS Rooms in this run (same bytes), without GraphQL, auth or database.

What each figure measures (wrk, one thread, `--connections` keep-alive connections, `--seconds`
per figure after a 1 s warm-up, percentiles from wrk's latency histogram):
(a) `{me{balance{amount}}}` with a bearer token: requests/s and p99, SMS Rooms beside baseline.
(b) `prices` over the 200 offers (country, service, price, availability): requests/s and p99.
    The server's price snapshot is rebuilt every PRICE_CACHE_SECONDS (default 2 s), as deployed.
(c) buys/s with cancels: `--buyers` concurrent clients in two client processes, each signed in
    as its own funded user, each looping buyNumber then cancelActivation (spread over the 200
    offers) for `--seconds`; buys/s counts purchases that succeeded (each was then cancelled).
    Afterwards services/audit.py's ledger_violations() runs on the database: must print 0.
    Its baseline is the raw limit of the same statements: bench/buy_baseline.py, the same
    purchases and cancels as bare asyncpg statements (no HTTP, GraphQL or ORM), from as many
    clients, on a throw-away database of its own stocked the same way.
    R5's cool-down is off for the run (ABUSE_CANCEL_THRESHOLD), as are the sign-up/sign-in rate
    limits: the benchmark signs up its users from one address.
(d) the same buyers, the same way, through an SMSHub agent (issue 8): bench/smshub_agent_app.py
    in a process of its own, answering GET_NUMBER after `--agent-delay-ms` (5 ms), registered
    through the registry (kind SMSHUB_AGENT) at a cost below the pool's, so that routing buys
    every number from it; its stock reaches the server through the server's own GET_SERVICES
    poller. Each cancel sends FINISH_ACTIVATION 4 through the outbox, as deployed. Target: within
    1.5x of (c)'s buys/s.

The machine has 2 cores: wrk, the client processes, PostgreSQL, Redis and the one server
process share them, so the figures are lower bounds of what one worker does on its own core.
With --profile, figures (a) to (c) of SMS Rooms are run again after (c), before (d)'s agent
joins, and (d)'s buyers once more before its measured run, with py-spy sampling the server
(never during the measured runs); the top frames are printed after the table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import buy_baseline
import common
from common import (
    HOST,
    CpuMeter,
    HttpConnection,
    ServerProcess,
    WrkResult,
    app_server,
    backend,
    baseline_server,
    fmt,
    lua_post,
    machine_lines,
    percentile,
    process_cpu_seconds,
    ratio,
    require_wrk,
    run_wrk,
    runtime,
    start_py_spy,
    summarise_py_spy,
    table,
    wait_until_quiet,
)

SMALL_QUERY = "{me{balance{amount}}}"
PRICES_QUERY = (
    "{prices{country{code name dialCode} service{code name} price{amount currency} available}}"
)
BUY = (
    "mutation($c:String!,$s:String!){buyNumber(country:$c,service:$s){activation{id} errors{code}}}"
)
CANCEL = "mutation($id:ID!){cancelActivation(id:$id){activation{id status} errors{code}}}"
# Countries added to the demo catalog's to make 40 on sale: (ISO code, name, dial code, compat id).
EXTRA_COUNTRIES = [
    (code, name, dial, 1000 + i)
    for i, (code, name, dial) in enumerate(
        [
            ("AT", "Austria", "43"),
            ("BE", "Belgium", "32"),
            ("CH", "Switzerland", "41"),
            ("CZ", "Czechia", "420"),
            ("DK", "Denmark", "45"),
            ("FI", "Finland", "358"),
            ("GR", "Greece", "30"),
            ("HU", "Hungary", "36"),
            ("IE", "Ireland", "353"),
            ("JP", "Japan", "81"),
            ("KR", "South Korea", "82"),
            ("MX", "Mexico", "52"),
            ("NL", "Netherlands", "31"),
            ("NO", "Norway", "47"),
            ("PT", "Portugal", "351"),
            ("RO", "Romania", "40"),
            ("SE", "Sweden", "46"),
            ("SG", "Singapore", "65"),
            ("TH", "Thailand", "66"),
            ("ZA", "South Africa", "27"),
            ("AR", "Argentina", "54"),
            ("CL", "Chile", "56"),
            ("CO", "Colombia", "57"),
            ("EG", "Egypt", "20"),
        ]
    )
]
COUNTRIES_ON_SALE = 40
AGENT_KEY = "bench-smshub-agent-key"  # noqa: S105 - the protocol key of a throw-away agent
AGENT_SIMS_PER_OFFER = 100_000  # never sold out during a run


# -- a small GraphQL client on the lean HTTP connection -----------------------------------------
class Gql:
    def __init__(self, conn: HttpConnection) -> None:
        self.conn = conn

    @classmethod
    async def open(cls, url: str) -> Gql:
        host, port = url.removeprefix("http://").split(":")
        return cls(await HttpConnection.open(host, int(port)))

    async def raw(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        return await self.conn.request("POST", "/graphql", body, headers)

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        status, body = await self.raw(query, variables, token)
        answer = json.loads(body)
        if status != 200 or answer.get("errors"):
            raise RuntimeError(f"GraphQL failed ({status}): {body[:500]!r}")
        return answer["data"]  # type: ignore[no-any-return]

    def close(self) -> None:
        self.conn.close()


# -- set-up ---------------------------------------------------------------------------------------
async def set_up(
    database_url: str, prefix: str, args: argparse.Namespace
) -> tuple[list[tuple[str, str]], str, list[str], list[list[object]]]:
    """Through the services (testkit/factory.py): 200 offers (40 countries on sale x 5 services,
    each country with its own numbers, stocked by the demo supplier's catalog steps: no admin API
    for the catalog exists yet), one user with 10.00 for (a), and --buyers users with 100.00
    each for (c). Returns the offers, the users' session tokens, and the SMSHub agent's stock
    of every offer for (d) (in SMSHub's names: [country, service, count])."""
    from models import Country
    from suppliers.smshub import names
    from testkit import factory

    async with runtime(database_url, prefix) as rt:
        offers = await factory.stock(
            rt,
            COUNTRIES_ON_SALE,
            extra_countries=EXTRA_COUNTRIES,
            numbers_each=args.numbers_per_country,
        )
        admin = await factory.admin(rt)
        users = await factory.users(rt, 1 + args.buyers, tag="bench")
        for user in users:
            await factory.fund(rt, admin, user.id, "10.00" if user is users[0] else "100.00")
        countries = {c.code: c for c in await Country.filter(code__in={c for c, _ in offers})}
        agent_stock: list[list[object]] = [
            [names.name_of(countries[country]), service, AGENT_SIMS_PER_OFFER]
            for country, service in offers
        ]
    return offers, users[0].token, [u.token for u in users[1:]], agent_stock


async def register_agent(database_url: str, prefix: str, url: str) -> None:
    """The agent, as an admin registers it (services/suppliers.py), cheaper than the pool."""
    from decimal import Decimal

    from models import SupplierKind
    from services import suppliers
    from testkit import factory

    async with runtime(database_url, prefix) as rt:
        new = suppliers.NewSupplier(
            code="bench-agent",
            name="Benchmark SIM bank",
            kind=SupplierKind.SMSHUB_AGENT,
            url=url,
            api_key=AGENT_KEY,
            default_cost=Decimal("0.01"),
        )
        await suppliers.create(rt, await factory.admin(rt), new, ip=None)


async def wait_for_stock(api: Gql, at_least: int, limit_seconds: float = 60.0) -> None:
    """Until `prices` shows at least this many numbers in all (the server's poller has read
    the agent's GET_SERVICES: every SMSHUB_POLL_MIN_SECONDS it looks for new agents)."""
    deadline = time.monotonic() + limit_seconds
    while True:
        status, body = await api.raw(PRICES_QUERY)
        offers = json.loads(body).get("data", {}).get("prices", [])
        if status == 200 and sum(o["available"] for o in offers) >= at_least:
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the SMSHub agent's stock did not reach the price list")
        await asyncio.sleep(0.5)


async def agent_finished(
    agent: ServerProcess, count: int, limit_seconds: float = 30.0
) -> dict[str, int]:
    """FINISH_ACTIVATION calls the agent got, by status, once `count` have come (the outbox
    sends them after the buyers stop) or the limit passes."""
    host, port = agent.url.removeprefix("http://").split(":")
    conn = await HttpConnection.open(host, int(port))
    deadline = time.monotonic() + limit_seconds
    try:
        while True:
            _, body = await conn.request("GET", "/stats", b"", {})
            got: dict[str, int] = json.loads(body)
            if sum(got.values()) >= count or time.monotonic() > deadline:
                return got
            await asyncio.sleep(0.5)
    finally:
        conn.close()


async def wait_for_offers(api: Gql, count: int, limit_seconds: float = 15.0) -> bytes:
    """The price list once the server's snapshot shows every seeded offer (it is cached for
    PRICE_CACHE_SECONDS); returns the answer's bytes."""
    deadline = time.monotonic() + limit_seconds
    while True:
        status, body = await api.raw(PRICES_QUERY)
        offers = json.loads(body).get("data", {}).get("prices", [])
        if status == 200 and len(offers) >= count:
            return body
        if time.monotonic() > deadline:
            raise RuntimeError(f"the price list shows {len(offers)} offers, not {count}")
        await asyncio.sleep(0.5)


# -- (c) buys with cancels, in client processes ---------------------------------------------------
def buy_worker(
    url: str,
    tokens: list[str],
    offers: list[tuple[str, str]],
    first: int,
    start_at: float,
    seconds: float,
) -> dict[str, Any]:
    return asyncio.run(_buy_clients(url, tokens, offers, first, start_at, seconds))


async def _buy_clients(
    url: str,
    tokens: list[str],
    offers: list[tuple[str, str]],
    first: int,
    start_at: float,
    seconds: float,
) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "buys": 0,
        "cancels": 0,
        "errors": Counter(),
        "buy_ms": [],
        "cancel_ms": [],
    }
    clients = [await Gql.open(url) for _ in tokens]
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    deadline = start_at + seconds
    await asyncio.gather(
        *(
            _buy_loop(api, token, offers, first + i, deadline, stats)
            for i, (api, token) in enumerate(zip(clients, tokens, strict=True))
        )
    )
    for api in clients:
        api.close()
    return stats


async def _buy_loop(
    api: Gql,
    token: str,
    offers: list[tuple[str, str]],
    index: int,
    deadline: float,
    stats: dict[str, Any],
) -> None:
    step = 0
    while time.monotonic() < deadline:
        country, service = offers[(index * 7 + step) % len(offers)]
        step += 1
        started = time.monotonic()
        data = await api.data(BUY, {"c": country, "s": service}, token=token)
        payload = data["buyNumber"]
        if payload["errors"]:
            stats["errors"]["buy " + payload["errors"][0]["code"]] += 1
            continue
        stats["buys"] += 1
        stats["buy_ms"].append((time.monotonic() - started) * 1000)
        started = time.monotonic()
        data = await api.data(CANCEL, {"id": payload["activation"]["id"]}, token=token)
        if data["cancelActivation"]["errors"]:
            stats["errors"]["cancel " + data["cancelActivation"]["errors"][0]["code"]] += 1
            continue
        stats["cancels"] += 1
        stats["cancel_ms"].append((time.monotonic() - started) * 1000)


def run_buyers(
    url: str, tokens: list[str], offers: list[tuple[str, str]], seconds: float
) -> dict[str, Any]:
    """Two client processes (the machine has two cores), each with half of the users."""
    halves = [tokens[: len(tokens) // 2], tokens[len(tokens) // 2 :]]
    context = multiprocessing.get_context("spawn")
    started = context.Barrier(3)  # the two client processes, and this one
    with context.Pool(2, initializer=started.wait) as pool:
        # Both processes have started (imports take seconds on a busy machine): the clock
        # starts once they have had time to connect.
        started.wait()
        start_at = time.monotonic() + 1.5
        results = pool.starmap(
            buy_worker,
            [
                (url, half, offers, i * len(halves[0]), start_at, seconds)
                for i, half in enumerate(halves)
            ],
        )
    merged: dict[str, Any] = {
        "buys": 0,
        "cancels": 0,
        "errors": Counter(),
        "buy_ms": [],
        "cancel_ms": [],
    }
    for result in results:
        for key in ("buys", "cancels"):
            merged[key] += result[key]
        merged["errors"].update(result["errors"])
        merged["buy_ms"] += result["buy_ms"]
        merged["cancel_ms"] += result["cancel_ms"]
    merged["seconds"] = seconds
    return merged


# -- measuring ------------------------------------------------------------------------------------
def wrk_figure(
    server: ServerProcess,
    body: dict[str, Any],
    token: str | None,
    args: argparse.Namespace,
    seconds: float | None = None,
) -> tuple[WrkResult, str, float]:
    """wrk against the server after a 1 s warm-up; with the CPU use during the measured part,
    and the server's CPU time per request in microseconds: on a busy machine the figure that
    moves least (the ratio of two servers' CPU per request is what their req/s would be on
    cores of their own)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    script = lua_post(json.dumps(body), headers)
    url = server.url + "/graphql"
    run_wrk(url, script, connections=args.connections, seconds=1)
    meter = CpuMeter(server.pid)
    result = run_wrk(url, script, connections=args.connections, seconds=seconds or args.seconds)
    cpu_us = 1e6 * (process_cpu_seconds(server.pid) - meter.process0) / max(1, result.requests)
    return result, meter.stop(), cpu_us


async def audit_ledger(database_url: str, prefix: str) -> list[str]:
    from services.audit import ledger_violations

    async with runtime(database_url, prefix):
        return await ledger_violations()


def cpu_ms(buys: dict[str, Any]) -> float:
    """The server's CPU time per purchase during a buyers' run (the machine's other load left
    out: on a busy machine, the fairer comparison of two paths)."""
    return 1000 * buys["cpu_seconds"] / max(1, buys["buys"])


def http_rows(figures: dict[str, Any]) -> list[list[str]]:
    """The rows of (a) and (b), of those measured."""
    rows = []
    labels = {
        "a": ("(a) {me{balance{amount}}} req/s", ">= 5,000"),
        "b": (
            f"(b) prices, {figures['offers']} offers ({figures['prices_bytes']:,} B) req/s",
            ">= 2,500",
        ),
    }
    for key, (label, target) in labels.items():
        if key not in figures:
            continue
        ours, base = figures[key]
        rows.append(
            [
                label,
                target,
                fmt(ours.requests_per_second, 0),
                fmt(base.requests_per_second, 0),
                ratio(ours.requests_per_second, base.requests_per_second),
            ]
        )
        ours_us, base_us = figures[f"{key} cpu"]
        rows.append(
            [
                f"({key}) server CPU per request, us",
                "",
                fmt(ours_us, 0),
                fmt(base_us, 0),
                ratio(base_us, ours_us),  # as a throughput ratio: baseline time / ours
            ]
        )
        rows.append(
            [
                f"({key}) p99 latency, ms",
                "",
                fmt(ours.p99_ms, 2),
                fmt(base.p99_ms, 2),
                ratio(ours.p99_ms, base.p99_ms),
            ]
        )
    return rows


def print_http_report(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    """The report of a run of (a) and/or (b) only (--figures a,b)."""
    print()
    print("SMS Rooms API benchmark (issue 2) - PostgreSQL + Redis, one uvicorn worker")
    for line in [*machine_lines(), figures["quiet"]]:
        print(line)
    print(f"load: wrk -t1 -c{args.connections} -d{args.seconds}s --latency (after a 1 s warm-up)")
    print("baseline: bench/baseline_app.py (raw Starlette, same JSON, same uvicorn flags)")
    print()
    columns = ["figure", "target", "SMS Rooms", "baseline", "ours/baseline"]
    print(table(columns, http_rows(figures), text_columns=2))
    print()
    print("CPU during the measured runs: " + f"\n{'':30}".join(figures["cpu"]))


def print_report(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    buys = figures["c"]
    raw = figures["c_raw"]
    agent = figures.get("d")  # None without figure d (--figures)
    rows = [
        *http_rows(figures),
        [
            f"(c) buys/s with cancels, {args.buyers} clients",
            ">= 1,000",
            fmt(buys["buys"] / buys["seconds"], 0),
            fmt(raw["buys"] / raw["seconds"], 0),
            ratio(buys["buys"] / buys["seconds"], raw["buys"] / raw["seconds"]),
        ],
        [
            "(c) buy p99 latency, ms",
            "<= 50",
            fmt(percentile(buys["buy_ms"], 99)),
            fmt(percentile(raw["buy_ms"], 99)),
            ratio(percentile(buys["buy_ms"], 99), percentile(raw["buy_ms"], 99)),
        ],
        [
            "(c) buy p50 / cancel p50 / cancel p99, ms",
            "",
            " / ".join(
                fmt(percentile(buys[k], q))
                for k, q in (("buy_ms", 50), ("cancel_ms", 50), ("cancel_ms", 99))
            ),
            " / ".join(
                fmt(percentile(raw[k], q))
                for k, q in (("buy_ms", 50), ("cancel_ms", 50), ("cancel_ms", 99))
            ),
            "",
        ],
        ["(c, d) ledger violations after the run", "0", str(len(figures["violations"])), "", ""],
    ]
    if agent is not None:
        rows[-1:-1] = [
            [
                f"(d) buys/s with cancels through an SMSHub agent ({args.agent_delay_ms:g} ms)",
                ">= (c) / 1.5",
                fmt(agent["buys"] / agent["seconds"], 0),
                "",
                "(c)/(d) "
                + ratio(buys["buys"] / buys["seconds"], agent["buys"] / agent["seconds"]),
            ],
            [
                "(c) / (d) server CPU per buy and its cancel, ms",
                "",
                f"{fmt(cpu_ms(buys))} / {fmt(cpu_ms(agent))}",
                "",
                "(d)/(c) " + ratio(cpu_ms(agent), cpu_ms(buys)),
            ],
            [
                "(d) buy p50 / p99 latency, ms",
                "",
                f"{fmt(percentile(agent['buy_ms'], 50))} / {fmt(percentile(agent['buy_ms'], 99))}",
                "",
                "",
            ],
        ]
    print()
    print("SMS Rooms API benchmark (issue 2) - PostgreSQL + Redis, one uvicorn worker")
    for line in [*machine_lines(), figures["quiet"]]:
        print(line)
    print(
        f"load: wrk -t1 -c{args.connections} -d{args.seconds}s --latency (after a 1 s warm-up);"
        f" buys: {args.buyers} clients in 2 processes for {args.seconds} s"
    )
    print("baseline: bench/baseline_app.py (raw Starlette, same JSON, same uvicorn flags);")
    print("  for (c): bench/buy_baseline.py (the same statements, bare asyncpg, own database)")
    print()
    print(
        table(["figure", "target", "SMS Rooms", "baseline", "ours/baseline"], rows, text_columns=2)
    )
    http = [(key, *figures[key]) for key in ("a", "b") if key in figures]  # absent: --figures
    bad = sum(ours.bad_responses + base.bad_responses for _, ours, base in http)
    requests = "".join(
        f"({key}) {ours.requests:,} / {base.requests:,}, " for key, ours, base in http
    )
    print()
    print(
        f"requests: {requests}non-2xx or socket errors: {bad}; buys {buys['buys']:,}, "
        f"cancels {buys['cancels']:,}, refused: {dict(buys['errors']) or 'none'}"
    )
    print(
        "CPU during the measured runs: " + "\n                              ".join(figures["cpu"])
    )
    if agent is not None:
        print(
            f"(d) buys {agent['buys']:,}, cancels {agent['cancels']:,}, refused: "
            f"{dict(agent['errors']) or 'none'}; FINISH_ACTIVATION received by the agent, by"
            f" status: {figures['finished'] or 'none'}"
        )
    for problem in figures["violations"][:10]:
        print("  violation:", problem)


async def profile(
    ours: ServerProcess,
    args: argparse.Namespace,
    token: str,
    tokens: list[str],
    offers: list[tuple[str, str]],
) -> list[str]:
    """The profiles' lines. Run before (d) registers its agent: after it, routing would buy
    (c)'s numbers from the agent too."""
    lines: list[str] = []
    runs = [
        (
            "a",
            "(a) small query",
            lambda: wrk_figure(ours, {"query": SMALL_QUERY}, token, args, args.profile_seconds),
        ),
        (
            "b",
            "(b) prices",
            lambda: wrk_figure(ours, {"query": PRICES_QUERY}, None, args, args.profile_seconds),
        ),
        (
            "c",
            "(c) buys with cancels",
            lambda: run_buyers(ours.url, tokens, offers, args.profile_seconds),
        ),
    ]
    for key, name, run in runs:
        if key not in args.figures:
            continue
        out = Path(tempfile.mkstemp(prefix="smsrooms-pyspy-", suffix=".txt")[1])
        spy = None
        try:
            # Started 2 s in: after the warm-up (a, b) or the clients' start-up (c).
            spy_task = asyncio.get_running_loop().run_in_executor(None, run)
            await asyncio.sleep(2.0)
            spy = start_py_spy(ours.pid, args.profile_seconds - 2.5, out)
            await spy_task
            if spy is not None:
                spy.wait(timeout=30)
            lines += ["", f"py-spy, SMS Rooms server under {name}:"]
            lines += ["  " + line for line in summarise_py_spy(out, args.profile_top)]
        finally:
            await asyncio.to_thread(out.unlink, True)
    return lines


async def run(args: argparse.Namespace) -> None:
    require_wrk(args.install_wrk)
    quiet = wait_until_quiet(args.wait_quiet)
    async with backend() as (database_url, prefix):
        await measure(args, quiet, database_url, prefix)


async def measure(args: argparse.Namespace, quiet: str, database_url: str, prefix: str) -> None:
    answers = Path(tempfile.mkstemp(prefix="smsrooms-baseline-", suffix=".json")[1])
    stocked = Path(tempfile.mkstemp(prefix="smsrooms-agent-", suffix=".json")[1])
    ours = app_server(database_url, prefix)
    baseline = baseline_server("baseline_app:app", {"BASELINE_RESPONSES": str(answers)})
    agent = baseline_server(
        "smshub_agent_app:app",
        {
            "AGENT_KEY": AGENT_KEY,
            "AGENT_STOCK": str(stocked),
            "AGENT_DELAY_SECONDS": str(args.agent_delay_ms / 1000),
        },
    )
    try:
        await ours.start()  # migrates the database and seeds the demo catalog
        offers, token, tokens, agent_stock = await set_up(database_url, prefix, args)
        api = await Gql.open(ours.url)
        small = (await api.raw(SMALL_QUERY, token=token))[1]
        prices = await wait_for_offers(api, len(offers))
        api.close()
        captured = json.dumps({SMALL_QUERY: json.loads(small), PRICES_QUERY: json.loads(prices)})
        await asyncio.to_thread(answers.write_text, captured)
        await baseline.start()
        figures: dict[str, Any] = {
            "quiet": quiet,
            "cpu": [],
            "prices_bytes": len(prices),
            "offers": len(json.loads(prices)["data"]["prices"]),
        }
        for key, query, auth in (("a", SMALL_QUERY, token), ("b", PRICES_QUERY, None)):
            if key not in args.figures:
                continue
            body = {"query": query, "variables": {}}
            (ours_result, ours_cpu, ours_us), (base_result, base_cpu, base_us) = (
                wrk_figure(ours, body, auth, args),
                wrk_figure(baseline, body, auth, args),
            )
            figures[key] = (ours_result, base_result)
            figures[f"{key} cpu"] = (ours_us, base_us)
            figures["cpu"].append(f"({key}) SMS Rooms: {ours_cpu}; baseline: {base_cpu}")
        await baseline.stop()
        if not {"c", "d"} & args.figures:
            print_http_report(args, figures)
            for line in await profile(ours, args, token, tokens, offers) if args.profile else []:
                print(line)
            return
        meter = CpuMeter(ours.pid)
        figures["c"] = run_buyers(ours.url, tokens, offers, args.seconds)
        figures["cpu"].append(f"(c) SMS Rooms: {meter.stop()} (includes client start-up)")
        figures["c"]["cpu_seconds"] = process_cpu_seconds(ours.pid) - meter.process0
        figures["c_raw"] = await buy_baseline.measure(
            args.seconds, args.buyers, numbers_each=args.numbers_per_country
        )
        profiles = await profile(ours, args, token, tokens, offers) if args.profile else []
        if "d" in args.figures:
            figures["d"], figures["finished"] = await agent_path(
                args, ours, agent, stocked, agent_stock, database_url, prefix, tokens, offers
            )
        figures["violations"] = await audit_ledger(database_url, prefix)
        print_report(args, figures)
        for line in profiles + AGENT_PROFILE:
            print(line)
    finally:
        await agent.stop()
        await baseline.stop()
        await ours.stop()
        await asyncio.to_thread(answers.unlink, True)
        await asyncio.to_thread(stocked.unlink, True)


async def agent_path(
    args: argparse.Namespace,
    ours: ServerProcess,
    agent: ServerProcess,
    stocked: Path,
    agent_stock: list[list[object]],
    database_url: str,
    prefix: str,
    tokens: list[str],
    offers: list[tuple[str, str]],
) -> tuple[dict[str, Any], dict[str, int]]:
    """(d): the agent started and registered, its stock polled by the server, then the buyers
    again; returns their figures and the FINISH_ACTIVATION calls the agent got, by status."""
    await asyncio.to_thread(stocked.write_text, json.dumps(agent_stock))
    await agent.start()
    api = await Gql.open(ours.url)
    status, body = await api.raw(PRICES_QUERY)
    pool = sum(o["available"] for o in json.loads(body)["data"]["prices"])
    await register_agent(database_url, prefix, agent.url + "/smshub")
    await wait_for_stock(api, pool + len(agent_stock) * AGENT_SIMS_PER_OFFER)
    api.close()
    if args.profile:  # then buy again through the agent, sampled (the figures stay unsampled)
        await profile_agent_path(ours, args, tokens, offers)
    cpu_before = process_cpu_seconds(ours.pid)
    buys = run_buyers(ours.url, tokens, offers, args.seconds)
    buys["cpu_seconds"] = process_cpu_seconds(ours.pid) - cpu_before
    return buys, await agent_finished(agent, buys["cancels"])


AGENT_PROFILE: list[str] = []  # printed after the report


async def profile_agent_path(
    ours: ServerProcess, args: argparse.Namespace, tokens: list[str], offers: list[tuple[str, str]]
) -> None:
    out = Path(tempfile.mkstemp(prefix="smsrooms-pyspy-", suffix=".txt")[1])
    try:
        buying = asyncio.get_running_loop().run_in_executor(
            None, run_buyers, ours.url, tokens, offers, args.profile_seconds
        )
        await asyncio.sleep(2.0)  # after the clients' start-up
        spy = start_py_spy(ours.pid, args.profile_seconds - 2.5, out)
        await buying
        if spy is not None:
            spy.wait(timeout=30)
        AGENT_PROFILE.extend(["", "py-spy, SMS Rooms server under (d) buys through the agent:"])
        AGENT_PROFILE.extend("  " + line for line in summarise_py_spy(out, args.profile_top))
    finally:
        await asyncio.to_thread(out.unlink, True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per figure (default 5)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--buyers", type=int, default=32, help="concurrent buyers for (c) (32)")
    parser.add_argument(
        "--numbers-per-country",
        type=int,
        default=60,
        help="numbers seeded per country; each sells once per service (60)",
    )
    parser.add_argument(
        "--agent-delay-ms",
        type=float,
        default=5.0,
        help="the SMSHub agent's GET_NUMBER answer time for (d) (5)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="afterwards, run each SMS Rooms figure again under py-spy",
    )
    parser.add_argument(
        "--install-wrk",
        action="store_true",
        help="if wrk is missing, install it with apt-get (as root) instead of stopping",
    )
    parser.add_argument(
        "--figures",
        type=lambda text: set(text.split(",")),
        default={"a", "b", "c", "d"},
        help="which figures to measure, comma-separated (default a,b,c,d)",
    )
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
