"""The front desk's one read: a whole day of an outlet in a single request."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from slotbook.auth.dependencies import AnyUser, ClockDep
from slotbook.desk import service
from slotbook.desk.schemas import DeskDay
from slotbook.errors import AUTHED, InvalidInput, responses
from slotbook.storage import SessionDep

router = APIRouter(tags=["desk"])


@router.get(
    "/desk/day",
    response_model=DeskDay,
    responses=responses(*AUTHED, InvalidInput),
    summary="An outlet's day for the front desk: staff columns, blocks and rosters",
    description="For the outlet's local `date`: one column per active staff member (and any "
    "former member with bookings that day) with that day's working hours, time off, and "
    "blocks: class sessions with taken spots (party sizes), capacity, roster and waitlist "
    "(the customers waiting for a place, by position, until the session starts), and "
    "one-to-one appointments. Cancelled and no-show bookings are in the rosters but not in "
    "`taken`. Each roster entry says what its status allows (cancel, no-show, move, "
    "complete, change the party size). "
    "An unknown or another business's `outlet_id`, or a date outside 1900-9998, is 422 "
    "naming the field.",
)
async def desk_day(
    principal: AnyUser,
    session: SessionDep,
    clock: ClockDep,
    outlet_id: Annotated[str, Query(min_length=1, max_length=64)],
    day: Annotated[date, Query(alias="date", description="local date at the outlet")],
) -> DeskDay:
    return await service.day_view(session, principal.tenant_id, outlet_id, day, clock.now())
