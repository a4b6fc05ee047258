"""What both benchmarks share besides testkit/ (throw-away databases and Redis prefixes, server
processes, the factory that sets data up through the services): the settings of the app under
test, a lean HTTP/1.1 client, wrk, percentiles, the py-spy summary and the printed table.

Everything talks to 127.0.0.1 only. Every server, client and database made here is ended or
dropped by the script that made it, also when it fails half-way. PostgreSQL and Redis are the
machine's own, or those of TEST_POSTGRES_URL / TEST_REDIS_URL (testkit/backends.py).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import importlib.metadata
import logging
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the scripts run as `python bench/x.py`: make the app importable
    sys.path.insert(0, str(ROOT))

from testkit import backends  # noqa: E402 - needs the path above
from testkit.processes import UVICORN_FLAGS, ServerProcess, environment_of  # noqa: E402

if TYPE_CHECKING:
    from web.state import AppRuntime

PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
HOST = backends.HOST
REDIS_URL = backends.REDIS_URL
BENCH_DIR = str(Path(__file__).resolve().parent)
ADMIN_EMAIL = "bench-admin@smsrooms.test"
# Credentials of the throw-away database and servers of one run, never of a deployment.
ADMIN_PASSWORD = "bench-admin-password-1"  # noqa: S105
SUPPLIER_SECRET = "bench-demo-supplier-secret"  # noqa: S105
# Fernet key sealing the secrets of suppliers registered in a run's throw-away database.
SECRETS_KEY = "J0l9OAGcFHTRB-6ijETwMubD__rbSGpdw7NCpiXAibY="  # noqa: S105


# -- the machine ----------------------------------------------------------------------------
# Prepended to PYTHONPATH of every server process (ours and the baselines alike), e.g. a folder
# with uvloop and httptools (`pip install --target DIR uvloop httptools`) when .venv lacks
# uvicorn[standard]'s extras. Set by the scripts' --server-path option.
SERVER_PATH: str | None = None


def server_env(env: dict[str, str]) -> dict[str, str]:
    paths = [p for p in (SERVER_PATH, env.get("PYTHONPATH"), os.environ.get("PYTHONPATH")) if p]
    return {**os.environ, "PYTHONUNBUFFERED": "1", **env, "PYTHONPATH": os.pathsep.join(paths)}


def uvicorn_implementations() -> str:
    """What `--loop auto --http auto --ws auto` resolve to in the server processes."""
    probe = (
        "import importlib.util as u; f = lambda m: u.find_spec(m) is not None; "
        "print('loop=' + ('uvloop' if f('uvloop') else 'asyncio'), "
        "'http=' + ('httptools' if f('httptools') else 'h11'), "
        "'ws=' + ('websockets-sansio' if f('websockets') else 'wsproto'))"
    )
    return subprocess.run(
        [PYTHON, "-c", probe], env=server_env({}), capture_output=True, text=True, check=True
    ).stdout.strip()


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _cpu_times() -> tuple[int, int]:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def cpu_busy_percent(seconds: float = 1.0) -> float:
    """How busy all cores were over the next `seconds` (other people's work included)."""
    busy0, total0 = _cpu_times()
    time.sleep(seconds)
    busy1, total1 = _cpu_times()
    return 100.0 * (busy1 - busy0) / max(1, total1 - total0)


def wait_until_quiet(max_seconds: float, busy_below: float = 15.0) -> str:
    """Waits (at most `max_seconds`) for the machine to be nearly idle before measuring: other
    processes on these two cores lower every figure. Returns a line for the report's header."""
    deadline = time.monotonic() + max_seconds
    busy = cpu_busy_percent()
    while busy >= busy_below and time.monotonic() < deadline:
        busy = cpu_busy_percent()
    warning = "  << NOT quiet: figures are low" if busy >= busy_below else ""
    return f"CPU busy before the run (other processes): {busy:.0f}%{warning}"


def machine_lines() -> list[str]:
    versions = {
        name: importlib.metadata.version(name)
        for name in ("uvicorn", "starlette", "strawberry-graphql", "tortoise-orm")
    }
    return [
        f"machine: {os.cpu_count()} cores ({cpu_model()}), Python {platform.python_version()}; "
        "the load generators, PostgreSQL, Redis and the server share these cores",
        "server: "
        + " ".join(["python -m uvicorn <app>", "--port <free>", *UVICORN_FLAGS])
        + f"  ({uvicorn_implementations()})",
        "versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
    ]


# -- the app under test ----------------------------------------------------------------------
def app_settings(database_url: str, prefix: str, **extra: object) -> dict[str, object]:
    """The settings of SMS Rooms on PostgreSQL + Redis for a benchmark: of its server processes
    (as their environment, `app_env`) and of the driver's own runtime (`runtime`)."""
    return {
        "database_url": database_url,
        "event_bus_url": REDIS_URL,
        "redis_url": REDIS_URL,
        "redis_prefix": prefix,
        "admin_email": ADMIN_EMAIL,
        "admin_password": ADMIN_PASSWORD,
        "demo_supplier": True,
        "demo_supplier_secret": SUPPLIER_SECRET,
        "secrets_key": (SECRETS_KEY,),
        # The benchmark signs up from one address, and buys and cancels on purpose. (Its
        # sign-ins all succeed: only failures count against R13's limits.)
        "register_attempts_per_hour": 1_000_000,
        "abuse_cancel_threshold": 1_000_000_000,
        "access_log": False,  # as the figures were measured: uvicorn's --no-access-log
        **extra,
    }


def app_env(database_url: str, prefix: str, **extra: object) -> dict[str, str]:
    return environment_of(app_settings(database_url, prefix, **extra))


def app_server(database_url: str, prefix: str) -> ServerProcess:
    """SMS Rooms (`app:app`) on the benchmark's database and Redis prefix."""
    return server("app:app", app_env(database_url, prefix), ready_path="/readyz")


def server(app: str, env: dict[str, str], *, ready_path: str = "/healthz") -> ServerProcess:
    """A uvicorn process with the benchmarks' flags, Python and SERVER_PATH (the baselines
    answer /healthz: they have nothing else to be ready for)."""
    return ServerProcess(app, server_env(env), ready_path=ready_path, python=PYTHON)


def baseline_server(app: str, env: dict[str, str] | None = None) -> ServerProcess:
    """A baseline app of bench/ (uvicorn imports it from there)."""
    return server(app, {**(env or {}), "PYTHONPATH": BENCH_DIR})


@contextlib.asynccontextmanager
async def backend() -> AsyncIterator[tuple[str, str]]:
    """A throw-away PostgreSQL database and Redis prefix for one run: (database URL, prefix)."""
    await backends.check_redis()
    async with backends.postgres_database("bench") as url, backends.redis_prefix("bench") as prefix:
        yield url, prefix


def quiet_logs() -> None:
    """Only warnings and errors of the driver's own services reach the output (a factory user's
    verification mail is logged at info, thousands of times)."""
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


@contextlib.asynccontextmanager
async def runtime(database_url: str, prefix: str, pool_size: int = 5) -> AsyncIterator[AppRuntime]:
    """The app's runtime in this (driver) process, on the database a server has migrated, with
    the servers' settings: the factory (testkit/factory.py) writes through it, and what it
    publishes goes on the servers' Redis bus as theirs does. Active in this task."""
    from settings import Settings
    from web.state import AppRuntime

    settings = Settings.from_env(
        env_file=None, **app_settings(f"{database_url}?maxsize={pool_size}", prefix)
    )
    quiet_logs()
    rt = AppRuntime(settings)
    with rt.database.activate():  # tortoise builds its models inside the active context
        await rt.open()
        try:
            yield rt
        finally:
            await rt.close()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """How busy one process, and the whole machine, were between start() and stop()."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.started = time.monotonic()
        self.process0 = process_cpu_seconds(pid)
        self.machine0 = _cpu_times()

    def stop(self) -> str:
        elapsed = time.monotonic() - self.started
        process = 100 * (process_cpu_seconds(self.pid) - self.process0) / elapsed
        busy1, total1 = _cpu_times()
        machine = 100 * (busy1 - self.machine0[0]) / max(1, total1 - self.machine0[1])
        return f"server {process:.0f}% of a core, machine {machine:.0f}% of {os.cpu_count()}"


# -- a lean HTTP/1.1 keep-alive client --------------------------------------------------------
class HttpConnection:
    """One keep-alive connection, one request at a time. Much cheaper per request than httpx,
    so that the client's share of the two cores stays small."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self.reader = reader
        self.writer = writer
        self.host = host
        self.last_used = time.monotonic()

    @classmethod
    async def open(cls, host: str, port: int) -> HttpConnection:
        reader, writer = await asyncio.open_connection(host, port)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer, f"{host}:{port}")

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length, chunked = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            return status, await self._read_chunked()
        return status, await self.reader.readexactly(length)

    async def _read_chunked(self) -> bytes:
        parts = []
        while True:
            size = int((await self.reader.readline()).split(b";")[0], 16)
            if size == 0:
                await self.reader.readline()
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readline()

    def close(self) -> None:
        self.writer.close()


# -- wrk --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad_responses: int  # non-2xx plus socket errors


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


WRK_MISSING = """wrk (the HTTP load generator: https://github.com/wg/wrk) is not installed; the HTTP
figures need it. Install it, then run this again:
    Debian/Ubuntu:  sudo apt-get install -y wrk
    macOS:          brew install wrk
or pass --install-wrk to let this script run `apt-get install -y wrk` (as root)."""


def require_wrk(install: bool) -> None:
    """Ends the script with the instructions above when wrk is missing; with `install`, first
    installs it through apt-get (the Debian package), saying so."""
    if wrk_available():
        return
    if install and shutil.which("apt-get"):
        print("wrk is missing: apt-get install -y wrk", flush=True)
        done = subprocess.run(["apt-get", "install", "-y", "wrk"], check=False)
        if done.returncode == 0 and wrk_available():
            return
        print("apt-get could not install wrk (not root? run `apt-get update` first?)")
    raise SystemExit(WRK_MISSING)


def lua_post(body: str, headers: dict[str, str]) -> str:
    """A wrk script sending the same POST on every request."""
    lines = ['wrk.method = "POST"', f"wrk.body = {_lua_string(body)}"]
    lines += [f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items()]
    return "\n".join(lines) + "\n"


def _lua_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def run_wrk(
    url: str, script: str, *, connections: int, seconds: float, threads: int = 1
) -> WrkResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        done = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--latency",
                "-s",
                handle.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=seconds + 60,
        )
    finally:
        os.unlink(handle.name)
    if done.returncode != 0:
        output = done.stderr + done.stdout
        raise RuntimeError(f"wrk failed (exit {done.returncode}) on {url}:\n{output}")
    return parse_wrk(done.stdout)


def parse_wrk(output: str) -> WrkResult:
    def latency(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        if match is None:
            raise RuntimeError(f"no {label}% latency in wrk output:\n{output}")
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
        return float(match.group(1)) * scale

    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if rps is None or total is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    bad_count = int(bad.group(1)) if bad else 0
    if errors:
        bad_count += sum(int(g) for g in errors.groups())
    return WrkResult(
        float(rps.group(1)), latency("50"), latency("99"), int(total.group(1)), bad_count
    )


# -- numbers ----------------------------------------------------------------------------------
def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def fmt(value: float, digits: int = 1) -> str:
    if value != value:  # NaN
        return "-"
    return f"{value:,.{digits}f}"


def ratio(ours: float, baseline: float, digits: int = 2) -> str:
    if not baseline or ours != ours or baseline != baseline:
        return "-"
    return f"{ours / baseline:.{digits}f}x"


def table(columns: Sequence[str], rows: Iterable[Sequence[str]], *, text_columns: int = 1) -> str:
    """A plain-text table: the first `text_columns` columns left-aligned, the others right."""
    rows = [list(map(str, r)) for r in rows]
    widths = [
        max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.ljust(w) if i < text_columns else v.rjust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    return "\n".join([line(columns), line(["-" * w for w in widths]), *map(line, rows)])


# -- py-spy -----------------------------------------------------------------------------------
def py_spy() -> str | None:
    candidate = Path(PYTHON).parent / "py-spy"
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


def start_py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    """Samples the server at 100 Hz for `seconds` into a collapsed-stacks file."""
    binary = py_spy()
    if binary is None:
        return None
    return subprocess.Popen(
        [
            binary,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            "100",
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
            "--full-filenames",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def summarise_py_spy(path: Path, top: int = 12) -> list[str]:
    """Where the server's CPU went (py-spy leaves idle samples out): the functions on top of
    the stack (own time), the same grouped by package, and the project's own functions with
    everything they called (total time)."""
    if not path.exists() or not path.read_text().strip():
        return ["(py-spy wrote nothing: is ptrace allowed here?)"]
    own: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";")]
        samples += count
        own[frames[-1][0]] += count
        packages[frames[-1][1]] += count
        for name in {name for name, package in frames if package == "(SMS Rooms)"}:
            ours[name] += count
    if not samples:
        return ["(no samples)"]

    def share(items: list[tuple[str, int]]) -> list[str]:
        return [f"  {100 * c / samples:5.1f}%  {name}" for name, c in items]

    return [
        f"{samples} samples of a busy thread (100 Hz)",
        "own time (function on top of the stack):",
        *share(own.most_common(top)),
        "own time by package:",
        *share(packages.most_common(8)),
        "total time of SMS Rooms' own functions (with what they call):",
        *share([(n, c) for n, c in ours.most_common(top + 5) if not _is_plumbing(n)][:top]),
    ]


def _frame(frame: str) -> tuple[str, str]:
    """py-spy's "function (path/file.py:line)" as ("function (short path)", package)."""
    match = re.match(r"(.*) \((.*?)(?::\d+)?\)$", frame.strip())
    if not match:
        return frame.strip(), "?"
    function, path = match.groups()
    package = "python stdlib"
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
        package = path.split("/", 1)[0].removesuffix(".py")
    elif path.startswith("<"):  # <frozen abc>, <string>
        package = "python stdlib"
    elif path.startswith(str(ROOT) + "/") or not path.startswith("/"):
        path = path.removeprefix(str(ROOT) + "/")
        package = "(SMS Rooms)"
    elif "/python3" in path:
        path = path.split("/python3", 1)[1].split("/", 1)[-1]
        package = "python stdlib: " + path.split("/", 1)[0].removesuffix(".py")
    return f"{function} ({path})", package


def _is_plumbing(frame: str) -> bool:
    """Frames every request passes through: they would top the total-time list for nothing."""
    return any(word in frame for word in ("<module>", "__call__ (web/", "main (", "serve ("))
