"""What the public booking page sends and receives: nothing about other customers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from slotbook.catalog.schemas import Phone
from slotbook.notifications.schemas import EmailNotice
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


class PublicDay(BaseModel):
    date: date
    slots: list[PublicSlot]


class SlotsOut(BaseModel):
    timezone: str = Field(description="all dates and times are wall-clock time in this zone")
    service_id: str
    start_date: date
    end_date: date
    days: list[PublicDay]


class BookingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service_id: Id
    staff_id: Id
    date: date
    start_time: MinuteTime
    name: Name
    email: Annotated[EmailStr, StringConstraints(max_length=320)]
    phone: Phone | None = None


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
    cancelled_at: datetime | None
    can_cancel: bool
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
