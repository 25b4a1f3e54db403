from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from slotbook.storage import Base, TenantScoped, UTCDateTime


class FeedKind(StrEnum):
    """Whose calendar a feed is: ``subject_id`` names a staff member, customer or outlet."""

    STAFF = "staff"
    CUSTOMER = "customer"
    OUTLET = "outlet"


class CalendarFeed(TenantScoped, Base):
    """A subscribable calendar. The token is never stored, only its SHA-256 (hex), which is
    unique across tenants: the public URL names no tenant."""

    __tablename__ = "calendar_feeds"

    kind: Mapped[str] = mapped_column(sa.String(16))
    # A staff member, customer or outlet id of the tenant, by ``kind`` (checked on create).
    subject_id: Mapped[str] = mapped_column(sa.String(24))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_by: Mapped[str | None] = mapped_column(sa.String(24))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set when revoked: the row stays (who made which feed, when it ended), the URL is 404.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
