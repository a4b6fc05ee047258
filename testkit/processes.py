"""Child processes: SMS Rooms (or a baseline app) under uvicorn, and a private redis-server.

Both start on a free port of 127.0.0.1, are waited for until they answer, and are ended by
whoever started them, also when a test or benchmark fails half-way (`async with`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from testkit.backends import HOST, Unavailable, free_port, reachable

ROOT = Path(__file__).resolve().parents[1]
# The flags of a deployment (README, "Benchmarks"): one worker, no access log, no per-message
# deflate on websockets.
UVICORN_FLAGS = (
    "--host",
    HOST,
    "--workers",
    "1",
    "--no-access-log",
    "--log-level",
    "warning",
    "--ws-per-message-deflate",
    "false",
)


def environment_of(settings: Mapping[str, object]) -> dict[str, str]:
    """Settings fields as the environment variables of an app process (`settings.py` reads
    each field from its name in upper case); None leaves a variable unset."""
    env = {}
    for name, value in settings.items():
        if value is None:
            continue
        if isinstance(value, bool):
            text = "on" if value else "off"
        elif isinstance(value, tuple):
            text = ",".join(map(str, value))
        else:
            text = str(value)
        env[name.upper()] = text
    return env


class ServerProcess:
    """`python -m uvicorn <app> <flags>` on a free port, its output kept in a temporary file.

    `ready_path` is polled until it answers 200 (`/readyz` for SMS Rooms: its database and bus
    answer). The child gets this process's environment plus `env`.
    """

    def __init__(
        self,
        app: str = "app:app",
        env: Mapping[str, str] | None = None,
        *,
        ready_path: str = "/readyz",
        flags: Sequence[str] = UVICORN_FLAGS,
        python: str = sys.executable,
    ) -> None:
        self.app = app
        self.env = dict(env or {})
        self.ready_path = ready_path
        self.flags = tuple(flags)
        self.python = python
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self.output = ""  # the whole log, once stopped

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def command(self) -> list[str]:
        return [self.python, "-m", "uvicorn", self.app, "--port", str(self.port), *self.flags]

    async def start(self, limit_seconds: float = 120.0) -> ServerProcess:
        self._spawn()
        try:
            await self._wait_ready(limit_seconds)
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aenter__(self) -> ServerProcess:
        return await self.start()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _spawn(self) -> None:
        self.port = free_port()
        handle, name = tempfile.mkstemp(prefix="smsrooms-server-", suffix=".log")
        self.log_path = Path(name)
        self.process = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        os.close(handle)

    async def _wait_ready(self, limit_seconds: float) -> None:
        deadline = time.monotonic() + limit_seconds
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.app} exited at start-up:\n{self.log_tail()}")
            if await http_status(HOST, self.port, self.ready_path) == 200:
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.app} was not ready in {limit_seconds} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    async def stop(self, limit_seconds: float = 10.0) -> None:
        """SIGTERM (uvicorn shuts down gracefully), SIGKILL after `limit_seconds`."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.process.wait, limit_seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait)
        self.process = None
        if self.log_path is not None:
            self.output = self.log_path.read_text(errors="replace")
            self.log_path.unlink(missing_ok=True)
            self.log_path = None


class ServeProcess(ServerProcess):
    """`smsrooms serve` (what scripts/serve and the README run) instead of uvicorn itself: the
    flags are the command's own, from the settings in `env` (cli.uvicorn_flags); `flags` are
    added after them."""

    def __init__(self, env: Mapping[str, str] | None = None, *, flags: Sequence[str] = ()) -> None:
        super().__init__(env=env, flags=flags)

    def command(self) -> list[str]:
        return [self.python, "-m", "cli", "serve", "--port", str(self.port), *self.flags]


async def http_status(host: str, port: int, path: str, limit_seconds: float = 5.0) -> int | None:
    """The status of one plain `GET path` (None if nothing answers): readiness polls need no
    HTTP client library."""
    try:
        async with asyncio.timeout(limit_seconds):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(
                    f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
                )
                status_line = await reader.readline()
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
    except (OSError, TimeoutError):
        return None
    parts = status_line.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


class RedisServer:
    """A redis-server of our own on a free port, to stop and start again (outage tests). It
    keeps nothing on disk."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://{HOST}:{self.port}/0"
        self.process: asyncio.subprocess.Process | None = None
        self.workdir = tempfile.mkdtemp(prefix="smsrooms-redis-")

    async def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise Unavailable("redis-server is not installed")
        self.process = await asyncio.create_subprocess_exec(
            binary,
            *("--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no"),
            *("--dir", self.workdir),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(100):
            if reachable(self.url):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    async def stop(self) -> None:
        """Kills it (an outage); `start()` brings it back on the same port."""
        if self.process and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def close(self) -> None:
        await self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    async def __aenter__(self) -> RedisServer:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
