"""Outgoing mail: over SMTP when SMTP_URL is set, into the log otherwise (the embedded default)."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from urllib.parse import urlsplit

import aiosmtplib
import structlog

from services import config

log = structlog.get_logger("mail")
_pending: set[asyncio.Task[None]] = set()


def send_later(to: str, subject: str, body: str) -> None:
    """Sends in the background, so that a slow mail server never slows a request down."""
    task = asyncio.create_task(_send(to, subject, body))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


async def _send(to: str, subject: str, body: str) -> None:
    settings = config.get()
    if not settings.smtp_url:
        log.info("mail (no SMTP_URL, written to the log)", to=to, subject=subject, body=body)
        return
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    url = urlsplit(settings.smtp_url)
    try:
        await aiosmtplib.send(
            message,
            hostname=url.hostname or "localhost",
            port=url.port or 25,
            username=url.username,
            password=url.password,
            start_tls=url.scheme == "smtp+starttls",
            use_tls=url.scheme == "smtps",
            timeout=10,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        log.error("mail not sent", to=to, subject=subject, error=str(exc))
