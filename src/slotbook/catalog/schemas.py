from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Annotated, Literal, Self
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from slotbook.money import known_currency
from slotbook.scheduling.rules import WEEKDAYS
from slotbook.schemas import Currency, Id, MinuteTime, Name, OptionalText, PatchModel, Slug

_TIMEZONES = frozenset(available_timezones())


def _known_timezone(value: str) -> str:
    if value not in _TIMEZONES:
        raise ValueError(f"unknown IANA time zone {value!r}, e.g. 'Europe/London'")
    return value


TimeZone = Annotated[str, AfterValidator(_known_timezone), Field(examples=["Europe/London"])]
Duration = Annotated[int, Field(ge=5, le=1440, description="minutes")]
Capacity = Annotated[int, Field(ge=1, le=100)]
BookingMode = Annotated[
    Literal["open", "timetable"],
    Field(
        description="open: any start inside working hours books (the grid's slots); "
        "timetable: only the sessions of the service's class schedules"
    ),
]
WaitlistLimit = Annotated[
    int, Field(ge=1, le=1000, description="waiting entries per session; null for no limit")
]
Phone = Annotated[
    str,
    BeforeValidator(lambda v: v.strip() if isinstance(v, str) else v),
    Field(pattern=r"^\+?[0-9 ()./-]{3,30}$"),
]


def _local(value: datetime) -> datetime:
    if value.tzinfo is not None:
        raise ValueError("give a local date-time at the outlet, without an offset")
    return value.replace(microsecond=0)


LocalDateTime = Annotated[datetime, AfterValidator(_local)]
LocalDateTimeOut = Annotated[
    datetime,
    PlainSerializer(lambda value: value.isoformat(timespec="seconds"), return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$",
            "description": "local wall-clock date-time at the outlet, without an offset",
            "examples": ["2026-12-24T09:00:00"],
        },
        mode="serialization",
    ),
]


# Outlets


class OutletCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    timezone: TimeZone
    address: OptionalText | None = None


class OutletUpdate(PatchModel):
    nullable_fields = frozenset({"address"})

    name: Name | None = None
    timezone: TimeZone | None = None
    address: OptionalText | None = None


class OutletOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    timezone: str
    address: str | None


# Services


AMOUNT_UNIT = (
    "in the smallest unit the currency is shown in (its CLDR digits): "
    "USD 2000 is $20.00, JPY 2000 is ¥2,000, IDR 150000 is Rp150.000"
)
Amount = Annotated[int, Field(ge=0, le=10**12, strict=True)]
PricingCurrency = Annotated[Currency, AfterValidator(known_currency)]


class Pricing(BaseModel):
    """A service's price as stored and answered."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["FIXED"] = "FIXED"
    base_price: Amount = Field(description=f"integer >= 0, {AMOUNT_UNIT}")
    currency: Currency


class PricingIn(Pricing):
    """A price as clients send it: the currency must be one Babel (CLDR) knows, else 422."""

    currency: PricingCurrency


class ServiceFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: Slug | None = None
    category: OptionalText | None = None
    description: OptionalText | None = None
    pricing: PricingIn | None = None
    price: Amount | None = Field(
        default=None,
        description=f"shorthand for a FIXED price in the tenant's currency, {AMOUNT_UNIT}",
    )
    slot_interval: Duration | None = None


class ServiceCreate(ServiceFields):
    name: Name
    duration: Duration
    allow_parallel_bookings: bool = False
    max_parallel_bookings: Capacity = 1
    waitlist_enabled: bool = Field(
        default=False, description="customers may wait for a place in a full session (classes)"
    )
    waitlist_limit: WaitlistLimit | None = None
    booking_mode: BookingMode = "open"
    active: bool = True

    @model_validator(mode="after")
    def _one_price(self) -> Self:
        if self.pricing is not None and self.price is not None:
            raise ValueError("give either pricing or price, not both")
        return self


class ServiceUpdate(PatchModel):
    nullable_fields = frozenset({"category", "description", "pricing", "price", "waitlist_limit"})

    name: Name | None = None
    slug: Slug | None = None
    category: OptionalText | None = None
    description: OptionalText | None = None
    duration: Duration | None = None
    pricing: PricingIn | None = None
    price: Amount | None = Field(
        default=None,
        description=f"shorthand for a FIXED price in the tenant's currency, {AMOUNT_UNIT}",
    )
    allow_parallel_bookings: bool | None = None
    max_parallel_bookings: Capacity | None = None
    waitlist_enabled: bool | None = None
    waitlist_limit: WaitlistLimit | None = None
    slot_interval: Duration | None = None
    booking_mode: BookingMode | None = None
    active: bool | None = None

    @model_validator(mode="after")
    def _one_price(self) -> Self:
        if {"pricing", "price"} <= self.model_fields_set:
            raise ValueError("give either pricing or price, not both")
        return self


class ServiceOut(BaseModel):
    id: str
    name: str
    slug: str
    category: str | None
    description: str | None
    duration: int
    pricing: Pricing | None
    allow_parallel_bookings: bool
    max_parallel_bookings: int
    waitlist_enabled: bool
    waitlist_limit: int | None
    slot_interval: int
    booking_mode: BookingMode
    active: bool


class ServiceUpdateOut(ServiceOut):
    warnings: list[str] = []


# Staff


class WorkingInterval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: MinuteTime
    end: MinuteTime

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


DayIntervals = Annotated[list[WorkingInterval], Field(max_length=24)]


class WorkingHours(BaseModel):
    """Weekly hours, local wall-clock time; a missing day means not working."""

    model_config = ConfigDict(extra="forbid")

    monday: DayIntervals | None = None
    tuesday: DayIntervals | None = None
    wednesday: DayIntervals | None = None
    thursday: DayIntervals | None = None
    friday: DayIntervals | None = None
    saturday: DayIntervals | None = None
    sunday: DayIntervals | None = None

    @model_validator(mode="after")
    def _no_overlap(self) -> Self:
        for day in WEEKDAYS:
            intervals = sorted(getattr(self, day) or [], key=lambda i: i.start)
            for earlier, later in pairwise(intervals):
                if later.start < earlier.end:
                    raise ValueError(f"{day}: working intervals overlap")
            setattr(self, day, intervals or None)
        return self

    def as_json(self) -> dict[str, list[dict[str, str]]]:
        dumped = self.model_dump(mode="json", exclude_none=True)
        return {day: dumped[day] for day in WEEKDAYS if dumped.get(day)}


# The schema spells the days out for the API documentation; they are ``rules.Weekday``.
assert tuple(WorkingHours.model_fields) == WEEKDAYS


ServiceIds = Annotated[list[Id], Field(max_length=500)]


class StaffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    outlet_id: Id
    service_ids: ServiceIds = []
    working_hours: WorkingHours = WorkingHours()
    active: bool = True


class StaffUpdate(PatchModel):
    name: Name | None = None
    outlet_id: Id | None = None
    service_ids: ServiceIds | None = None
    working_hours: WorkingHours | None = None
    active: bool | None = None


class StaffOut(BaseModel):
    id: str
    name: str
    outlet_id: str
    service_ids: list[str]
    working_hours: WorkingHours
    active: bool


class TimeOffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: LocalDateTime
    end: LocalDateTime
    reason: OptionalText | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if (self.end - self.start).days > 366:
            raise ValueError("time off may span at most 366 days")
        return self


class TimeOffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    staff_id: str
    start: LocalDateTimeOut
    end: LocalDateTimeOut
    reason: str | None


class TimeOffCreated(TimeOffOut):
    warnings: list[str] = Field(
        default=[], description="scheduled class sessions that fall into this time off"
    )


# Customers


class CustomerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    email: EmailStr | None = None
    phone: Phone | None = None


class CustomerUpdate(PatchModel):
    nullable_fields = frozenset({"email", "phone"})

    name: Name | None = None
    email: EmailStr | None = None
    phone: Phone | None = None


class CustomerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    email: str | None
    phone: str | None
