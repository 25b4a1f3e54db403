"""What the worker keeps: each message it sent or tried to send, the reminders it has
scheduled, and the webhook endpoints businesses register with their deliveries. The
outbox itself lives in ``slotbook.outbox``, below booking."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

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


class WebhookStatus(StrEnum):
    """Where one webhook delivery stands."""

    PENDING = "pending"  # not delivered yet: due, claimed, or waiting for a retry
    DELIVERED = "delivered"  # the endpoint answered 2xx
    FAILED = "failed"  # given up: attempts ran out, 410 Gone, or its address was refused


class WebhookEndpoint(TenantScoped, Base):
    """A URL of the business that receives its events, signed with ``secret``.

    The secret (``whsec_<base64>``, Standard Webhooks) is kept as is: signing needs it.
    ``active`` is false once the endpoint is disabled, by a manager or by the worker
    (410 Gone, attempts exhausted, an address refused), and ``disabled_reason`` says why.
    """

    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(sa.String(2000))
    description: Mapped[str | None] = mapped_column(sa.String(500))
    # Event types ("appointment.created", ...), or ["*"] for every type.
    event_types: Mapped[list[str]] = mapped_column(sa.JSON())
    secret: Mapped[str] = mapped_column(sa.String(100))
    active: Mapped[bool] = mapped_column(sa.Boolean())
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(1000))
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(sa.String(24))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookDelivery(TenantScoped, Base):
    """One outbox event to one endpoint: written when the worker settles the event, then
    sent (and retried) by the worker on its own schedule. ``event_id`` is the
    ``webhook-id`` header, the same across retries and redeliveries; ``body`` is the
    exact JSON sent each time."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("endpoint_id", "event_id"),
        sa.Index(None, "status", "available_at"),
        # An earlier undelivered delivery of a stream holds back the later ones.
        sa.Index(None, "endpoint_id", "stream", "event_seq"),
        # The delivery log, newest first.
        sa.Index(None, "endpoint_id", "event_seq"),
    )

    endpoint_id: Mapped[str] = mapped_column(
        sa.String(24), sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    event_id: Mapped[str] = mapped_column(sa.String(24))
    # The outbox event's ``seq``: the order of a stream's deliveries.
    event_seq: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
    event_type: Mapped[str] = mapped_column(sa.String(64))
    stream: Mapped[str] = mapped_column(sa.String(120))
    body: Mapped[str] = mapped_column(sa.Text())
    status: Mapped[str] = mapped_column(sa.String(16))
    attempts: Mapped[int] = mapped_column(sa.Integer())
    # Not to be tried before (a retry's backoff).
    available_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(sa.String(120))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_response_status: Mapped[int | None] = mapped_column(sa.Integer())
    last_response_body: Mapped[str | None] = mapped_column(sa.String(500))
    last_error: Mapped[str | None] = mapped_column(sa.String(1000))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
