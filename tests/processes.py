"""Processes of the package and command-line tests: a server started by any command line, and
commands run to their end. (App servers and redis-servers of our own: testkit/processes.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


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
