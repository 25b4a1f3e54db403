"""The grid's slot, defined once: the values the grid computes, the JSON the endpoint
writes and the OpenAPI schema all come from the three parts below.

A slot is when (``SlotTimes``), who (``SlotStaff``) and what booking it now would say
(``SlotVerdict``). Their fields, in this order, are the API contract's slot fields
("Availability grid"); ``GridSlot`` is one slot, the three parts.

Parts are shared: a month's grid holds some 13,000 slots, but only a few hundred distinct
times, its staff and a few dozen verdicts. So each part renders its JSON fragment once,
when it is made, from its own values, and the endpoint's answer is the fragments joined
(``grid_json``): joining text is several times cheaper than building and serialising
that many objects. For the same reason a day keeps its slots grouped by start
(``DaySlots``) rather than as 13,000 slot objects, which would also bring the garbage
collector into the request; iterating a day gives its ``GridSlot``s. Every string goes
through ``json.dumps``, so names are escaped as any JSON encoder would escape them.
``AvailabilitySlot``, the response model the OpenAPI schema documents, is generated from
the same fields.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import field
from datetime import date, time
from functools import cache, lru_cache
from types import GenericAlias
from typing import Any, NamedTuple, get_type_hints

from pydantic import BaseModel, Field, create_model

from slotbook.schemas import TimeOfDay

MAX_GRID_DAYS = 31


def _doc(description: str) -> dict[str, str]:
    """A contract field's metadata: its description in the OpenAPI schema."""
    return {"description": description}


# Each part's last field, ``json``, is not a contract field but the part's JSON fragment,
# rendered from the others when the part is made (``render_part``).


@dataclasses.dataclass(frozen=True, slots=True)
class SlotTimes:
    """When: a start's local wall-clock times, shared by every staff member offered it."""

    start_time: time
    end_time: time = field(metadata=_doc("Local end; the duration is elapsed minutes"))
    json: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "json", render_part(self))


@dataclasses.dataclass(frozen=True, slots=True)
class SlotStaff:
    """Who: the staff member offered the slot."""

    staff_id: str
    staff_name: str
    json: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "json", render_part(self))


@dataclasses.dataclass(frozen=True, slots=True)
class SlotVerdict:
    """What booking the slot now would say, with the session's live capacity."""

    is_available: bool = field(metadata=_doc("Booking this slot now would succeed"))
    allows_parallel_bookings: bool
    available_capacity: int | None = field(
        metadata=_doc(
            "Spots left in the session (0 when the staff member is busy otherwise); "
            "null for single-booking services"
        )
    )
    max_capacity: int | None = field(metadata=_doc("null for single-booking services"))
    waitlist_length: int | None = field(
        metadata=_doc(
            "Waiting entries of the session (0 when none); null when the service keeps no waitlist"
        )
    )
    json: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "json", render_part(self))


SlotPart = SlotTimes | SlotStaff | SlotVerdict
SLOT_PARTS: tuple[type[SlotPart], ...] = (SlotTimes, SlotStaff, SlotVerdict)


class GridSlot(NamedTuple):
    """One start a customer may be offered: when, who, and what booking would say."""

    times: SlotTimes
    staff: SlotStaff
    verdict: SlotVerdict

    def as_dict(self) -> dict[str, Any]:
        """The contract's fields of this slot, in order, as Python values."""
        parts: tuple[SlotPart, ...] = (self.times, self.staff, self.verdict)
        return {f.name: getattr(part, f.name) for part in parts for f in _fields(part)}


@dataclasses.dataclass(frozen=True, slots=True)
class StartSlots:
    """The slots of one start: its times, and its staff (in name order) with their
    verdicts, ``staff[i]`` judged ``verdicts[i]``."""

    times: SlotTimes
    staff: Sequence[SlotStaff]
    verdicts: Sequence[SlotVerdict]


@dataclasses.dataclass(frozen=True, slots=True)
class DaySlots:
    """One day of the grid: its slots, grouped by start, ordered by start time, then
    staff name. Iterating it gives each ``GridSlot`` in that order."""

    starts: Sequence[StartSlots] = ()

    def __iter__(self) -> Iterator[GridSlot]:
        for start in self.starts:
            for staff, verdict in zip(start.staff, start.verdicts, strict=True):
                yield GridSlot(start.times, staff, verdict)

    def __len__(self) -> int:
        return sum(len(start.staff) for start in self.starts)


Grid = dict[date, DaySlots]


@lru_cache(maxsize=4096)  # the same starts and ends come back day after day, grid after grid
def slot_times(start_time: time, end_time: time) -> SlotTimes:
    return SlotTimes(start_time, end_time)


@cache  # a grid has few distinct verdicts, and thousands of slots share them
def slot_verdict(
    is_available: bool,
    allows_parallel_bookings: bool,
    available_capacity: int | None,
    max_capacity: int | None,
    waitlist_length: int | None = None,
) -> SlotVerdict:
    return SlotVerdict(
        is_available, allows_parallel_bookings, available_capacity, max_capacity, waitlist_length
    )


# The wire format


def _fields(part: SlotPart | type[SlotPart]) -> tuple[dataclasses.Field[Any], ...]:
    """A part's contract fields, in order (its rendered ``json`` is not one)."""
    return tuple(f for f in dataclasses.fields(part) if f.init)


def _json_value(value: object) -> str:
    if isinstance(value, time):
        return json.dumps(value.strftime("%H:%M:%S"))  # as ``TimeOfDay`` serialises
    return json.dumps(value)


def render_part(part: SlotPart) -> str:
    """A part's fields as JSON members, in order, with the punctuation around them: the
    first part opens the slot's object and the last closes it, so a slot's JSON is its
    parts' fragments concatenated."""
    members = ",".join(
        f"{json.dumps(f.name)}:{_json_value(getattr(part, f.name))}" for f in _fields(part)
    )
    position = SLOT_PARTS.index(type(part))
    opening = "{" if position == 0 else ""
    closing = "}" if position == len(SLOT_PARTS) - 1 else ","
    return opening + members + closing


def day_json(day: DaySlots) -> str:
    """``[slot, ...]``: each ``GridSlot`` of the day as its parts' fragments joined."""
    slots = [
        start.times.json + who.json + says.json
        for start in day.starts
        for who, says in zip(start.staff, start.verdicts, strict=True)
    ]
    return "[" + ",".join(slots) + "]"


def grid_json(grid: Mapping[date, DaySlots]) -> str:
    """``{"YYYY-MM-DD": [slot, ...], ...}``, in the shape of ``AvailabilityGrid``."""
    days = ",".join(f'"{day.isoformat()}":{day_json(slots)}' for day, slots in grid.items())
    return "{" + days + "}"


# The OpenAPI schema


def _model_fields() -> Iterator[tuple[str, Any]]:
    for part in SLOT_PARTS:
        hints = get_type_hints(part)
        for f in _fields(part):
            annotation = TimeOfDay if hints[f.name] is time else hints[f.name]
            yield f.name, (annotation, Field(description=f.metadata.get("description")))


AvailabilitySlot: type[BaseModel] = create_model(
    "AvailabilitySlot",
    __doc__="One start a customer may be offered, with the session's live capacity.",
    __module__=__name__,
    **dict(_model_fields()),
)
# The endpoint's response model: a key for every date. Built at run time (the slot model
# is generated), so it is a value for FastAPI and pydantic, not an annotation.
AvailabilityGrid: Any = GenericAlias(dict, (date, GenericAlias(list, (AvailabilitySlot,))))
