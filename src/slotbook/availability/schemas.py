"""The grid's wire shape, as the API contract's "Availability grid" section pins it.

``AvailabilitySlot`` documents the shape (OpenAPI, tests). The endpoint writes the same
JSON from pre-rendered pieces instead: a month's grid holds some 13,000 slots, and
joining text is several times cheaper than building and serialising that many objects
(which also keeps the garbage collector out of the request). Every string goes through
``json.dumps``, so names are escaped as any JSON encoder would escape them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from functools import cache

from pydantic import BaseModel, Field

from slotbook.schemas import TimeOfDay

MAX_GRID_DAYS = 31


class AvailabilitySlot(BaseModel):
    """One start a customer may be offered, with the session's live capacity."""

    start_time: TimeOfDay
    end_time: TimeOfDay = Field(description="Local end; the duration is elapsed minutes")
    staff_id: str
    staff_name: str
    is_available: bool = Field(description="Booking this slot now would succeed")
    allows_parallel_bookings: bool
    available_capacity: int | None = Field(
        description="Spots left in the session (0 when the staff member is busy otherwise); "
        "null for single-booking services"
    )
    max_capacity: int | None = Field(description="null for single-booking services")


AvailabilityGrid = dict[date, list[AvailabilitySlot]]


def slot_opening_json(start_text: str, end_text: str) -> str:
    """An ``AvailabilitySlot`` up to its staff fields: ``{"start_time":…,"end_time":…,``."""
    return f'{{"start_time":{json.dumps(start_text)},"end_time":{json.dumps(end_text)},'


def staff_json(staff_id: str, staff_name: str) -> str:
    return f'"staff_id":{json.dumps(staff_id)},"staff_name":{json.dumps(staff_name)},'


@cache  # a grid has few distinct verdicts, and thousands of slots share them
def slot_closing_json(
    is_available: bool,
    allows_parallel_bookings: bool,
    available_capacity: int | None,
    max_capacity: int | None,
) -> str:
    """The rest of an ``AvailabilitySlot`` after its staff fields, closing brace included.

    A slot is ``slot_opening_json + staff_json + slot_closing_json``, fields in the
    documented order."""
    return (
        f'"is_available":{json.dumps(is_available)},'
        f'"allows_parallel_bookings":{json.dumps(allows_parallel_bookings)},'
        f'"available_capacity":{json.dumps(available_capacity)},'
        f'"max_capacity":{json.dumps(max_capacity)}}}'
    )


def grid_json(days: Iterable[tuple[date, Iterable[str]]]) -> str:
    """``{"YYYY-MM-DD": [slot, ...], ...}`` from each day's rendered slots."""
    return "{" + ",".join(f'"{day.isoformat()}":[{",".join(slots)}]' for day, slots in days) + "}"
