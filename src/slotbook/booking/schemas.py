from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from slotbook.scheduling.rules import Status
from slotbook.schemas import Id, MinuteTime, OptionalText, TimeOfDay


class ServiceLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service_id: Id
    staff_id: Id


class AppointmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outlet_id: Id
    customer_id: Id
    appointment_date: date
    start_time: MinuteTime
    services: Annotated[list[ServiceLineIn], Field(min_length=1, max_length=10)]
    notes: OptionalText | None = None
    status: Literal["confirmed", "pending"] = "confirmed"


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
    created_at: datetime
    cancelled_at: datetime | None


class RescheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_date: date
    new_start_time: MinuteTime


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
