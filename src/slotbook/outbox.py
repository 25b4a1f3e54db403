"""The outbox: events written in the transaction that causes them, delivered afterwards.

It lives below every feature so the one that records a change (booking) can write its
events without knowing who reads them, and the worker that delivers them
(``slotbook.notifications``) can read them without booking knowing it exists. A rolled
back request therefore leaves no event behind, and a committed one always leaves one.

An event is a plain ``type`` string ("appointment.created", "session.full", ...) with a
JSON ``payload``; a feature adds its own types by writing rows here. ``stream`` names
what the event is about ("appointment:<id>"): events of one stream are delivered in
``seq`` order, one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from slotbook.storage import Base, Query, UTCDateTime


class OutboxStatus(StrEnum):
    PENDING = "pending"  # not delivered yet (possibly claimed, or waiting for a retry)
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after the last attempt


class OutboxEvent(Base):
    """One event to deliver, with its delivery state (see ``slotbook.notifications``)."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        sa.Index(None, "stream", "seq"),
        sa.Index(None, "status", "available_at"),
    )

    # Commit order within a stream: the writers of one stream hold the same lock (the
    # appointment's, or the staff member's for a session), so a later row of a stream
    # always has a higher ``seq``.
    seq: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True
    )
    # The event's id: the history event's id for appointment events.
    id: Mapped[str] = mapped_column(sa.String(24), unique=True)
    tenant_id: Mapped[str] = mapped_column(
        sa.String(24), sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(sa.String(64))
    stream: Mapped[str] = mapped_column(sa.String(120))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(sa.String(16))
    # Not to be tried before (a retry's backoff).
    available_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(sa.Integer())
    # The lease of the worker delivering it; a claim that runs out may be taken again.
    claimed_by: Mapped[str | None] = mapped_column(sa.String(120))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(sa.String(1000))


@dataclass(frozen=True)
class Notice:
    """An event to write to the outbox."""

    id: str
    type: str
    stream: str
    at: datetime
    payload: dict[str, Any]


_COLUMNS = (
    "id",
    "tenant_id",
    "type",
    "stream",
    "payload",
    "created_at",
    "status",
    "available_at",
    "attempts",
)
# Only these columns, so ``seq`` is left to the database (the storage's fast path would
# otherwise send every column of the table).
INSERT_NOTICES = Query(
    sa.insert(OutboxEvent).values({name: sa.bindparam(name) for name in _COLUMNS})
)


def appointment_stream(appointment_id: str) -> str:
    return f"appointment:{appointment_id}"


def notice_rows(tenant_id: str, notices: list[Notice]) -> list[dict[str, Any]]:
    """The rows ``INSERT_NOTICES`` writes for ``notices``."""
    return [
        {
            "id": notice.id,
            "tenant_id": tenant_id,
            "type": notice.type,
            "stream": notice.stream,
            "payload": notice.payload,
            "created_at": notice.at,
            "status": OutboxStatus.PENDING.value,
            "available_at": notice.at,
            "attempts": 0,
        }
        for notice in notices
    ]
