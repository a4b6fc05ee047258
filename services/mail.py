"""Outgoing mail: over SMTP when SMTP_URL is set. Without it, a demo server (DEMO_SUPPLIER=on,
the embedded default) writes each message into the log, links and all, so that one can sign up
and verify on a laptop; a production server writes only that it was not sent: a verification
link is a credential, and logs are read by more people, for longer, than a mailbox."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from urllib.parse import urlsplit

import aiosmtplib
import structlog

from settings import Settings

log = structlog.get_logger("mail")


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pending: set[asyncio.Task[None]] = set()

    def send_later(self, to: str, subject: str, body: str) -> None:
        """Sends in the background, so that a slow mail server never slows a request down."""
        task = asyncio.create_task(self._send(to, subject, body))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def drain(self) -> None:
        """Waits for the mail in flight (at shutdown)."""
        await asyncio.gather(*self._pending, return_exceptions=True)

    async def _send(self, to: str, subject: str, body: str) -> None:
        settings = self._settings
        if not settings.smtp_url and settings.demo_supplier:
            log.info("mail (no SMTP_URL, written to the log)", to=to, subject=subject, body=body)
            return
        if not settings.smtp_url:
            log.warning("mail not sent: SMTP_URL is not set", to=to, subject=subject)
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
                timeout=settings.smtp_timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            log.error("mail not sent", to=to, subject=subject, error=str(exc))
