"""What the server under test logged during one test, for tests that assert it logged no error.

The test server runs in the test's own process (tests/conftest.py), so its log is this
process's: stdlib logging (uvicorn's "Exception in ASGI application", strawberry's execution
errors, asyncio's unretrieved task exceptions) and structlog (our own `log.exception`). The
`server_log` fixture collects both while one test runs:

    async def test_x(api: Api, server_log: ServerLog) -> None:
        ... hostile input ...
        assert server_log.errors() == []
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

# uvicorn's own loggers do not propagate to the root (its logging config): listen there too.
LOGGERS = ("", "uvicorn")


@dataclass
class ServerLog:
    records: list[logging.LogRecord] = field(default_factory=list)
    events: list[MutableMapping[str, Any]] = field(default_factory=list)

    def errors(self) -> list[str]:
        """One line per error or traceback logged so far."""
        lines = [
            f"{record.name}: {record.getMessage()}{_raised(record)}"
            for record in self.records
            if record.levelno >= logging.ERROR or record.exc_info
        ]
        lines += [
            f"{event.get('log_level')}: {event.get('event')}{_last_line(event.get('exception'))}"
            for event in self.events
            if event.get("log_level") in ("error", "critical") or event.get("exception")
        ]
        return lines


def _last_line(traceback: str | None) -> str:
    """The exception's own line of a formatted traceback: what failed, for the test's message."""
    return f" ({traceback.strip().splitlines()[-1]})" if traceback else ""


def _raised(record: logging.LogRecord) -> str:
    error = record.exc_info[1] if record.exc_info else None
    return f" ({type(error).__name__}: {error})" if error is not None else ""


class _Collector(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def collecting() -> Iterator[ServerLog]:
    """What this process logs while the block runs (stdlib and structlog)."""
    log = ServerLog()
    collector = _Collector(log.records)
    loggers = [logging.getLogger(name) for name in LOGGERS]
    for logger in loggers:
        logger.addHandler(collector)
    try:
        # The traceback formatted while the exception is still at hand: its last line names it.
        with capture_logs(processors=[structlog.processors.format_exc_info]) as events:
            log.events = events
            yield log
    finally:
        for logger in loggers:
            logger.removeHandler(collector)


@pytest.fixture
def server_log() -> Iterator[ServerLog]:
    with collecting() as log:
        yield log


@pytest.fixture(autouse=True)
def no_error_logged(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test: the servers it drove in this process logged no error and no traceback
    (issue 10: a run of the whole suite leaves none). A test that provokes one on purpose says
    so with `@pytest.mark.logs_errors("why")`."""
    with collecting() as log:
        yield
    if request.node.get_closest_marker("logs_errors") is None and log.errors():
        pytest.fail(f"the server logged errors: {log.errors()}", pytrace=False)
