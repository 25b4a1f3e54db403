"""What the worker keeps: each message it sent or tried to send, and the reminders it
has scheduled. The outbox itself lives in ``slotbook.outbox``, below booking."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from slotbook.storage import Base, TenantScoped, UTCDateTime


class NotificationDelivery(TenantScoped, Base):
    """One message of one event to one recipient: sent, retrying or failed."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "channel", "recipient"),
        sa.Index(None, "tenant_id", "appointment_id"),
    )

    event_id: Mapped[str] = mapped_column(sa.String(24))
    event_type: Mapped[str] = mapped_column(sa.String(64))
    appointment_id: Mapped[str | None] = mapped_column(sa.String(24))
    channel: Mapped[str] = mapped_column(sa.String(16))
    # "confirmation", "rescheduled", "cancelled", "reminder" ...
    kind: Mapped[str] = mapped_column(sa.String(32))
    recipient: Mapped[str] = mapped_column(sa.String(320))
    status: Mapped[str] = mapped_column(sa.String(16))
    attempts: Mapped[int] = mapped_column(sa.Integer())
    last_error: Mapped[str | None] = mapped_column(sa.String(1000))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class NotificationReminder(Base):
    """A reminder decided for an appointment at one start: a moved appointment has a new
    start and so gets a reminder of its own. ``event_id`` is the outbox event sent, or
    None when none was due (booked inside the reminder's lead time)."""

    __tablename__ = "notification_reminders"

    appointment_id: Mapped[str] = mapped_column(
        sa.String(24), sa.ForeignKey("appointments.id", ondelete="CASCADE"), primary_key=True
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(
        sa.String(24), sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str | None] = mapped_column(sa.String(24))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
