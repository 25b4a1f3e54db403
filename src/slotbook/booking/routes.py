from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query
from fastapi.responses import JSONResponse

from slotbook.auth.dependencies import AnyUser, CallerFirstRoute, ClockDep
from slotbook.booking import service
from slotbook.booking.schemas import (
    AppointmentCreate,
    AppointmentFilters,
    AppointmentOut,
    CancelIn,
    HistoryItem,
    PartySizeIn,
    RescheduleIn,
    WaitlistEntryOut,
    WaitlistFilters,
    WaitlistJoin,
)
from slotbook.booking.service import Actor, BookingContext
from slotbook.errors import AUTHED, Conflict, InvalidInput, NotFound, ServiceBusy, responses
from slotbook.scheduling.rules import Status, WaitlistStatus
from slotbook.schemas import Id, Page, PageParams, page_params
from slotbook.storage import SessionDep

router = APIRouter(tags=["appointments"], route_class=CallerFirstRoute)
WRITE = responses(*AUTHED, NotFound, InvalidInput, Conflict, ServiceBusy)


async def booking_context(principal: AnyUser, clock: ClockDep) -> BookingContext:
    return BookingContext(principal.tenant_id, Actor("user", principal.user_id), clock.now())


Context = Annotated[BookingContext, Depends(booking_context)]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
]


@router.post("/appointments", status_code=201, response_model=AppointmentOut, responses=WRITE)
async def create_appointment(
    data: AppointmentCreate,
    ctx: Context,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> object:
    if idempotency_key is None:
        return await service.create_appointment(session, ctx, data)
    status, body = await service.create_idempotent(session, ctx, data, idempotency_key)
    return JSONResponse(body, status_code=status)


@router.get("/appointments", response_model=Page[AppointmentOut], responses=responses(*AUTHED))
async def list_appointments(
    ctx: Context,
    session: SessionDep,
    page: Annotated[PageParams, Depends(page_params)],
    outlet_id: Annotated[Id | None, Query()] = None,
    staff_id: Annotated[Id | None, Query()] = None,
    service_id: Annotated[Id | None, Query()] = None,
    customer_id: Annotated[Id | None, Query()] = None,
    start_date: date | None = None,
    end_date: date | None = None,
    status: Annotated[list[Status] | None, Query()] = None,
) -> Page[AppointmentOut]:
    filters = AppointmentFilters(
        outlet_id=outlet_id,
        staff_id=staff_id,
        service_id=service_id,
        customer_id=customer_id,
        start_date=start_date,
        end_date=end_date,
        status=status or [],
    )
    return await service.list_appointments(session, ctx, filters, page)


@router.get(
    "/appointments/{appointment_id}",
    response_model=AppointmentOut,
    responses=responses(*AUTHED, NotFound),
)
async def get_appointment(appointment_id: str, ctx: Context, session: SessionDep) -> AppointmentOut:
    return await service.get_appointment(session, ctx, appointment_id)


@router.get(
    "/appointments/{appointment_id}/history",
    response_model=Page[HistoryItem],
    responses=responses(*AUTHED, NotFound),
)
async def appointment_history(
    appointment_id: str, ctx: Context, session: SessionDep
) -> Page[HistoryItem]:
    return await service.history(session, ctx, appointment_id)


@router.put(
    "/appointments/{appointment_id}/reschedule", response_model=AppointmentOut, responses=WRITE
)
async def reschedule(
    appointment_id: str, data: RescheduleIn, ctx: Context, session: SessionDep
) -> AppointmentOut:
    return await service.reschedule(session, ctx, appointment_id, data)


@router.put("/appointments/{appointment_id}/cancel", response_model=AppointmentOut, responses=WRITE)
async def cancel(
    appointment_id: str,
    ctx: Context,
    session: SessionDep,
    data: Annotated[CancelIn | None, Body()] = None,
) -> AppointmentOut:
    reason = data.reason if data else None
    return await service.transition(session, ctx, appointment_id, Status.CANCELLED, reason)


@router.put(
    "/appointments/{appointment_id}/no-show", response_model=AppointmentOut, responses=WRITE
)
async def no_show(appointment_id: str, ctx: Context, session: SessionDep) -> AppointmentOut:
    return await service.transition(session, ctx, appointment_id, Status.NO_SHOW)


@router.put(
    "/appointments/{appointment_id}/confirm", response_model=AppointmentOut, responses=WRITE
)
async def confirm(appointment_id: str, ctx: Context, session: SessionDep) -> AppointmentOut:
    return await service.transition(session, ctx, appointment_id, Status.CONFIRMED)


@router.put(
    "/appointments/{appointment_id}/complete", response_model=AppointmentOut, responses=WRITE
)
async def complete(appointment_id: str, ctx: Context, session: SessionDep) -> AppointmentOut:
    return await service.transition(session, ctx, appointment_id, Status.COMPLETED)


@router.put(
    "/appointments/{appointment_id}/party-size", response_model=AppointmentOut, responses=WRITE
)
async def change_party_size(
    appointment_id: str, data: PartySizeIn, ctx: Context, session: SessionDep
) -> AppointmentOut:
    return await service.change_party_size(session, ctx, appointment_id, data)


# The waitlist

waitlist_router = APIRouter(tags=["waitlist"], route_class=CallerFirstRoute)


@waitlist_router.post(
    "/waitlist", status_code=201, response_model=WaitlistEntryOut, responses=WRITE
)
async def join_waitlist(data: WaitlistJoin, ctx: Context, session: SessionDep) -> WaitlistEntryOut:
    return await service.join_waitlist(session, ctx, data)


@waitlist_router.get(
    "/waitlist", response_model=Page[WaitlistEntryOut], responses=responses(*AUTHED)
)
async def list_waitlist(
    ctx: Context,
    session: SessionDep,
    page: Annotated[PageParams, Depends(page_params)],
    outlet_id: Annotated[Id | None, Query()] = None,
    service_id: Annotated[Id | None, Query()] = None,
    staff_id: Annotated[Id | None, Query()] = None,
    customer_id: Annotated[Id | None, Query()] = None,
    date: Annotated[date | None, Query()] = None,
    status: Annotated[list[WaitlistStatus] | None, Query()] = None,
) -> Page[WaitlistEntryOut]:
    """Entries in promotion order: by session, then in the order they joined."""
    filters = WaitlistFilters(
        outlet_id=outlet_id,
        service_id=service_id,
        staff_id=staff_id,
        customer_id=customer_id,
        date=date,
        status=status or [],
    )
    return await service.list_entries(session, ctx, filters, page)


@waitlist_router.get(
    "/waitlist/{entry_id}", response_model=WaitlistEntryOut, responses=responses(*AUTHED, NotFound)
)
async def get_waitlist_entry(entry_id: str, ctx: Context, session: SessionDep) -> WaitlistEntryOut:
    return await service.get_entry(session, ctx, entry_id)


@waitlist_router.put(
    "/waitlist/{entry_id}/cancel", response_model=WaitlistEntryOut, responses=WRITE
)
async def cancel_waitlist_entry(
    entry_id: str, ctx: Context, session: SessionDep
) -> WaitlistEntryOut:
    return await service.cancel_entry(session, ctx, entry_id)
