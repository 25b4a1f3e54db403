"""The public pages' own table: request counts per client address, shared by all workers."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from slotbook.storage import Base


class RateLimitWindow(Base):
    """How many public requests one client address made in one fixed one-minute window."""

    __tablename__ = "public_rate_limits"
    __table_args__ = (sa.Index(None, "window_start"),)

    client_key: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    # Unix seconds at the start of the window (a multiple of 60).
    window_start: Mapped[int] = mapped_column(sa.BigInteger(), primary_key=True)
    hits: Mapped[int] = mapped_column(sa.Integer())
