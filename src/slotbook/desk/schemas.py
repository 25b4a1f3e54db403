"""The day view's wire shape: what the desk page draws, already decided by the rules.

The page keeps no status, weekday or capacity logic of its own: every flag it acts on
(``holds_place``, ``can_cancel`` ...) and every count it shows comes from here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

from slotbook.scheduling.rules import Status
from slotbook.schemas import TimeOfDay

LocalDateTime = Annotated[
    datetime,
    PlainSerializer(lambda value: value.isoformat(timespec="seconds"), return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$",
            "description": "local wall-clock date-time at the outlet, without an offset",
        },
        mode="serialization",
    ),
]


class DeskOutlet(BaseModel):
    id: str
    name: str
    timezone: str = Field(description="IANA zone; every time in the day view is local to it")


class DeskInterval(BaseModel):
    start: TimeOfDay
    end: TimeOfDay


class DeskTimeOff(BaseModel):
    """Time off overlapping the day, as entered (it may begin before or end after it)."""

    start: LocalDateTime
    end: LocalDateTime


class DeskRosterEntry(BaseModel):
    """One customer's booking of a block, with what the desk may do with it."""

    appointment_id: str
    customer_id: str
    customer_name: str
    email: str | None
    phone: str | None
    status: Status
    party_size: int = Field(description="people (spots) the booking holds")
    holds_place: bool = Field(description="its party counts towards the block's taken spots")
    can_cancel: bool
    can_no_show: bool
    can_move: bool = Field(description="may be rescheduled (PUT /appointments/{id}/reschedule)")
    can_complete: bool
    can_change_party_size: bool = Field(
        description="a class booking whose party may change (PUT /appointments/{id}/party-size)"
    )
    appointment_date: date = Field(description="local start of the whole appointment")
    appointment_start_time: TimeOfDay
    notes: str | None


class DeskWaitlistEntry(BaseModel):
    """A customer waiting for a place in a class session, in the order they get one."""

    entry_id: str = Field(description="the waitlist entry (GET/PUT /waitlist/{id})")
    customer_id: str
    customer_name: str
    email: str | None
    phone: str | None
    party_size: int
    position: int = Field(description="1 = the next to get a place that fits their party")
    joined_at: datetime


class DeskBlock(BaseModel):
    """A class session or a one-to-one appointment of one staff member."""

    key: str = Field(description="stable for the same staff, service, start and end")
    kind: Literal["class", "appointment"]
    service_id: str
    service_name: str
    session_id: str | None = Field(
        description="the scheduled class session of a timetable class (GET "
        "/class-sessions?...); shown even before anyone books it. Null otherwise"
    )
    start_time: TimeOfDay
    end_time: TimeOfDay
    taken: int = Field(
        description="spots taken: the party sizes of the bookings holding a place "
        "(cancelled and no-show excluded)"
    )
    capacity: int = Field(
        description="1 for a one-to-one service; a scheduled class session's own capacity "
        "for a timetable class"
    )
    spots_left: int
    almost_full: bool
    full: bool
    label: str = Field(examples=["Group Yoga 10:00-11:00 - 7/10", "Haircut 14:00-15:00 - Ana Ruiz"])
    roster: list[DeskRosterEntry] = Field(
        description="place holders first, then by name; cancelled and no-show included"
    )
    waitlist_enabled: bool = Field(description="the service keeps a waitlist for full sessions")
    can_add_to_waitlist: bool = Field(
        description="the session has not started and its waitlist takes another customer "
        "(POST /waitlist; a party that fits now is told to book instead)"
    )
    waitlist: list[DeskWaitlistEntry] = Field(
        description="customers waiting for a place, by position; empty once the session starts"
    )


class DeskStaffColumn(BaseModel):
    id: str
    name: str
    active: bool = Field(description="false only for a former member who still has blocks")
    working_hours: list[DeskInterval] = Field(description="that day's intervals, in order")
    time_off: list[DeskTimeOff]
    blocks: list[DeskBlock] = Field(description="by start time")


class DeskDay(BaseModel):
    date: date
    outlet: DeskOutlet
    staff: list[DeskStaffColumn] = Field(description="by name")
