from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from slotbook.catalog.models import (
    ClassSchedule,
    ClassSession,
    Customer,
    CustomerView,
    Outlet,
    OutletView,
    Service,
    ServiceView,
    Staff,
    StaffService,
    StaffView,
    TimeOff,
)
from slotbook.repository import TenantRepository, ViewRepository, view_columns, well_formed_id
from slotbook.scheduling.rules import SCHEDULED
from slotbook.storage import TENANT_ID, Query

# Statements every booking runs, built once (see ``repository.prepared_query``).
_STAFF_COLUMNS = view_columns(Staff, StaffView)
_STAFF_WITH_OFFERED = Query(
    sa.select(*_STAFF_COLUMNS, StaffService.service_id)
    .outerjoin(
        StaffService,
        sa.and_(
            StaffService.tenant_id == TENANT_ID,
            StaffService.staff_id == Staff.id,
            StaffService.service_id.in_(sa.bindparam("service_ids", expanding=True)),
        ),
    )
    .where(Staff.tenant_id == TENANT_ID, Staff.id.in_(sa.bindparam("staff_ids", expanding=True)))
)
_OFFERING = (
    sa.select(*_STAFF_COLUMNS)
    .join(
        StaffService,
        sa.and_(StaffService.tenant_id == TENANT_ID, StaffService.staff_id == Staff.id),
    )
    .where(
        Staff.tenant_id == TENANT_ID,
        StaffService.service_id == sa.bindparam("service_id"),
        Staff.outlet_id == sa.bindparam("outlet_id"),
        Staff.active.is_(True),
    )
    .order_by(Staff.name, Staff.id)
)
_STAFF_OFFERING = Query(_OFFERING)
_ONE_STAFF_OFFERING = Query(_OFFERING.where(Staff.id == sa.bindparam("staff_id")))
_TIME_OFF_OVERLAPPING = Query(
    sa.select(TimeOff.staff_id, TimeOff.start, TimeOff.end)
    .where(
        TimeOff.tenant_id == TENANT_ID,
        TimeOff.staff_id.in_(sa.bindparam("staff_ids", expanding=True)),
        TimeOff.start < sa.bindparam("end"),
        TimeOff.end > sa.bindparam("start"),
    )
    .order_by(TimeOff.start)
)


class OutletRepository(ViewRepository[Outlet, OutletView]):
    model = Outlet
    view = OutletView
    label = "Outlet"

    def listing(self) -> sa.Select[Outlet]:
        return self.base_query().order_by(Outlet.name, Outlet.id)


class ServiceRepository(ViewRepository[Service, ServiceView]):
    model = Service
    view = ServiceView
    label = "Service"

    def listing(self) -> sa.Select[Service]:
        return self.base_query().order_by(Service.name, Service.id)

    async def slugs_like(self, base: str) -> set[str]:
        stmt = self.base_query().where(sa.or_(Service.slug == base, Service.slug.like(f"{base}-%")))
        return {service.slug for service in (await self.execute(stmt)).scalars()}

    async def slug_taken(self, slug: str, *, other_than: str | None = None) -> bool:
        stmt = self.base_query().where(Service.slug == slug)
        if other_than is not None:
            stmt = stmt.where(Service.id != other_than)
        return (await self.execute(stmt.limit(1))).first() is not None

    async def offered_at(self, outlet_id: str) -> list[Service]:
        """Active services that at least one active staff member of the outlet offers,
        by name."""
        offered = (
            sa.select(StaffService.service_id)
            .join(Staff, Staff.id == StaffService.staff_id)
            .where(StaffService.tenant_id == self.tenant_id)
            .where(
                Staff.tenant_id == self.tenant_id,
                Staff.outlet_id == outlet_id,
                Staff.active.is_(True),
            )
        )
        stmt = (
            self.base_query()
            .where(Service.active.is_(True), Service.id.in_(offered))
            .order_by(Service.name, Service.id)
        )
        return list((await self.execute(stmt)).scalars())


class StaffRepository(ViewRepository[Staff, StaffView]):
    model = Staff
    view = StaffView
    label = "Staff member"

    def listing(self, outlet_id: str | None) -> sa.Select[Staff]:
        stmt = self.base_query().order_by(Staff.name, Staff.id)
        if outlet_id is not None:
            stmt = stmt.where(Staff.outlet_id == outlet_id)
        return stmt

    async def service_ids_by_staff(self, staff_ids: Sequence[str]) -> dict[str, list[str]]:
        """The services each staff member offers, for many staff in one query."""
        offered: dict[str, list[str]] = defaultdict(list)
        if not staff_ids:
            return offered
        stmt = (
            sa.select(StaffService.staff_id, StaffService.service_id)
            .where(StaffService.tenant_id == self.tenant_id)
            .where(StaffService.staff_id.in_(set(staff_ids)))
            .order_by(StaffService.service_id)
        )
        rows: Sequence[Any] = (await self.execute(stmt)).all()
        for staff_id, service_id in rows:
            offered[staff_id].append(service_id)
        return offered

    async def with_offered(
        self, staff_ids: Sequence[str], service_ids: Sequence[str]
    ) -> tuple[dict[str, StaffView], dict[str, list[str]]]:
        """Staff by id as views, and which of ``service_ids`` each offers, in one query."""
        staff: dict[str, StaffView] = {}
        offered: dict[str, list[str]] = defaultdict(list)
        params = {
            "staff_ids": sorted({i for i in staff_ids if well_formed_id(i)}),
            "service_ids": sorted(set(service_ids)),
        }
        if not params["staff_ids"]:
            return staff, offered
        for *columns, service_id in await self.fetch(_STAFF_WITH_OFFERED, params):
            view = StaffView(*columns)
            member = staff.setdefault(view.id, view)
            if service_id is not None:
                offered[member.id].append(service_id)
        return staff, offered

    async def replace_services(self, staff_id: str, service_ids: Sequence[str]) -> None:
        await self.execute(
            sa.delete(StaffService)
            .where(StaffService.tenant_id == self.tenant_id)
            .where(StaffService.staff_id == staff_id)
        )
        for service_id in dict.fromkeys(service_ids):
            self.session.add(
                StaffService(tenant_id=self.tenant_id, staff_id=staff_id, service_id=service_id)
            )

    async def offering(
        self, outlet_id: str, service_id: str, staff_id: str | None
    ) -> list[StaffView]:
        """Active staff of an outlet who offer a service, by name, as views: every grid
        reads them."""
        params = {"outlet_id": outlet_id, "service_id": service_id}
        query = _STAFF_OFFERING
        if staff_id is not None:
            if not well_formed_id(staff_id):
                return []
            params["staff_id"] = staff_id
            query = _ONE_STAFF_OFFERING
        return [StaffView(*row) for row in await self.fetch(query, params)]


class TimeOffRepository(TenantRepository[TimeOff]):
    model = TimeOff
    label = "Time off"

    def listing(self, staff_id: str) -> sa.Select[TimeOff]:
        return self.base_query().where(TimeOff.staff_id == staff_id).order_by(TimeOff.start)

    async def overlapping(
        self, staff_ids: Sequence[str], start: datetime, end: datetime
    ) -> Sequence[tuple[str, datetime, datetime]]:
        """(staff id, start, end) of these staff's time off overlapping local [start, end)."""
        if not staff_ids:
            return []
        params = {"staff_ids": sorted(set(staff_ids)), "start": start, "end": end}
        rows: Sequence[tuple[str, datetime, datetime]] = await self.fetch(
            _TIME_OFF_OVERLAPPING, params
        )
        return rows

    async def delete(self, time_off: TimeOff) -> None:
        await self.session.delete(time_off)


class CustomerRepository(ViewRepository[Customer, CustomerView]):
    model = Customer
    view = CustomerView
    label = "Customer"

    def listing(self, query: str | None) -> sa.Select[Customer]:
        stmt = self.base_query().order_by(Customer.name, Customer.id)
        if query:
            pattern = (
                "%"
                + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                + "%"
            )
            stmt = stmt.where(
                sa.or_(
                    sa.func.lower(Customer.name).like(pattern, escape="\\"),
                    sa.func.lower(Customer.email).like(pattern, escape="\\"),
                    sa.func.lower(Customer.phone).like(pattern, escape="\\"),
                )
            )
        return stmt

    async def lock_email(self, email: str) -> None:
        """Serialise find-or-create of one customer email until the transaction ends:
        without it two simultaneous first bookings with one email would create two
        customers, and a repeated Idempotency-Key would then look like another request."""
        name = f"customer-email:{self.tenant_id}:{email.lower()}"
        await self.storage.lock_name(self.session, name)

    async def find_by_email(self, email: str) -> Customer | None:
        stmt = self.base_query().where(sa.func.lower(Customer.email) == email.lower())
        return (await self.execute(stmt.order_by(Customer.id).limit(1))).scalar_one_or_none()


class ClassSessionRepository(TenantRepository[ClassSession]):
    """What the catalog asks of the timetable's sessions (the timetable feature owns
    the rest): whether any lie ahead, which fall into new time off, and capacities
    that follow their service's."""

    model = ClassSession
    label = "Class session"

    def _ahead(self, now: datetime) -> sa.Select[ClassSession]:
        return self.base_query().where(
            ClassSession.status == SCHEDULED, ClassSession.starts_at > now
        )

    async def any_ahead(self, service_id: str, now: datetime) -> bool:
        stmt = self._ahead(now).where(ClassSession.service_id == service_id).limit(1)
        return (await self.execute(stmt)).first() is not None

    async def during(
        self, staff_id: str, local_start: datetime, local_end: datetime, now: datetime
    ) -> list[tuple[ClassSession, str]]:
        """Scheduled sessions of a staff member that have not started and overlap a local
        wall-clock interval (time off), with their service's name."""
        stmt = (
            sa.select(ClassSession, Service.name)
            .join(Service, Service.id == ClassSession.service_id)
            .where(
                ClassSession.tenant_id == self.tenant_id,
                ClassSession.staff_id == staff_id,
                ClassSession.status == SCHEDULED,
                ClassSession.starts_at > now,
                ClassSession.session_date >= local_start.date() - timedelta(days=1),
                ClassSession.session_date <= local_end.date() + timedelta(days=1),
            )
            .order_by(ClassSession.starts_at)
        )
        found: list[tuple[ClassSession, str]] = []
        for row in await self.execute(stmt):
            values: tuple[Any, ...] = tuple(row)
            item, name = values
            begins = datetime.combine(item.session_date, item.start_time)
            ends = begins + (item.ends_at - item.starts_at)
            if begins < local_end and local_start < ends:
                found.append((item, name))
        return found

    async def follow_service_capacity(self, service_id: str, capacity: int, now: datetime) -> None:
        """Sessions ahead whose schedule sets no capacity take the service's new one."""
        own = sa.select(ClassSchedule.id).where(
            ClassSchedule.tenant_id == self.tenant_id, ClassSchedule.capacity.is_not(None)
        )
        await self.execute(
            sa.update(ClassSession)
            .where(
                ClassSession.tenant_id == self.tenant_id,
                ClassSession.service_id == service_id,
                ClassSession.starts_at > now,
                ClassSession.schedule_id.not_in(own),
            )
            .values(capacity=capacity)
        )
