"""How a server process logs: structlog for our lines, and uvicorn's and the libraries' lines
(stdlib logging) through the same processors, to standard output.

Two guarantees hold for every line, whoever writes it:
- no raw user text: control, bidi and invisible characters in any value are written as
  `\\uXXXX` escapes (services/text.py says which), so a crafted email or path cannot rewrite a
  terminal or hide what a line says;
- in production (DEMO_SUPPLIER=off) no secret: values of keys named like secrets, our session
  tokens and API keys (`srs_…`, `srk_…`) and secrets in URL parameters are replaced by `***`.
  The app never means to log one (the access log redacts its own parameters, web/access_log.py;
  mail bodies are not logged in production, services/mail.py): this is the net under that.

LOG_FORMAT: `json` (one object a line, for a log pipeline; the default in production) or
`console` (for a person; the default with the demo supplier).
"""

from __future__ import annotations

import logging
import re
import sys
import unicodedata
from typing import Any

import structlog
from structlog.dev import set_exc_info
from structlog.types import EventDict, Processor

from services.text import REFUSED_CATEGORIES, has_hidden_characters
from settings import Settings

REDACTED = "***"
SECRET_KEYS = re.compile(r"password|secret|token|api_?key|signature|authorization|cookie", re.I)
SECRET_VALUES = re.compile(
    r"\b(?:srs|srk)_[A-Za-z0-9_-]+"  # session tokens and API keys (services/accounts.py)
    r"|(?<=[?&;])(?:token|api_?key|key|password|secret|signature|sig)=[^&\s'\"]*",
    re.I,
)
# The root, for every library, and uvicorn's, which does not propagate to it (uvicorn.error
# propagates to it). Not uvicorn.access: `smsrooms serve` turns it off (--no-access-log takes
# its handlers away), and a plain `uvicorn app:app` keeps its own.
STDLIB_LOGGERS = ("", "uvicorn")


def printable(value: str) -> str:
    """`value` with every character services/text.py refuses written as an escape."""
    if not has_hidden_characters(value):
        return value
    return "".join(
        ascii(char)[1:-1] if unicodedata.category(char) in REFUSED_CATEGORIES else char
        for char in value
    )


def escape_hidden_characters(_: Any, __: str, event: EventDict) -> EventDict:
    for key, value in event.items():
        # A console traceback keeps its lines; JSON escapes them anyway.
        if isinstance(value, str) and key != "exception":
            event[key] = printable(value)
    return event


def redact_secrets(_: Any, __: str, event: EventDict) -> EventDict:
    for key, value in event.items():
        if key != "event" and SECRET_KEYS.search(key):
            event[key] = REDACTED
        elif isinstance(value, str):
            event[key] = SECRET_VALUES.sub(_mask, value)
    return event


def _mask(match: re.Match[str]) -> str:
    name, equals, _ = match.group(0).partition("=")
    return f"{name}={REDACTED}" if equals else REDACTED


def processors(settings: Settings) -> list[Processor]:
    """What every line goes through after it has its level and time, up to the renderer."""
    chain: list[Processor] = [structlog.processors.format_exc_info, escape_hidden_characters]
    if not settings.demo_supplier:
        chain.append(redact_secrets)
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    return [*chain, renderer]


def configure(settings: Settings) -> None:
    """For this process (the app module calls it, once uvicorn has set up its own logging)."""
    stamped: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.StackInfoRenderer(),
        set_exc_info,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*stamped, *processors(settings)],
        logger_factory=structlog.PrintLoggerFactory(),  # standard output, as it is then
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *stamped],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *processors(settings),
            ],
        )
    )
    for name in STDLIB_LOGGERS:
        logging.getLogger(name).handlers = [handler]
