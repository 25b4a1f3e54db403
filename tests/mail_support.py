"""Mail for the notification tests: a recording transport, a real SMTP server
(aiosmtpd) on a free port, and reading messages back."""

from __future__ import annotations

import email
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.policy import SMTP, default
from typing import Any

import icalendar
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from slotbook.storage import Database
from tests.live_server import free_port


@dataclass
class Sent:
    recipient: str
    message: EmailMessage

    @property
    def event_id(self) -> str:
        return str(self.message["X-Slotbook-Event-Id"])


@dataclass
class RecordingTransport:
    """Keeps what it is given; fails the first ``failures`` sends."""

    failures: int = 0
    sent: list[Sent] = field(default_factory=list)
    attempts: int = 0

    async def send(self, message: EmailMessage, recipient: str) -> None:
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionRefusedError("mail server down")
        # A copy through bytes: what would really leave.
        parsed = email.message_from_bytes(message.as_bytes(), policy=default)
        assert isinstance(parsed, EmailMessage)
        self.sent.append(Sent(recipient, parsed))

    def subjects(self) -> list[str]:
        return [subject(item.message) for item in self.sent]


@dataclass
class Received:
    mail_from: str
    recipients: list[str]
    message: EmailMessage


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        if self.server.refuse_next > 0:
            self.server.refuse_next -= 1
            return "451 4.3.0 Try again later"
        parsed = email.message_from_bytes(envelope.content, policy=default)
        assert isinstance(parsed, EmailMessage)
        self.server.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


class SmtpServer:
    """A real SMTP server in a thread; ``refuse_next`` answers 451 to that many messages."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self.refuse_next = 0
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def subject(message: Message) -> str:
    """The subject as a reader sees it: Python folds a subject that fits on a line of its
    own onto the next line, which unfolds with a leading space."""
    return str(message["Subject"]).strip()


def text_of(message: Message) -> str:
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def html_of(message: Message) -> str:
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    return str(body.get_content())


def calendar_of(message: EmailMessage) -> icalendar.Calendar:
    parts = [
        part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"
    ]
    assert len(parts) == 1, "one .ics attachment"
    assert parts[0].get_filename() == "booking.ics"
    return icalendar.Calendar.from_ical(parts[0].get_payload(decode=True))


def manage_link(message: Message) -> str:
    found = re.search(r"https?://\S+/my-booking/\S+", text_of(message))
    assert found, "the message carries the private link"
    return found.group(0)


def raw(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=SMTP)


async def rows(database: Database, statement: sa.Select[Any]) -> list[Any]:
    async with database.transaction(write=False) as session:
        return list((await session.execute(statement)).all())
