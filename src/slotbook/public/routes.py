"""Public booking endpoints for customers (no login), under /api/v1/public.

Every call here is counted against the caller's address first (shared by all worker
processes, see ``service.check_rate_limit``), before the request's own transaction opens.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse

from slotbook.auth.dependencies import ClockDep
from slotbook.booking.service import BookingContext
from slotbook.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    ServiceBusy,
    TooManyRequests,
    responses,
)
from slotbook.links import LinkedBooking, LinkedEntry, read_token, read_waitlist_token
from slotbook.public import service
from slotbook.public.schemas import (
    BookingIn,
    BookingOut,
    OutletPage,
    PartySizeChange,
    SeriesIn,
    SeriesOut,
    SlotsOut,
    WaitlistIn,
    WaitlistOut,
)
from slotbook.storage import SessionDep


async def rate_limited(request: Request, clock: ClockDep) -> None:
    settings = request.app.state.settings
    client = request.client.host if request.client else "unknown"
    await service.check_rate_limit(
        request.app.state.database, client, clock.now(), settings.public_rate_limit_per_minute
    )


router = APIRouter(tags=["public"], dependencies=[Depends(rate_limited)])
PUBLIC = responses(TooManyRequests, ServiceBusy)
Slug = Annotated[str, Path(min_length=1, max_length=80)]
PathId = Annotated[str, Path(min_length=1, max_length=64)]
Token = Annotated[str, Path(min_length=1, max_length=200)]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=150)
]


async def front(tenant_slug: Slug, outlet_id: PathId, session: SessionDep) -> service.Storefront:
    return await service.storefront(session, tenant_slug, outlet_id)


Front = Annotated[service.Storefront, Depends(front)]


async def public_context(clock: ClockDep, store: Front) -> BookingContext:
    return service.public_context(store.tenant.id, clock.now())


async def linked(request: Request, token: Token) -> LinkedBooking:
    return read_token(request.app.state.secret_key, token)


Linked = Annotated[LinkedBooking, Depends(linked)]


async def linked_entry(request: Request, token: Token) -> LinkedEntry:
    return read_waitlist_token(request.app.state.secret_key, token)


LinkedWaitlist = Annotated[LinkedEntry, Depends(linked_entry)]


@router.get(
    "/{tenant_slug}/outlets/{outlet_id}",
    response_model=OutletPage,
    responses=responses(NotFound, TooManyRequests),
    summary="An outlet's booking page: the business, the outlet and its services",
)
async def outlet_page(store: Front, session: SessionDep) -> OutletPage:
    return await service.outlet_page(session, store)


@router.get(
    "/{tenant_slug}/outlets/{outlet_id}/slots",
    response_model=SlotsOut,
    responses=responses(NotFound, InvalidInput, TooManyRequests),
    summary="Upcoming slots of a service, labelled for display",
    description="For an open service, the starts inside working hours; for a timetable "
    "class (`booking_mode` timetable on the outlet page), exactly its scheduled sessions, "
    "each with its instructor and its own spots left (the page shows them as a week of "
    "classes).",
)
async def slots(
    store: Front,
    session: SessionDep,
    clock: ClockDep,
    service_id: Annotated[str, Query(min_length=1, max_length=64)],
    start_date: date | None = None,
    days: Annotated[int, Query(ge=1, le=service.MAX_DAYS)] = 7,
) -> SlotsOut:
    return await service.slots(session, store, service_id, start_date, days, clock.now())


@router.post(
    "/{tenant_slug}/outlets/{outlet_id}/bookings",
    status_code=201,
    response_model=BookingOut,
    responses=responses(NotFound, InvalidInput, Conflict, TooManyRequests, ServiceBusy),
    summary="Book a slot as a customer (found by email, or created)",
    description="At a start the slots listing offers (any other start is 422 naming "
    "`start_time`). A timetable class books only at its scheduled sessions, exactly as a "
    "slot: any other time or instructor is 409 `not_scheduled`.",
)
async def book(
    request: Request,
    data: BookingIn,
    store: Front,
    ctx: Annotated[BookingContext, Depends(public_context)],
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    status, body = await service.book(
        session,
        ctx,
        store,
        data,
        idempotency_key=idempotency_key,
        secret=request.app.state.secret_key,
        mail_to_files=not request.app.state.settings.smtp_host,
    )
    return JSONResponse(body, status_code=status)


@router.post(
    "/{tenant_slug}/outlets/{outlet_id}/series-bookings",
    status_code=201,
    response_model=SeriesOut,
    responses=responses(NotFound, InvalidInput, Conflict, TooManyRequests, ServiceBusy),
    summary="Book a weekly class from one of its sessions on (customer found by email, or created)",
    description="The session named by `staff_id`, `date` and `start_time` and the next "
    "ones of its timetable: `count` of them, or all remaining. `mode: all_or_nothing` "
    "books every one or none (409 `series_unavailable` with each session's `result`); "
    "`available` books each that has room and, with `waitlist`, waits in line for full "
    "ones. Each booked place and waiting entry has its private `manage_path`.",
)
async def book_series(
    request: Request,
    data: SeriesIn,
    store: Front,
    ctx: Annotated[BookingContext, Depends(public_context)],
    session: SessionDep,
) -> SeriesOut:
    return await service.book_series(session, ctx, store, data, secret=request.app.state.secret_key)


@router.get(
    "/bookings/{token}",
    response_model=BookingOut,
    responses=responses(NotFound, TooManyRequests),
    summary="A customer's own booking, by its private link",
)
async def my_booking(
    request: Request, link: Linked, session: SessionDep, clock: ClockDep
) -> BookingOut:
    mail_to_files = not request.app.state.settings.smtp_host
    return await service.booking_view(session, link, clock.now(), mail_to_files=mail_to_files)


@router.put(
    "/bookings/{token}/cancel",
    response_model=BookingOut,
    responses=responses(NotFound, Conflict, TooManyRequests, ServiceBusy),
    summary="Cancel a booking by its private link (repeating it changes nothing)",
)
async def cancel_my_booking(
    request: Request, link: Linked, session: SessionDep, clock: ClockDep
) -> BookingOut:
    ctx = service.public_context(link.tenant_id, clock.now())
    return await service.cancel(session, ctx, link)


@router.put(
    "/bookings/{token}/party-size",
    response_model=BookingOut,
    responses=responses(NotFound, InvalidInput, Conflict, TooManyRequests, ServiceBusy),
    summary="Make the party of a booking smaller by its private link",
    description="Only a smaller party (or the same, which changes nothing) is accepted "
    "here; a larger one is 422 naming `party_size` (the business's staff can add people). "
    "The spots freed go to the session's waitlist first.",
)
async def change_my_party_size(
    request: Request,
    data: PartySizeChange,
    link: Linked,
    session: SessionDep,
    clock: ClockDep,
) -> BookingOut:
    ctx = service.public_context(link.tenant_id, clock.now())
    mail_to_files = not request.app.state.settings.smtp_host
    return await service.reduce_party(session, ctx, link, data, mail_to_files=mail_to_files)


@router.post(
    "/{tenant_slug}/outlets/{outlet_id}/waitlist",
    status_code=201,
    response_model=WaitlistOut,
    responses=responses(NotFound, InvalidInput, Conflict, TooManyRequests, ServiceBusy),
    summary="Join the waitlist of a full class session (customer found by email, or created)",
    description="For a service with a waitlist, at a start the slots listing offers. The "
    "answer has the place in line and the entry's private link. 409 codes: "
    "`spots_available` (the party fits now: book instead), `already_waiting`, "
    "`already_booked`, `waitlist_full`, `staff_unavailable`, `staff_busy`.",
)
async def join_waitlist(
    request: Request,
    data: WaitlistIn,
    store: Front,
    ctx: Annotated[BookingContext, Depends(public_context)],
    session: SessionDep,
) -> WaitlistOut:
    return await service.join_waitlist(
        session, ctx, store, data, secret=request.app.state.secret_key
    )


@router.get(
    "/waitlist/{token}",
    response_model=WaitlistOut,
    responses=responses(NotFound, TooManyRequests),
    summary="A customer's own waitlist entry, by its private link",
    description="With the place in line while waiting; once a freed spot made it a "
    "booking (`promoted`), that booking's private link as `booking_path`.",
)
async def my_waitlist_entry(
    request: Request, link: LinkedWaitlist, session: SessionDep, clock: ClockDep
) -> WaitlistOut:
    ctx = service.public_context(link.tenant_id, clock.now())
    return await service.waitlist_view(session, ctx, link, secret=request.app.state.secret_key)


@router.put(
    "/waitlist/{token}/cancel",
    response_model=WaitlistOut,
    responses=responses(NotFound, Conflict, TooManyRequests, ServiceBusy),
    summary="Leave the waitlist by the entry's private link (repeating it changes nothing)",
    description="A promoted entry (a booking now: cancel that instead) or an expired one "
    "is 409 `invalid_transition`.",
)
async def leave_waitlist(
    request: Request, link: LinkedWaitlist, session: SessionDep, clock: ClockDep
) -> WaitlistOut:
    ctx = service.public_context(link.tenant_id, clock.now())
    return await service.leave_waitlist(session, ctx, link, secret=request.app.state.secret_key)
