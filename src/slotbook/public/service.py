"""Booking without an account: the same booking service and rules as the staff API.

A customer is found by email within the tenant (or created), and the appointment is
made by ``booking.service`` with the customer as its actor, so every lock, rule and log
line of a staff booking applies, and the history says the customer booked online. The
customer gets a private link: an HMAC of the tenant and appointment ids under the server's secret.

A full session of a class with a waitlist takes customers in line the same way
(``booking.service.join_waitlist``); their entry has a private link of its own
(``links.waitlist_token``), which shows their place and, once a freed spot made them a
booking, that booking's link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.auth import service as auth
from slotbook.auth.models import Tenant
from slotbook.availability import service as availability
from slotbook.availability.schemas import Grid, GridSlot
from slotbook.booking import service as booking
from slotbook.booking.schemas import (
    AppointmentCreate,
    PartySizeIn,
    ServiceLineIn,
    WaitlistEntryOut,
    WaitlistJoin,
)
from slotbook.booking.service.errors import NotScheduled
from slotbook.booking.service.queries import appointment_lines, find_appointment
from slotbook.catalog import service as catalog
from slotbook.catalog.models import Outlet, Service
from slotbook.catalog.schemas import CustomerCreate
from slotbook.errors import Conflict, DomainError, InvalidInput, NotFound, TooManyRequests
from slotbook.links import (
    LinkedBooking,
    LinkedEntry,
    booking_token,
    manage_path,
    read_token,
    waitlist_path,
    waitlist_token,
)
from slotbook.money import format_price
from slotbook.notifications.service.email_log import email_log
from slotbook.public import repository
from slotbook.public.schemas import (
    BookedService,
    BookingIn,
    BookingOut,
    OutletPage,
    PartySizeChange,
    PublicDay,
    PublicOutlet,
    PublicPrice,
    PublicService,
    PublicSlot,
    SeriesIn,
    SeriesItemOut,
    SeriesOut,
    SlotsOut,
    WaitlistIn,
    WaitlistOut,
)
from slotbook.scheduling import rules
from slotbook.scheduling.local import local_clock, start_instant, zone_of
from slotbook.storage import Database
from slotbook.timetable import service as timetable
from slotbook.timetable.schemas import SeriesBooking

CUSTOMER = booking.Actor("customer")
MAX_DAYS = 14
HORIZON_DAYS = 366
RATE_WINDOW_SECONDS = 60
PUBLIC_ERROR_FIELDS = ("detail", "code", "field")


# The rate limit


async def check_rate_limit(database: Database, client: str, now: datetime, limit: int) -> None:
    """Count this request for the client address; 429 over ``limit`` per minute.

    The count lives in the database, so all worker processes share it. It is written in a
    short transaction of its own, committed before the request's work starts, so refused
    or failing requests count too.
    """
    seconds = int(now.timestamp())
    window = seconds - seconds % RATE_WINDOW_SECONDS
    async with database.transaction(write=True) as session:
        hits = await repository.count_request(session, client[:80], window)
        if hits == 1:  # the client's first request this window: drop stale windows
            await repository.forget_windows_before(session, window - RATE_WINDOW_SECONDS)
    if hits > limit:
        raise TooManyRequests(retry_after_seconds=max(1, window + RATE_WINDOW_SECONDS - seconds))


# What the page shows


@dataclass(frozen=True)
class Storefront:
    tenant: Tenant
    outlet: Outlet


async def storefront(session: AsyncSession, tenant_slug: str, outlet_id: str) -> Storefront:
    """The tenant and outlet of a public URL; unknown and foreign ones are the same 404."""
    tenant = await auth.tenant_by_slug(session, tenant_slug)
    outlet = await catalog.find_outlet(session, tenant.id, outlet_id) if tenant else None
    if tenant is None or outlet is None:
        raise NotFound("Booking page not found")
    return Storefront(tenant, outlet)


def public_service(service: Service) -> PublicService:
    price = None
    if service.base_price is not None and service.currency:
        price = PublicPrice(
            amount=service.base_price,
            currency=service.currency,
            label=format_price(service.base_price, service.currency),
        )
    return PublicService(
        id=service.id,
        name=service.name,
        category=service.category,
        description=service.description,
        duration=service.duration,
        price=price,
        is_class=service.allow_parallel_bookings,
        capacity=service.max_parallel_bookings if service.allow_parallel_bookings else None,
        has_waitlist=service.allow_parallel_bookings and service.waitlist_enabled,
        booking_mode="timetable" if service.timetable else "open",
    )


async def outlet_page(session: AsyncSession, front: Storefront) -> OutletPage:
    services = await catalog.bookable_services(session, front.tenant.id, front.outlet.id)
    return OutletPage(
        business_name=front.tenant.name,
        outlet=PublicOutlet(
            id=front.outlet.id,
            name=front.outlet.name,
            address=front.outlet.address,
            timezone=front.outlet.timezone,
        ),
        services=[public_service(service) for service in services],
    )


def slot_label(slot: GridSlot, waitlist_limit: int | None = None) -> PublicSlot:
    """The brief's display: "Available", "7/10 spots left", "... - Almost Full!", "Full".

    A full session of a class with a waitlist (the grid's ``waitlist_length`` is null for
    any other) is open to join while fewer than ``waitlist_limit`` customers wait.
    """
    verdict = slot.verdict
    capacity, left = verdict.max_capacity, verdict.available_capacity
    waiting = verdict.waitlist_length
    waitlist_open = (
        waiting is not None
        and left == 0
        and not verdict.is_available
        and (waitlist_limit is None or waiting < waitlist_limit)
    )
    almost_full = False
    if not verdict.allows_parallel_bookings or capacity is None or left is None:
        label = "Available" if verdict.is_available else "Booked"
        left = capacity = None
    elif left <= 0:
        label = "Full"
    elif not verdict.is_available:
        label = "Unavailable"
    else:
        almost_full = rules.almost_full(capacity - left, capacity)
        label = f"{left}/{capacity} spots left" + (" - Almost Full!" if almost_full else "")
    return PublicSlot(
        start_time=slot.times.start_time,
        end_time=slot.times.end_time,
        staff_id=slot.staff.staff_id,
        staff_name=slot.staff.staff_name,
        bookable=verdict.is_available,
        spots_left=left,
        capacity=capacity,
        almost_full=almost_full,
        label=label,
        waitlist_length=waiting,
        waitlist_open=waitlist_open,
    )


async def _grid(
    session: AsyncSession,
    front: Storefront,
    service: Service,
    first: date,
    last: date,
    now: datetime,
) -> Grid:
    """The availability grid's slots, as the staff endpoint computes them."""
    return await availability.availability_grid(
        session,
        front.tenant.id,
        outlet_id=front.outlet.id,
        service_id=service.id,
        start_date=first,
        end_date=last,
        staff_id=None,
        now=now,
    )


async def _bookable_service(session: AsyncSession, front: Storefront, service_id: str) -> Service:
    service = await catalog.find_service(session, front.tenant.id, service_id)
    if service is None or not service.active:
        raise InvalidInput("service_id: unknown or inactive service", field="service_id")
    return service


def local_today(outlet: Outlet, now: datetime) -> date:
    return now.astimezone(zone_of(outlet)).date()


def _within_horizon(outlet: Outlet, now: datetime, day: date, field: str) -> None:
    if day > local_today(outlet, now) + timedelta(days=HORIZON_DAYS):
        raise InvalidInput(
            f"{field}: online booking opens at most {HORIZON_DAYS} days ahead", field=field
        )


async def slots(
    session: AsyncSession,
    front: Storefront,
    service_id: str,
    start_date: date | None,
    days: int,
    now: datetime,
) -> SlotsOut:
    """Upcoming slots of a service at the outlet; slots that already started are left out."""
    service = await _bookable_service(session, front, service_id)
    zone = zone_of(front.outlet)
    first = max(start_date or local_today(front.outlet, now), local_today(front.outlet, now))
    _within_horizon(front.outlet, now, first, "start_date")
    last = first + timedelta(days=days - 1)
    grid = await _grid(session, front, service, first, last, now)
    out_days = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        shown = []
        for slot in grid.get(day, ()):
            starts_at = rules.local_instant(day, slot.times.start_time, zone)
            if starts_at is not None and starts_at > now:
                shown.append(slot_label(slot, service.waitlist_limit))
        out_days.append(PublicDay(date=day, slots=shown))
    return SlotsOut(
        timezone=front.outlet.timezone,
        service_id=service.id,
        start_date=first,
        end_date=last,
        days=out_days,
    )


# Booking


def public_context(tenant_id: str, now: datetime) -> booking.BookingContext:
    """The customer acting through the page, under the same rules and locks as staff."""
    return booking.BookingContext(tenant_id, CUSTOMER, now)


async def _offered_start(
    session: AsyncSession,
    front: Storefront,
    service: Service,
    data: BookingIn | WaitlistIn,
    now: datetime,
) -> None:
    """Customers book the starts the page offers, not any minute staff could enter.

    A timetable class offers exactly its scheduled sessions: any other time (or another
    instructor's) is the booking engine's own refusal, 409 ``not_scheduled``."""
    _within_horizon(front.outlet, now, data.date, "date")
    staff = await catalog.find_staff(session, front.tenant.id, data.staff_id)
    if staff is None or staff.outlet_id != front.outlet.id:
        raise InvalidInput("staff_id: unknown staff member", field="staff_id")
    grid = await _grid(session, front, service, data.date, data.date, now)
    if not any(
        slot.staff.staff_id == staff.id and slot.times.start_time == data.start_time
        for slot in grid.get(data.date, ())
    ):
        if service.timetable:
            raise NotScheduled()
        raise InvalidInput(
            "start_time: not a start offered for this service and staff member",
            field="start_time",
        )


async def _customer_id(
    session: AsyncSession, ctx: booking.BookingContext, data: BookingIn | WaitlistIn | SeriesIn
) -> str:
    """The tenant's customer with this email, else a new one. An existing customer's
    details are never changed from the public page."""
    customer = await catalog.find_or_create_customer(
        session,
        ctx.tenant_id,
        CustomerCreate(name=data.name, email=data.email, phone=data.phone),
        ctx.now,
    )
    return customer.id


def _public_error(body: dict[str, Any]) -> dict[str, Any]:
    """An error as the public sees it: no counts of other people's bookings."""
    return {name: body[name] for name in PUBLIC_ERROR_FIELDS if name in body}


async def book(
    session: AsyncSession,
    ctx: booking.BookingContext,
    front: Storefront,
    data: BookingIn,
    *,
    idempotency_key: str | None,
    secret: str,
    mail_to_files: bool = False,
) -> tuple[int, dict[str, Any]]:
    """Book one service; answers (status, body) so a repeated key gets the first answer."""
    service = await _bookable_service(session, front, data.service_id)
    await _offered_start(session, front, service, data, ctx.now)
    customer_id = await _customer_id(session, ctx, data)
    notes = f"Booked online by {data.name}" + (f", phone {data.phone}" if data.phone else "")
    request = AppointmentCreate(
        outlet_id=front.outlet.id,
        customer_id=customer_id,
        appointment_date=data.date,
        start_time=data.start_time,
        services=[ServiceLineIn(service_id=service.id, staff_id=data.staff_id)],
        notes=notes,
        party_size=data.party_size,
    )
    if idempotency_key is not None:
        status, body = await booking.create_idempotent(
            session, ctx, request, f"public:{idempotency_key}"
        )
        if status != 201:
            return status, _public_error(body)
        appointment_id = str(body["id"])
    else:
        try:
            appointment_id = (await booking.create_appointment(session, ctx, request)).id
        except booking.BookingConflict as exc:
            raise Conflict(exc.detail, code=exc.code) from None
    token = booking_token(secret, front.tenant.id, appointment_id)
    view = await booking_view(
        session, read_token(secret, token), ctx.now, mail_to_files=mail_to_files
    )
    return 201, view.model_dump(mode="json")


async def book_series(
    session: AsyncSession,
    ctx: booking.BookingContext,
    front: Storefront,
    data: SeriesIn,
    *,
    secret: str,
) -> SeriesOut:
    """Book a timetable class from one of its sessions on (that session and the next
    ones of its schedule), as the staff API's series booking does; every booked place
    and waiting entry gets its private link."""
    service = await _bookable_service(session, front, data.service_id)
    if not service.timetable:
        raise InvalidInput(
            "service_id: only a class on the timetable is booked as a series", field="service_id"
        )
    starts_at = start_instant(data.date, data.start_time, zone_of(front.outlet), "start_time")
    found = await timetable.session_at(
        session, front.tenant.id, service.id, data.staff_id, starts_at
    )
    if found is None:
        raise NotScheduled()
    customer_id = await _customer_id(session, ctx, data)
    notes = f"Booked online by {data.name}" + (f", phone {data.phone}" if data.phone else "")
    request = SeriesBooking(
        customer_id=customer_id,
        count=data.count,
        from_date=found.session_date,
        party_size=data.party_size,
        mode=data.mode,
        waitlist=data.waitlist,
        notes=notes,
    )
    try:
        answer = await timetable.book_schedule(session, ctx, found.schedule_id, request)
    except timetable.SeriesUnavailable as exc:
        results = [
            {name: item[name] for name in ("date", "start_time", "result", "code")}
            for item in exc.extra.get("results", [])
        ]
        raise Conflict(exc.detail, code=exc.code, results=results) from None
    items = []
    for item in answer.results:
        path = None
        if item.appointment_id is not None:
            path = manage_path(booking_token(secret, front.tenant.id, item.appointment_id))
        elif item.waitlist_entry_id is not None:
            path = waitlist_path(waitlist_token(secret, front.tenant.id, item.waitlist_entry_id))
        items.append(
            SeriesItemOut(
                date=item.date,
                start_time=item.start_time,
                result=item.result,
                code=item.code,
                manage_path=path,
            )
        )
    return SeriesOut(
        booked=answer.booked, waitlisted=answer.waitlisted, refused=answer.refused, results=items
    )


# The customer's own booking


async def booking_view(
    session: AsyncSession, link: LinkedBooking, now: datetime, *, mail_to_files: bool = False
) -> BookingOut:
    """The booking a private link names, with the emails sent about it (``mail_to_files``:
    no mail server is configured, so they were written as files, as in the demo)."""
    appointment = await find_appointment(session, link.tenant_id, link.appointment_id)
    tenant = await auth.find_tenant(session, link.tenant_id)
    if appointment is None or tenant is None:
        raise NotFound("Booking not found")
    outlet = await catalog.find_outlet(session, link.tenant_id, appointment.outlet_id)
    if outlet is None:  # a foreign key keeps it; never expected
        raise NotFound("Booking not found")
    zone = zone_of(outlet)
    lines = await appointment_lines(session, link.tenant_id, appointment.id)
    changeable = appointment.status in rules.OPEN_STATUSES and not rules.has_started(
        appointment.starts_at, now
    )
    return BookingOut(
        status=appointment.status,
        business_name=tenant.name,
        outlet_name=outlet.name,
        outlet_address=outlet.address,
        timezone=outlet.timezone,
        date=appointment.appointment_date,
        start_time=appointment.start_time,
        end_time=appointment.end_time,
        services=[
            BookedService(
                service_name=line.service_name,
                staff_name=line.staff_name,
                start_time=local_clock(line.starts_at, zone)[1],
                end_time=local_clock(line.ends_at, zone)[1],
            )
            for line in lines
        ],
        party_size=appointment.party_size,
        cancelled_at=appointment.cancelled_at,
        can_cancel=appointment.status in rules.OPEN_STATUSES and appointment.starts_at > now,
        can_reduce_party=changeable and appointment.party_size > 1,
        manage_path=manage_path(link.token),
        emails=await email_log(
            session, link.tenant_id, [appointment.id], written_to_files=mail_to_files, mask=True
        ),
        mail_to_files=mail_to_files,
    )


class AlreadyStarted(Conflict):
    code = "already_started"
    default_detail = "This booking has already started; please contact the business"


async def cancel(
    session: AsyncSession, ctx: booking.BookingContext, link: LinkedBooking
) -> BookingOut:
    """Cancel through the private link; cancelling again changes nothing."""
    appointment = await find_appointment(session, link.tenant_id, link.appointment_id)
    if appointment is None:
        raise NotFound("Booking not found")
    if appointment.status in rules.OPEN_STATUSES and appointment.starts_at <= ctx.now:
        raise AlreadyStarted()
    try:
        await booking.transition(
            session, ctx, appointment.id, rules.Status.CANCELLED, "Cancelled by the customer online"
        )
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise NotFound("Booking not found") from None
        raise
    return await booking_view(session, link, ctx.now)


async def reduce_party(
    session: AsyncSession,
    ctx: booking.BookingContext,
    link: LinkedBooking,
    data: PartySizeChange,
    *,
    mail_to_files: bool = False,
) -> BookingOut:
    """Make the party smaller through the private link (the same size changes nothing).

    A larger party would take spots others may be waiting for: the customer asks the
    business, whose staff API allows both ways. The spots freed go to the waitlist first.
    """
    appointment = await find_appointment(session, link.tenant_id, link.appointment_id)
    if appointment is None:
        raise NotFound("Booking not found")
    if data.party_size > appointment.party_size:
        raise InvalidInput(
            f"party_size: online you can only make your party smaller (it is "
            f"{appointment.party_size} now); to bring more people, please contact the business",
            field="party_size",
        )
    if appointment.status in rules.OPEN_STATUSES and rules.has_started(
        appointment.starts_at, ctx.now
    ):
        raise AlreadyStarted()
    try:
        await booking.change_party_size(
            session, ctx, appointment.id, PartySizeIn(party_size=data.party_size)
        )
    except NotFound:
        raise NotFound("Booking not found") from None
    return await booking_view(session, link, ctx.now, mail_to_files=mail_to_files)


# The waitlist


async def join_waitlist(
    session: AsyncSession,
    ctx: booking.BookingContext,
    front: Storefront,
    data: WaitlistIn,
    *,
    secret: str,
) -> WaitlistOut:
    """Wait for a place in a full session of a class with a waitlist, as its customer
    (found by email, or created). The engine refuses a party that fits now
    (``spots_available``: book instead), a second entry (``already_waiting``), a customer
    who already holds a place (``already_booked``) and a full line (``waitlist_full``)."""
    service = await _bookable_service(session, front, data.service_id)
    await _offered_start(session, front, service, data, ctx.now)
    customer_id = await _customer_id(session, ctx, data)
    entry = await booking.join_waitlist(
        session,
        ctx,
        WaitlistJoin(
            outlet_id=front.outlet.id,
            customer_id=customer_id,
            service_id=service.id,
            staff_id=data.staff_id,
            date=data.date,
            start_time=data.start_time,
            party_size=data.party_size,
        ),
    )
    token = waitlist_token(secret, front.tenant.id, entry.id)
    return await _waitlist_out(session, front.tenant.id, token, entry, secret)


async def waitlist_view(
    session: AsyncSession, ctx: booking.BookingContext, link: LinkedEntry, *, secret: str
) -> WaitlistOut:
    """The entry a private link names, with its place in line (or its booking)."""
    try:
        entry = await booking.get_entry(session, ctx, link.entry_id)
    except NotFound:
        raise NotFound("Waitlist entry not found") from None
    return await _waitlist_out(session, link.tenant_id, link.token, entry, secret)


async def leave_waitlist(
    session: AsyncSession, ctx: booking.BookingContext, link: LinkedEntry, *, secret: str
) -> WaitlistOut:
    """Leave the line through the private link; leaving again changes nothing. A promoted
    entry is a booking now (cancel that instead) and an expired one is over: 409."""
    try:
        entry = await booking.cancel_entry(session, ctx, link.entry_id)
    except NotFound:
        raise NotFound("Waitlist entry not found") from None
    return await _waitlist_out(session, link.tenant_id, link.token, entry, secret)


async def _waitlist_out(
    session: AsyncSession, tenant_id: str, token: str, entry: WaitlistEntryOut, secret: str
) -> WaitlistOut:
    tenant = await auth.find_tenant(session, tenant_id)
    outlet = await catalog.find_outlet(session, tenant_id, entry.outlet_id)
    service = await catalog.find_service(session, tenant_id, entry.service_id)
    staff = await catalog.find_staff(session, tenant_id, entry.staff_id)
    if tenant is None or outlet is None or service is None or staff is None:
        raise NotFound("Waitlist entry not found")  # foreign keys keep them; never expected
    booking_path = None
    if entry.status is rules.WaitlistStatus.PROMOTED and entry.appointment_id is not None:
        booking_path = manage_path(booking_token(secret, tenant_id, entry.appointment_id))
    return WaitlistOut(
        status=entry.status,
        position=entry.position,
        party_size=entry.party_size,
        business_name=tenant.name,
        outlet_name=outlet.name,
        outlet_address=outlet.address,
        timezone=outlet.timezone,
        service_name=service.name,
        staff_name=staff.name,
        date=entry.date,
        start_time=entry.start_time,
        end_time=entry.end_time,
        joined_at=entry.created_at,
        can_leave=entry.status is rules.WaitlistStatus.WAITING,
        manage_token=token,
        manage_path=waitlist_path(token),
        booking_path=booking_path,
    )
