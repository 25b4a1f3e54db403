"""Outlet time zones and wall-clock times, and a service's capacity policy."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Protocol
from zoneinfo import ZoneInfo

from slotbook.errors import InvalidInput
from slotbook.scheduling import rules


class HasTimezone(Protocol):
    @property
    def timezone(self) -> str: ...


class HasCapacityPolicy(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def allow_parallel_bookings(self) -> bool: ...
    @property
    def max_parallel_bookings(self) -> int: ...
    @property
    def timetable(self) -> bool: ...


def zone_of(outlet: HasTimezone) -> ZoneInfo:
    return ZoneInfo(outlet.timezone)


def policy_of(service: HasCapacityPolicy) -> rules.ServicePolicy:
    return rules.ServicePolicy(
        service.id,
        service.allow_parallel_bookings,
        service.max_parallel_bookings,
        service.timetable,
    )


def start_instant(day: date, at: time, zone: ZoneInfo, field: str) -> datetime:
    """The instant of a requested local start; 422 naming ``field`` when it does not exist."""
    instant = rules.local_instant(day, at, zone)
    if instant is None:
        raise InvalidInput(
            f"{field}: {day} {at:%H:%M} does not exist in {zone.key} (clocks change that day)",
            field=field,
        )
    return instant


def local_clock(instant: datetime, zone: ZoneInfo) -> tuple[date, time]:
    """The outlet's wall-clock date and time of an instant."""
    local = instant.astimezone(zone)
    return local.date(), local.time().replace(tzinfo=None)
