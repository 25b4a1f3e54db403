"""The shapes the worker passes around: claimed events, messages, delivery outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ClaimedEvent:
    """An outbox event this worker holds the lease of."""

    seq: int
    id: str
    tenant_id: str
    type: str
    stream: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


@dataclass(frozen=True)
class Attachment:
    filename: str
    maintype: str
    subtype: str
    data: bytes
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Email:
    """One message to one recipient (never anyone else on it)."""

    kind: str
    appointment_id: str | None
    recipient: str
    recipient_name: str
    sender_name: str
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """What became of one message this attempt."""

    email: Email
    status: str  # "sent", "retrying" or "failed"
    error: str | None = None
