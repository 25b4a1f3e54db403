from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from slotbook.feeds.models import FeedKind
from slotbook.schemas import Id


class CalendarFeedCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: FeedKind = Field(
        description="staff: a staff member's sessions and appointments with taken spots; "
        "customer: a customer's bookings; outlet: an outlet's booked classes, without any "
        "customer's data"
    )
    subject_id: Id = Field(description="the staff member, customer or outlet, by `kind`")


class CalendarFeedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: FeedKind
    subject_id: str
    created_at: datetime


class CalendarFeedCreated(CalendarFeedOut):
    url: str = Field(
        description="The feed's address, `/feeds/{token}.ics`, relative to the server. "
        "Shown only in this answer: only a hash of the token is kept.",
        examples=["/feeds/3q2-7wEXAMPLEb1UxM0yQ4E8fKjz5QYxv6T0r4A9bH2c.ics"],
    )
