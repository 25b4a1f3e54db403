"""What the public booking page sends and receives: nothing about other customers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictInt, StringConstraints

from slotbook.booking.schemas import PartySize
from slotbook.catalog.schemas import Phone
from slotbook.notifications.schemas import EmailNotice
from slotbook.scheduling.rules import WaitlistStatus
from slotbook.schemas import Id, MinuteTime, Name, TimeOfDay


class PublicPrice(BaseModel):
    amount: int = Field(
        description="in the smallest unit the currency is shown in (its CLDR digits): "
        "USD cents, whole yen, whole rupiah"
    )
    currency: str = Field(description="ISO 4217 code")
    label: str = Field(
        description="the price as the page shows it, formatted with Babel",
        examples=["$20.00", "¥2,000", "Rp150.000"],
    )


class PublicService(BaseModel):
    id: str
    name: str
    category: str | None
    description: str | None
    duration: int = Field(description="minutes")
    price: PublicPrice | None
    is_class: bool = Field(description="a group session with several places")
    capacity: int | None = Field(description="places per session; null for one-to-one")
    has_waitlist: bool = Field(
        description="customers may join a waitlist for a full session of this class"
    )
    booking_mode: Literal["open", "timetable"] = Field(
        description="open: any time the slots listing offers; timetable: only the class's "
        "scheduled sessions (the slots listing lists exactly those, each with its own "
        "capacity), shown as a week of classes"
    )


class PublicOutlet(BaseModel):
    id: str
    name: str
    address: str | None
    timezone: str


class OutletPage(BaseModel):
    business_name: str
    outlet: PublicOutlet
    services: list[PublicService]


class PublicSlot(BaseModel):
    start_time: TimeOfDay
    end_time: TimeOfDay
    staff_id: str
    staff_name: str
    bookable: bool
    spots_left: int | None = Field(description="classes only: places still free")
    capacity: int | None = Field(description="classes only: places per session")
    almost_full: bool
    label: str = Field(examples=["Available", "7/10 spots left", "Full"])
    waitlist_length: int | None = Field(
        description="customers waiting for a place in this session; null when the service "
        "keeps no waitlist"
    )
    waitlist_open: bool = Field(
        description="the session is full and its waitlist takes another customer "
        "(POST .../waitlist)"
    )


class PublicDay(BaseModel):
    date: date
    slots: list[PublicSlot]


class SlotsOut(BaseModel):
    timezone: str = Field(description="all dates and times are wall-clock time in this zone")
    service_id: str
    start_date: date
    end_date: date
    days: list[PublicDay]


Email = Annotated[EmailStr, StringConstraints(max_length=320)]


class BookingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service_id: Id
    staff_id: Id
    date: date
    start_time: MinuteTime
    name: Name
    email: Email
    phone: Phone | None = None
    party_size: PartySize = 1


class SeriesIn(BaseModel):
    """A weekly class booked from one of its sessions on: that session and the following
    ones of its timetable, as one customer (found by email, or created)."""

    model_config = ConfigDict(extra="forbid")

    service_id: Id
    staff_id: Id
    date: date
    start_time: MinuteTime
    name: Name
    email: Email
    phone: Phone | None = None
    party_size: PartySize = 1
    count: Annotated[StrictInt, Field(ge=1, le=52)] | None = Field(
        default=None, description="sessions to book, this one included; omitted: all remaining"
    )
    mode: Literal["all_or_nothing", "available"] = Field(
        default="all_or_nothing",
        description="all_or_nothing: every session or none; available: each that has room",
    )
    waitlist: bool = Field(
        default=False, description="with mode available: wait for a place in full sessions"
    )


class SeriesItemOut(BaseModel):
    date: date
    start_time: TimeOfDay
    result: Literal["booked", "waitlisted", "refused"]
    code: str | None = None
    manage_path: str | None = Field(
        default=None, description="the booking's or waitlist entry's private link"
    )


class SeriesOut(BaseModel):
    booked: int
    waitlisted: int
    refused: int
    results: list[SeriesItemOut]


class WaitlistIn(BaseModel):
    """Waiting for a place in a full session: the session as a booking names it."""

    model_config = ConfigDict(extra="forbid")

    service_id: Id
    staff_id: Id
    date: date
    start_time: MinuteTime
    name: Name
    email: Email
    phone: Phone | None = None
    party_size: PartySize = 1


class PartySizeChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    party_size: PartySize = Field(
        description="the new number of people; through the private link only a smaller "
        "party (or the same) is accepted"
    )


class BookedService(BaseModel):
    service_name: str
    staff_name: str
    start_time: TimeOfDay
    end_time: TimeOfDay


class BookingOut(BaseModel):
    """A customer's own booking, as its private link shows it."""

    status: str
    business_name: str
    outlet_name: str
    outlet_address: str | None
    timezone: str
    date: date
    start_time: TimeOfDay
    end_time: TimeOfDay
    services: list[BookedService]
    party_size: int = Field(description="people (spots) the booking holds")
    cancelled_at: datetime | None
    can_cancel: bool
    can_reduce_party: bool = Field(
        description="the party may be made smaller (PUT .../party-size) before the start"
    )
    manage_path: str = Field(description="the private link (keep it secret)")
    emails: list[EmailNotice] = Field(
        default_factory=list,
        description="emails sent about this booking (addresses masked); the confirmation "
        "follows within moments of booking",
    )
    mail_to_files: bool = Field(
        default=False,
        description="no mail server is configured: emails are written as files (the demo)",
    )


class WaitlistOut(BaseModel):
    """A customer's own waitlist entry, as its private link shows it."""

    status: WaitlistStatus = Field(
        description="waiting, promoted (booked: see booking_path), cancelled (left), or "
        "expired (the session started while still waiting)"
    )
    position: int | None = Field(
        description="place in line (1 = next to get a spot); null when not waiting"
    )
    party_size: int
    business_name: str
    outlet_name: str
    outlet_address: str | None
    timezone: str
    service_name: str
    staff_name: str
    date: date
    start_time: TimeOfDay
    end_time: TimeOfDay
    joined_at: datetime
    can_leave: bool
    manage_token: str = Field(description="the private token of this entry (keep it secret)")
    manage_path: str = Field(description="the private link of this entry: /my-waitlist/{token}")
    booking_path: str | None = Field(
        description="when promoted: the private link of the booking it became"
    )
