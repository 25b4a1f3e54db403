"""How a message leaves: SMTP, or (no SMTP host set) an .eml file per message.

Both behind one interface, ``Transport.send(message, recipient)``: one envelope
recipient per call, whatever the headers say. A failure the recipient's server gives
as final (the address is refused) is ``PermanentFailure`` and is not retried; anything
else raises and is retried with backoff.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import structlog

from slotbook.settings import Settings

log = structlog.get_logger("slotbook.notifications")


class PermanentFailure(Exception):
    """Retrying will not help: the message is recorded as failed at once."""


class Transport(Protocol):
    async def send(self, message: EmailMessage, recipient: str) -> None: ...


class SmtpTransport:
    """One SMTP session per message, in a thread (smtplib blocks)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str = "",
        password: str = "",
        starttls: bool = True,
        timeout: float = 30,
    ) -> None:
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.starttls, self.timeout = starttls, timeout

    async def send(self, message: EmailMessage, recipient: str) -> None:
        await asyncio.to_thread(self._send, message, recipient)

    def _send(self, message: EmailMessage, recipient: str) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password)
            try:
                smtp.send_message(message, to_addrs=[recipient])
            except smtplib.SMTPRecipientsRefused as exc:
                codes = [code for code, _ in exc.recipients.values()]
                if codes and all(500 <= code < 600 for code in codes):
                    raise PermanentFailure(f"recipient refused: {codes}") from exc
                raise


class FileTransport:
    """Writes each message to ``<directory>/<time>-<event>-<n>.eml`` and logs it: mail
    without a mail server (the demo, development)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, message: EmailMessage, recipient: str) -> None:
        path = await asyncio.to_thread(self._write, message)
        log.info(
            "email_written",
            path=str(path),
            event_id=message["X-Slotbook-Event-Id"],
            subject=message["Subject"],
        )

    def _write(self, message: EmailMessage) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        event_id = message["X-Slotbook-Event-Id"] or "message"
        name = f"{time.time_ns()}-{event_id}-{uuid.uuid4().hex[:8]}.eml"
        temporary = self.directory / f".{name}.tmp"
        temporary.write_bytes(message.as_bytes())
        os.replace(temporary, self.directory / name)  # readers never see half a file
        return self.directory / name


def transport_from_settings(settings: Settings) -> Transport:
    if settings.smtp_host:
        return SmtpTransport(
            settings.smtp_host,
            settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
        )
    return FileTransport(settings.var_dir / "outbox-mail")
