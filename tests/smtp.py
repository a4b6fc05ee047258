"""An SMTP server of the test's own (aiosmtpd), to point SMTP_URL at and read the mail from.
Registered as a plugin in tests/conftest.py: the `smtp_server` fixture."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

import testkit.backends


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    async def message(self, index: int = 0) -> Message:
        """Message `index` (from 0), once it has come: the server sends mail in a task, and
        aiosmtpd receives it in a thread of its own."""
        for _ in range(500):
            if len(self.messages) > index:
                return self.messages[index]
            await asyncio.sleep(0.02)
        raise AssertionError(f"no mail number {index + 1} within 10 s")


@pytest.fixture
def smtp_server() -> Iterator[tuple[str, Inbox]]:
    inbox = Inbox()
    port = testkit.backends.free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", inbox
    finally:
        controller.stop()
