from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from slotbook.scheduling.rules import Status, WaitlistStatus
from slotbook.schemas import Id, MinuteTime, OptionalText, TimeOfDay


class ServiceLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service_id: Id
    staff_id: Id


PartySize = Annotated[
    int,
    Field(
        ge=1,
        le=100,
        strict=True,
        description="spots the booking holds in each of its sessions (a family, a group)",
    ),
]


class AppointmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outlet_id: Id
    customer_id: Id
    appointment_date: date
    start_time: MinuteTime
    services: Annotated[list[ServiceLineIn], Field(min_length=1, max_length=10)]
    notes: OptionalText | None = None
    status: Literal["confirmed", "pending"] = "confirmed"
    party_size: PartySize = 1


class ServiceLineOut(BaseModel):
    service_id: str
    service_name: str
    staff_id: str
    staff_name: str
    start_time: TimeOfDay
    end_time: TimeOfDay


class AppointmentOut(BaseModel):
    id: str
    status: Status
    outlet_id: str
    customer_id: str
    appointment_date: date
    start_time: TimeOfDay
    end_time: TimeOfDay
    services: list[ServiceLineOut]
    notes: str | None
    party_size: int
    created_at: datetime
    cancelled_at: datetime | None


class RescheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_date: date
    new_start_time: MinuteTime


class PartySizeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    party_size: PartySize


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: OptionalText | None = None


class HistoryItem(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    type: str
    at: datetime
    user_id: str | None = Field(
        description="the user who acted; null for the customer or the system"
    )
    actor: Literal["user", "customer", "system"] = Field(
        description="user: a signed-in user; customer: through the public booking page"
    )
    data: dict[str, Any]


class AppointmentFilters(BaseModel):
    outlet_id: str | None = None
    staff_id: str | None = None
    service_id: str | None = None
    customer_id: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    status: list[Status] = []


# A field named ``date`` would shadow the type in the class body.
Day = date


class WaitlistJoin(BaseModel):
    """A customer asking to wait for a place in a full session."""

    model_config = ConfigDict(extra="forbid")

    outlet_id: Id
    customer_id: Id
    service_id: Id
    staff_id: Id
    date: Day
    start_time: MinuteTime
    party_size: PartySize = 1


class WaitlistEntryOut(BaseModel):
    id: str
    status: WaitlistStatus
    position: int | None = Field(
        description="waiting entries ahead of this one plus one; null when not waiting"
    )
    outlet_id: str
    customer_id: str
    service_id: str
    staff_id: str
    date: Day
    start_time: TimeOfDay
    end_time: TimeOfDay
    party_size: int
    appointment_id: str | None = Field(description="the booking a promotion made")
    created_at: datetime


class WaitlistFilters(BaseModel):
    outlet_id: str | None = None
    service_id: str | None = None
    staff_id: str | None = None
    customer_id: str | None = None
    date: Day | None = None
    status: list[WaitlistStatus] = []
