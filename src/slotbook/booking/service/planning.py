"""From a request to planned lines: ids checked, staff able to serve, times laid out.

Everything here is read before any lock: catalog rows change rarely, and a change that
races a booking is no more wrong than one a moment earlier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.booking.models import AppointmentLine
from slotbook.booking.schemas import AppointmentCreate
from slotbook.catalog.models import OutletView, ServiceView, StaffView
from slotbook.catalog.repository import (
    CustomerRepository,
    OutletRepository,
    ServiceRepository,
    StaffRepository,
)
from slotbook.errors import InvalidInput
from slotbook.scheduling import rules
from slotbook.scheduling.local import policy_of, start_instant, zone_of


@dataclass(frozen=True)
class PlannedLine:
    position: int
    staff: StaffView
    service: ServiceView
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Plan:
    """Where an appointment's lines would lie, for whom, and how many spots each takes."""

    outlet: OutletView
    lines: Sequence[PlannedLine]
    customer_id: str
    party_size: int = 1

    @property
    def zone(self) -> ZoneInfo:
        return zone_of(self.outlet)

    @property
    def staff_ids(self) -> list[str]:
        return sorted({line.staff.id for line in self.lines})


async def plan_new(session: AsyncSession, tenant_id: str, data: AppointmentCreate) -> Plan:
    """The lines of a new appointment, back to back from its start."""
    outlet = await OutletRepository(session, tenant_id).view_for_field(data.outlet_id, "outlet_id")
    await CustomerRepository(session, tenant_id).view_for_field(data.customer_id, "customer_id")
    services = await ServiceRepository(session, tenant_id).views(
        [s.service_id for s in data.services]
    )
    staff, offered = await StaffRepository(session, tenant_id).with_offered(
        [s.staff_id for s in data.services], [s.service_id for s in data.services]
    )
    cursor = start_instant(data.appointment_date, data.start_time, zone_of(outlet), "start_time")
    if len(data.services) > 1 and any(s.timetable for s in services.values()):
        # A timetable session moves, changes teacher or is cancelled on its own; a
        # booking of it with other services would be torn apart by such a change.
        raise InvalidInput(
            "services: a class booked by timetable is booked on its own, not with other services",
            field="services",
        )
    planned: list[PlannedLine] = []
    for position, requested in enumerate(data.services):
        where = f"services[{position}]"
        service = services.get(requested.service_id)
        member = staff.get(requested.staff_id)
        if service is None or not service.active:
            raise InvalidInput(
                f"{where}.service_id: unknown or inactive service", field=f"{where}.service_id"
            )
        if member is None:
            raise InvalidInput(f"{where}.staff_id: unknown staff member", field=f"{where}.staff_id")
        check_staff_can_serve(member, service, outlet, offered.get(member.id, []), where)
        check_party_fits(service, data.party_size)
        end = cursor + timedelta(minutes=service.duration)
        planned.append(PlannedLine(position, member, service, cursor, end))
        cursor = end
    return Plan(outlet, planned, data.customer_id, data.party_size)


async def plan_move(
    session: AsyncSession,
    tenant_id: str,
    outlet: OutletView,
    rows: Sequence[AppointmentLine],
    start: datetime,
    customer_id: str,
    party_size: int,
) -> Plan:
    """An appointment's lines moved to a new start (the same start for a change of
    party): same order, staff and durations."""
    services = await ServiceRepository(session, tenant_id).views([r.service_id for r in rows])
    staff, offered = await StaffRepository(session, tenant_id).with_offered(
        [r.staff_id for r in rows], [r.service_id for r in rows]
    )
    cursor = start
    planned: list[PlannedLine] = []
    for row in rows:
        service, member = services[row.service_id], staff[row.staff_id]
        check_staff_can_serve(
            member, service, outlet, offered.get(member.id, []), f"services[{row.position}]"
        )
        end = cursor + (row.ends_at - row.starts_at)
        planned.append(PlannedLine(row.position, member, service, cursor, end))
        cursor = end
    return Plan(outlet, planned, customer_id, party_size)


def check_party_fits(service: ServiceView, party_size: int) -> None:
    """A party larger than a session can ever seat is invalid input, not a conflict."""
    if rules.party_fits_service(policy_of(service), party_size):
        return
    if not service.allow_parallel_bookings:
        detail = f"party_size: {service.name} is booked one customer at a time"
    else:
        detail = f"party_size: {service.name} seats at most {service.capacity}"
    raise InvalidInput(detail, field="party_size")


def check_staff_can_serve(
    member: StaffView, service: ServiceView, outlet: OutletView, offered: Sequence[str], where: str
) -> None:
    """Rule 2's 422s: the staff member works at the outlet, is active and offers the service.

    ``where`` names the line (``services[0]``); empty for a body with one top-level
    ``staff_id`` (a waitlist join)."""
    field = f"{where}.staff_id" if where else "staff_id"
    if member.outlet_id != outlet.id:
        raise InvalidInput(f"{field}: staff member does not work at this outlet", field=field)
    if not member.active:
        raise InvalidInput(f"{field}: staff member is not active", field=field)
    if service.id not in offered:
        raise InvalidInput(f"{field}: staff member does not offer this service", field=field)
