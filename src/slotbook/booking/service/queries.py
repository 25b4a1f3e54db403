"""Reading appointments back: one answer shape, their history, capacity warnings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.booking.models import Appointment
from slotbook.booking.repository import AppointmentRepository, LineView
from slotbook.booking.schemas import (
    AppointmentFilters,
    AppointmentOut,
    HistoryItem,
    ServiceLineOut,
)
from slotbook.booking.service.context import BookingContext
from slotbook.catalog.repository import OutletRepository
from slotbook.scheduling.local import local_clock, zone_of
from slotbook.scheduling.rules import Status
from slotbook.schemas import Page, PageParams


def when(appointment: Appointment) -> dict[str, str]:
    """An appointment's local date and times, as the history records them."""
    return {
        "date": appointment.appointment_date.isoformat(),
        "start_time": appointment.start_time.strftime("%H:%M:%S"),
        "end_time": appointment.end_time.strftime("%H:%M:%S"),
    }


def instants(appointment: Appointment) -> dict[str, str]:
    """The appointment's interval as UTC instants, for the outbox event (the history
    keeps the local times)."""
    return {
        "starts_at": appointment.starts_at.isoformat(),
        "ends_at": appointment.ends_at.isoformat(),
    }


def appointment_out(
    appointment: Appointment, lines: Sequence[LineView], zone: ZoneInfo
) -> AppointmentOut:
    return AppointmentOut(
        id=appointment.id,
        status=Status(appointment.status),
        outlet_id=appointment.outlet_id,
        customer_id=appointment.customer_id,
        appointment_date=appointment.appointment_date,
        start_time=appointment.start_time,
        end_time=appointment.end_time,
        services=[
            ServiceLineOut(
                service_id=line.service_id,
                service_name=line.service_name,
                staff_id=line.staff_id,
                staff_name=line.staff_name,
                start_time=local_clock(line.starts_at, zone)[1],
                end_time=local_clock(line.ends_at, zone)[1],
            )
            for line in lines
        ],
        notes=appointment.notes,
        party_size=appointment.party_size,
        created_at=appointment.created_at,
        cancelled_at=appointment.cancelled_at,
    )


async def render(
    session: AsyncSession, tenant_id: str, appointments: Sequence[Appointment]
) -> list[AppointmentOut]:
    """Appointments as answered, with their lines and names, in two queries."""
    repo = AppointmentRepository(session, tenant_id)
    lines = await repo.lines_of([a.id for a in appointments])
    outlets = await OutletRepository(session, tenant_id).views([a.outlet_id for a in appointments])
    return [
        appointment_out(a, lines.get(a.id, []), zone_of(outlets[a.outlet_id])) for a in appointments
    ]


async def get_appointment(
    session: AsyncSession, ctx: BookingContext, appointment_id: str
) -> AppointmentOut:
    appointment = await AppointmentRepository(session, ctx.tenant_id).get_or_404(appointment_id)
    return (await render(session, ctx.tenant_id, [appointment]))[0]


async def find_appointment(
    session: AsyncSession, tenant_id: str, appointment_id: str
) -> Appointment | None:
    """An appointment, or None: for readers that answer a miss their own way (the
    customer's private link)."""
    return await AppointmentRepository(session, tenant_id).get(appointment_id)


async def appointment_lines(
    session: AsyncSession, tenant_id: str, appointment_id: str
) -> list[LineView]:
    """An appointment's lines in order, with their service and staff names."""
    lines = await AppointmentRepository(session, tenant_id).lines_of([appointment_id])
    return lines.get(appointment_id, [])


async def list_appointments(
    session: AsyncSession, ctx: BookingContext, filters: AppointmentFilters, page: PageParams
) -> Page[AppointmentOut]:
    repo = AppointmentRepository(session, ctx.tenant_id)
    items, total = await repo.page(repo.listing(filters), limit=page.limit, offset=page.offset)
    return Page(items=await render(session, ctx.tenant_id, items), total=total)


async def history(
    session: AsyncSession, ctx: BookingContext, appointment_id: str
) -> Page[HistoryItem]:
    repo = AppointmentRepository(session, ctx.tenant_id)
    await repo.get_or_404(appointment_id)
    events = await repo.events_of(appointment_id)
    return Page(items=[HistoryItem.model_validate(e) for e in events], total=len(events))


async def capacity_warnings(
    session: AsyncSession, tenant_id: str, service_id: str, capacity: int, now: datetime
) -> list[str]:
    """Rule 8: future sessions of a service now holding more spots than its capacity."""
    repo = AppointmentRepository(session, tenant_id)
    warnings = []
    for found in await repo.overfull_sessions(service_id, capacity, now):
        local_start = found.starts_at.astimezone(ZoneInfo(found.timezone))
        warnings.append(
            f"Note: {found.bookings} bookings exist but capacity is now {found.capacity} "
            f"({local_start:%Y-%m-%d %H:%M} {found.staff_name})"
        )
    return warnings
