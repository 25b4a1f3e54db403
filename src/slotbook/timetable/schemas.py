"""The timetable's API: class schedules, their sessions, and series bookings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from slotbook.catalog.schemas import Capacity
from slotbook.scheduling.rules import Weekday
from slotbook.schemas import Id, MinuteTime, OptionalText, PatchModel

RRule = Annotated[
    str,
    Field(
        min_length=1,
        max_length=500,
        description="an RFC 5545 RRULE (e.g. FREQ=WEEKLY;INTERVAL=2;BYDAY=SA); "
        "DAILY, WEEKLY, MONTHLY or YEARLY, without a time of day",
    ),
]
PartySize = Annotated[StrictInt, Field(ge=1, le=100)]
SessionCount = Annotated[StrictInt, Field(ge=1, le=366)]


class ScheduleCreate(BaseModel):
    """A class that recurs: either ``days`` (weekly on those days) or an ``rrule``."""

    model_config = ConfigDict(extra="forbid")

    service_id: Id
    outlet_id: Id
    staff_id: Id
    start_time: MinuteTime = Field(description="local wall-clock start at the outlet")
    days: list[Weekday] | None = Field(
        default=None, min_length=1, max_length=7, description="weekly on these days"
    )
    rrule: RRule | None = None
    first_date: date
    last_date: date | None = Field(default=None, description="omitted: no end")
    capacity: Capacity | None = Field(
        default=None,
        description="spots of each session, replacing the service's (classes only)",
    )

    @model_validator(mode="after")
    def _one_recurrence(self) -> Self:
        if (self.days is None) == (self.rrule is None):
            raise ValueError("give either days or rrule")
        if self.last_date is not None and self.last_date < self.first_date:
            raise ValueError("last_date must not be before first_date")
        return self


class ScheduleChange(PatchModel):
    """A change "from this date on": to the sessions on and after ``from_date``."""

    nullable_fields = frozenset({"capacity", "last_date"})

    from_date: date
    start_time: MinuteTime | None = None
    staff_id: Id | None = None
    capacity: Capacity | None = Field(
        default=None, description="null: the service's capacity again"
    )
    last_date: date | None = Field(default=None, description="null: no end")


class ScheduleOut(BaseModel):
    id: str
    service_id: str
    outlet_id: str
    staff_id: str
    start_time: time
    days: list[Weekday] | None = Field(description="the weekdays of a plain weekly rule")
    rrule: str
    first_date: date
    last_date: date | None
    capacity: int | None
    sessions_until: date = Field(description="sessions are laid out up to this date")
    created_at: datetime


class ScheduleConflictItem(BaseModel):
    date: date
    start_time: time
    code: str


class UnmovedBooking(BaseModel):
    appointment_id: str
    session_id: str
    code: str = Field(description="the rule that kept it where it was")


class ScheduleChangeOut(BaseModel):
    schedule: ScheduleOut
    changed_sessions: int = Field(description="sessions whose time, instructor or capacity changed")
    moved_appointments: list[str]
    unmoved_appointments: list[UnmovedBooking] = Field(
        description="bookings that could not follow their session and stay as they were"
    )
    kept_sessions: list[str] = Field(
        description="sessions past a new last_date kept because they hold bookings"
    )
    warnings: list[str] = []


@dataclass(frozen=True)
class SessionFilters:
    outlet_id: str | None = None
    service_id: str | None = None
    staff_id: str | None = None
    schedule_id: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    status: str | None = None


class SessionOut(BaseModel):
    id: str
    schedule_id: str
    status: Literal["scheduled", "cancelled"]
    outlet_id: str
    service_id: str
    service_name: str
    staff_id: str
    staff_name: str
    date: date
    start_time: time
    end_time: time
    capacity: int
    booked: int = Field(description="spots taken (the parties of active bookings)")
    available: int = Field(description="spots left (0 when cancelled or started)")
    waitlist_length: int
    cancelled_at: datetime | None
    cancel_reason: str | None


class SessionCancel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: OptionalText | None = None


class SessionMove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_start_time: MinuteTime = Field(description="another local start the same day")


class SessionSubstitute(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff_id: Id


class SessionChangeOut(BaseModel):
    session: SessionOut
    appointments: list[str] = Field(description="bookings that were cancelled or moved")
    unmoved_appointments: list[UnmovedBooking] = []


class SessionEventOut(BaseModel):
    type: str
    at: datetime
    user_id: str | None
    actor: str
    data: dict[str, Any]


class SeriesBooking(BaseModel):
    """Book a customer into the next ``count`` sessions of a schedule (all remaining
    ones when omitted), from ``from_date`` (today when omitted)."""

    model_config = ConfigDict(extra="forbid")

    customer_id: Id
    count: SessionCount | None = None
    from_date: date | None = None
    party_size: PartySize = 1
    mode: Literal["all_or_nothing", "available"] = Field(
        default="all_or_nothing",
        description="all_or_nothing: every session or none; available: each that has room",
    )
    waitlist: bool = Field(
        default=False,
        description="with mode available: join the waitlist of each full session",
    )
    status: Literal["confirmed", "pending"] = "confirmed"
    notes: OptionalText | None = None


class SeriesItem(BaseModel):
    session_id: str
    date: date
    start_time: time
    result: Literal["booked", "waitlisted", "refused"]
    code: str | None = None
    detail: str | None = None
    appointment_id: str | None = None
    waitlist_entry_id: str | None = None


class SeriesOut(BaseModel):
    schedule_id: str
    customer_id: str
    booked: int
    waitlisted: int
    refused: int
    results: list[SeriesItem]
