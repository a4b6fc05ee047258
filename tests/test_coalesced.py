"""services/coalesced.py: every request is followed by a call that starts after it, and
requests made while a call runs share one more call."""

from __future__ import annotations

import asyncio

import pytest

from services.coalesced import Coalesced
from tests.server_log import ServerLog


class Calls:
    def __init__(self) -> None:
        self.started: list[int] = []
        self.release = asyncio.Event()

    async def __call__(self) -> None:
        self.started.append(len(self.started) + 1)
        await self.release.wait()


async def test_requests_during_a_call_share_one_more_call_after_it() -> None:
    calls = Calls()
    coalesced = Coalesced(calls, "test")
    coalesced.request()
    await asyncio.sleep(0)
    assert calls.started == [1]  # running, held
    for _ in range(100):
        coalesced.request()  # all while the first runs
    calls.release.set()
    await asyncio.sleep(0.01)
    assert calls.started == [1, 2]  # one more, started after the last request
    coalesced.request()
    await asyncio.sleep(0.01)
    assert calls.started == [1, 2, 3]  # a request after the runs ended: a call of its own
    await coalesced.close()


@pytest.mark.logs_errors("the call fails on purpose")
async def test_a_failed_call_is_logged_and_the_next_request_calls_again(
    server_log: ServerLog,
) -> None:
    attempts = []

    async def failing() -> None:
        attempts.append(1)
        raise ConnectionError("the bus is away")

    coalesced = Coalesced(failing, "test")
    coalesced.request()
    await asyncio.sleep(0.01)
    coalesced.request()
    await asyncio.sleep(0.01)
    assert len(attempts) == 2
    assert (
        server_log.errors()
        == ["error: a coalesced call failed (ConnectionError: the bus is away)"] * 2
    )
    await coalesced.close()
