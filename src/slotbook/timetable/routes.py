from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from slotbook.auth.dependencies import AnyUser, CallerFirstRoute, ClockDep, Manager
from slotbook.booking.service import Actor, BookingContext
from slotbook.errors import AUTHED, Conflict, InvalidInput, NotFound, ServiceBusy, responses
from slotbook.schemas import Id, Page, PageParams, page_params
from slotbook.storage import SessionDep
from slotbook.timetable import service
from slotbook.timetable.schemas import (
    ScheduleChange,
    ScheduleChangeOut,
    ScheduleCreate,
    ScheduleOut,
    SeriesBooking,
    SeriesOut,
    SessionCancel,
    SessionChangeOut,
    SessionEventOut,
    SessionFilters,
    SessionMove,
    SessionOut,
    SessionSubstitute,
)

router = APIRouter(tags=["timetable"], route_class=CallerFirstRoute)
READ = responses(*AUTHED, NotFound)
WRITE = responses(*AUTHED, NotFound, InvalidInput, Conflict, ServiceBusy)
Paging = Annotated[PageParams, Depends(page_params)]


async def user_context(principal: AnyUser, clock: ClockDep) -> BookingContext:
    return BookingContext(principal.tenant_id, Actor("user", principal.user_id), clock.now())


async def manager_context(principal: Manager, clock: ClockDep) -> BookingContext:
    return BookingContext(principal.tenant_id, Actor("user", principal.user_id), clock.now())


Context = Annotated[BookingContext, Depends(user_context)]
ManagerContext = Annotated[BookingContext, Depends(manager_context)]


@router.post("/class-schedules", status_code=201, response_model=ScheduleOut, responses=WRITE)
async def create_schedule(
    data: ScheduleCreate, ctx: ManagerContext, session: SessionDep
) -> ScheduleOut:
    return await service.create_schedule(session, ctx, data)


@router.get("/class-schedules", response_model=Page[ScheduleOut], responses=responses(*AUTHED))
async def list_schedules(
    ctx: Context,
    session: SessionDep,
    page: Paging,
    outlet_id: Annotated[Id | None, Query()] = None,
    service_id: Annotated[Id | None, Query()] = None,
    staff_id: Annotated[Id | None, Query()] = None,
) -> Page[ScheduleOut]:
    return await service.list_schedules(session, ctx, outlet_id, service_id, staff_id, page)


@router.get("/class-schedules/{schedule_id}", response_model=ScheduleOut, responses=READ)
async def get_schedule(schedule_id: str, ctx: Context, session: SessionDep) -> ScheduleOut:
    return await service.get_schedule(session, ctx, schedule_id)


@router.patch("/class-schedules/{schedule_id}", response_model=ScheduleChangeOut, responses=WRITE)
async def change_schedule(
    schedule_id: str, data: ScheduleChange, ctx: ManagerContext, session: SessionDep
) -> ScheduleChangeOut:
    return await service.change_schedule(session, ctx, schedule_id, data)


@router.post(
    "/class-schedules/{schedule_id}/bookings",
    status_code=201,
    response_model=SeriesOut,
    responses=WRITE,
)
async def book_schedule(
    schedule_id: str, data: SeriesBooking, ctx: Context, session: SessionDep
) -> SeriesOut:
    return await service.book_schedule(session, ctx, schedule_id, data)


@router.get("/class-sessions", response_model=Page[SessionOut], responses=responses(*AUTHED))
async def list_sessions(
    ctx: Context,
    session: SessionDep,
    page: Paging,
    outlet_id: Annotated[Id | None, Query()] = None,
    service_id: Annotated[Id | None, Query()] = None,
    staff_id: Annotated[Id | None, Query()] = None,
    schedule_id: Annotated[Id | None, Query()] = None,
    start_date: date | None = None,
    end_date: date | None = None,
    status: Literal["scheduled", "cancelled"] | None = None,
) -> Page[SessionOut]:
    filters = SessionFilters(
        outlet_id, service_id, staff_id, schedule_id, start_date, end_date, status
    )
    return await service.list_sessions(session, ctx, filters, page)


@router.get("/class-sessions/{session_id}", response_model=SessionOut, responses=READ)
async def get_session(session_id: str, ctx: Context, session: SessionDep) -> SessionOut:
    return await service.get_session(session, ctx, session_id)


@router.get(
    "/class-sessions/{session_id}/history",
    response_model=Page[SessionEventOut],
    responses=READ,
)
async def session_history(
    session_id: str, ctx: Context, session: SessionDep
) -> Page[SessionEventOut]:
    return await service.session_history(session, ctx, session_id)


@router.put("/class-sessions/{session_id}/cancel", response_model=SessionChangeOut, responses=WRITE)
async def cancel_session(
    session_id: str, ctx: Context, session: SessionDep, data: SessionCancel | None = None
) -> SessionChangeOut:
    return await service.cancel_session(session, ctx, session_id, data or SessionCancel())


@router.put("/class-sessions/{session_id}/move", response_model=SessionChangeOut, responses=WRITE)
async def move_session(
    session_id: str, data: SessionMove, ctx: Context, session: SessionDep
) -> SessionChangeOut:
    return await service.move_session(session, ctx, session_id, data)


@router.put(
    "/class-sessions/{session_id}/substitute", response_model=SessionChangeOut, responses=WRITE
)
async def substitute_session(
    session_id: str, data: SessionSubstitute, ctx: Context, session: SessionDep
) -> SessionChangeOut:
    return await service.substitute_session(session, ctx, session_id, data)
