"""Other processes: app servers (scale-out, outage and package tests), commands run to their
end (the command line), and a private redis-server."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests import backends

ROOT = Path(__file__).resolve().parents[1]


@asynccontextmanager
async def app_process(env: dict[str, str]) -> AsyncIterator[str]:
    """`uvicorn app:app` in a child process (a second app instance); yields its base URL."""
    port = backends.free_port()
    argv = [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(port)]
    child_env = {**os.environ, "DEMO_SUPPLIER": "on", **env}
    async with server_process(
        [*argv, "--log-level", "warning"], port=port, env=child_env, cwd=ROOT
    ) as url:
        yield url


@asynccontextmanager
async def server_process(
    argv: Sequence[str], *, port: int, env: dict[str, str], cwd: Path
) -> AsyncIterator[str]:
    """A server started by `argv`, listening on 127.0.0.1:`port`, until the block ends; yields
    its base URL once it is ready. Keep its stderr short (`--log-level warning`): it is read
    only if the server dies."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_healthy(url, process)
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), 15)


@dataclass(frozen=True)
class Finished:
    status: int
    stdout: str
    stderr: str


async def run_command(
    argv: Sequence[str], *, env: dict[str, str], cwd: Path, stdin: str = "", timeout: float = 120
) -> Finished:
    """A command run to its end. In a session of its own, so that it has no terminal: a prompt
    reads its answer from `stdin`."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(stdin.encode()), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Finished(process.returncode, stdout.decode(), stderr.decode())


async def _wait_healthy(url: str, process: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            if process.returncode is not None:
                stderr = await process.stderr.read() if process.stderr else b""
                raise RuntimeError(f"app process exited: {stderr.decode()[-2000:]}")
            try:
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("app process did not become ready")


class RedisServer:
    """A redis-server of our own on a free port, to stop and start in outage tests."""

    def __init__(self) -> None:
        self.port = backends.free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: asyncio.subprocess.Process | None = None
        self.workdir = tempfile.mkdtemp(prefix="smsrooms-redis-")

    async def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            backends.unavailable("redis-server is not installed")
        self.process = await asyncio.create_subprocess_exec(
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self.workdir,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(100):
            if backends.reachable(self.url):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    async def stop(self) -> None:
        if self.process and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


@asynccontextmanager
async def redis_server() -> AsyncIterator[RedisServer]:
    server = RedisServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)
