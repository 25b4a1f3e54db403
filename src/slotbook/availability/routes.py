"""The availability grid: bookable slots with live capacity, decided by the booking rules."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response

from slotbook.auth.dependencies import AnyUser, ClockDep
from slotbook.availability import service
from slotbook.availability.schemas import MAX_GRID_DAYS, AvailabilityGrid
from slotbook.errors import AUTHED, InvalidInput, responses
from slotbook.storage import SessionDep

router = APIRouter(tags=["availability"])
QueryId = Annotated[str, Query(min_length=1, max_length=64)]


@router.get(
    "/availability/availability-grid",
    response_model=AvailabilityGrid,
    responses=responses(*AUTHED, InvalidInput),
    summary="Slots with live capacity for a range of dates",
    description=f"A key for every date from start_date to end_date (at most {MAX_GRID_DAYS}); "
    "slots ordered by start time, then staff name.",
)
async def availability_grid(
    principal: AnyUser,
    session: SessionDep,
    clock: ClockDep,
    outlet_id: QueryId,
    service_id: QueryId,
    start_date: date,
    end_date: date,
    staff_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> Response:
    grid_json = await service.availability_grid_json(
        session,
        principal.tenant_id,
        outlet_id=outlet_id,
        service_id=service_id,
        start_date=start_date,
        end_date=end_date,
        staff_id=staff_id,
        now=clock.now(),
    )
    # Joined from the slots' pre-rendered parts, whose fields the response model is
    # generated from (see ``schemas``), and not validated again: for a month of slots
    # that would cost more than computing them. tests/test_grid_slot_contract.py checks
    # that the answer validates against the response model, field for field.
    return Response(grid_json, media_type="application/json")
