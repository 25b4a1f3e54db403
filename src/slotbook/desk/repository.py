"""Everything the day view reads, in four queries whatever the day holds.

The outlet; every line of the outlet's appointments starting that day with its
appointment, service and customer joined in; the staff (the outlet's active members and
whoever those lines name); their time off (``scheduling.schedules``). No query per
staff member, block or customer.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.booking.models import Appointment, AppointmentLine
from slotbook.catalog.models import Customer, OutletView, Service, Staff, StaffView
from slotbook.catalog.repository import OutletRepository
from slotbook.repository import view_columns
from slotbook.scheduling import rules
from slotbook.scheduling.schedules import load_schedules
from slotbook.storage import TENANT_ID, Query, storage_of

# Lines of one outlet's appointments starting in [start, end), whatever their status.
# No line crosses the outlet's midnight (``rules.within_schedule``), so a day's lines
# are exactly those starting in it.
_DAY_LINES = Query(
    sa.select(
        AppointmentLine.staff_id,
        AppointmentLine.service_id,
        Service.name,
        Service.allow_parallel_bookings,
        Service.max_parallel_bookings,
        AppointmentLine.starts_at,
        AppointmentLine.ends_at,
        AppointmentLine.status,
        Appointment.id,
        Appointment.starts_at,
        Appointment.notes,
        Customer.id,
        Customer.name,
        Customer.email,
        Customer.phone,
    )
    .join(Appointment, Appointment.id == AppointmentLine.appointment_id)
    .join(Service, Service.id == AppointmentLine.service_id)
    .join(Customer, Customer.id == Appointment.customer_id)
    .where(
        AppointmentLine.tenant_id == TENANT_ID,
        Appointment.tenant_id == TENANT_ID,
        Appointment.outlet_id == sa.bindparam("outlet_id"),
        AppointmentLine.starts_at >= sa.bindparam("start"),
        AppointmentLine.starts_at < sa.bindparam("end"),
    )
    .order_by(AppointmentLine.starts_at, AppointmentLine.staff_id, Appointment.id)
)
# The outlet's active staff, and anyone else its day's lines name (a former member, or
# one who moved to another outlet), so that no booking goes missing from the desk.
_DAY_STAFF = Query(
    sa.select(*view_columns(Staff, StaffView))
    .where(
        Staff.tenant_id == TENANT_ID,
        sa.or_(
            sa.and_(Staff.outlet_id == sa.bindparam("outlet_id"), Staff.active.is_(True)),
            Staff.id.in_(sa.bindparam("staff_ids", expanding=True)),
        ),
    )
    .order_by(Staff.name, Staff.id)
)


@dataclass(frozen=True, slots=True)
class LineService:
    """The service of a line, as ``scheduling.local.policy_of`` takes it."""

    id: str
    name: str
    allow_parallel_bookings: bool
    max_parallel_bookings: int


@dataclass(frozen=True, slots=True)
class DayLine:
    """One line of the day with its appointment's and customer's details."""

    staff_id: str
    service: LineService
    starts_at: datetime
    ends_at: datetime
    status: str
    appointment_id: str
    appointment_starts_at: datetime
    notes: str | None
    customer_id: str
    customer_name: str
    customer_email: str | None
    customer_phone: str | None


class DeskRepository:
    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def _fetch(self, query: Query, params: Mapping[str, Any]) -> Sequence[Any]:
        values = {**params, "tenant_id": self.tenant_id}
        return await storage_of(self.session).fetch(self.session, query, values)

    async def outlet(self, outlet_id: str) -> OutletView:
        """A query parameter, not a path id: unknown or another tenant's is 422 naming it."""
        outlets = OutletRepository(self.session, self.tenant_id)
        return await outlets.view_for_field(outlet_id, "outlet_id")

    async def lines(self, outlet_id: str, start: datetime, end: datetime) -> list[DayLine]:
        rows = await self._fetch(_DAY_LINES, {"outlet_id": outlet_id, "start": start, "end": end})
        return [
            DayLine(
                staff_id,
                LineService(service_id, service_name, parallel, max_parallel),
                starts_at,
                ends_at,
                status,
                appointment_id,
                appointment_starts_at,
                notes,
                customer_id,
                customer_name,
                email,
                phone,
            )
            for (
                staff_id,
                service_id,
                service_name,
                parallel,
                max_parallel,
                starts_at,
                ends_at,
                status,
                appointment_id,
                appointment_starts_at,
                notes,
                customer_id,
                customer_name,
                email,
                phone,
            ) in rows
        ]

    async def staff(self, outlet_id: str, also: Collection[str]) -> list[StaffView]:
        """The outlet's active staff and the members ``also`` names, by name."""
        rows = await self._fetch(_DAY_STAFF, {"outlet_id": outlet_id, "staff_ids": sorted(also)})
        return [StaffView(*row) for row in rows]

    async def schedules(
        self, staff: Sequence[StaffView], zone: ZoneInfo, start: datetime, end: datetime
    ) -> dict[str, rules.Schedule]:
        """Working hours and time off of these staff around [start, end), in one query."""
        return await load_schedules(self.session, self.tenant_id, staff, zone, start, end)
