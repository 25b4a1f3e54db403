"""Calendar feeds and what they show, read in a fixed handful of queries.

A feed is found by its token's hash (the one lookup across tenants: the URL names no
tenant), then read for that tenant only: its subject, then one query of its events, then
(for a staff feed) the outlets those events are at. Sessions are counted in the database,
one row per session, however many bookings they hold; a customer's feed is one row per
service line of their appointments. No query per event, booking or customer.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.auth.models import Tenant
from slotbook.booking.models import Appointment, AppointmentEvent, AppointmentLine
from slotbook.catalog.models import Outlet, Service, Staff
from slotbook.feeds.models import CalendarFeed
from slotbook.repository import TenantRepository, well_formed_id
from slotbook.scheduling.rules import ACTIVE_STATUSES, Status
from slotbook.storage import TENANT_ID, Query, storage_of

_ACTIVE = sorted(status.value for status in ACTIVE_STATUSES)
_HOLDS_PLACE = AppointmentLine.status.in_(_ACTIVE)

# When an appointment last changed: its newest history entry (every change writes one),
# so a feed's DTSTAMP, and with it the body and its ETag, only moves when data does.
_LAST_CHANGE = sa.func.coalesce(
    sa.select(sa.func.max(AppointmentEvent.at))
    .where(
        AppointmentEvent.tenant_id == TENANT_ID,
        AppointmentEvent.appointment_id == Appointment.id,
    )
    .correlate(Appointment)
    .scalar_subquery(),
    Appointment.created_at,
)
_REVISIONS = (
    sa.select(sa.func.count())
    .where(
        AppointmentEvent.tenant_id == TENANT_ID,
        AppointmentEvent.appointment_id == Appointment.id,
    )
    .correlate(Appointment)
    .scalar_subquery()
)


def _lines_in_window(*where: sa.ColumnElement[bool]) -> sa.Subquery:
    """Service lines starting in [start, end), one row each, with what a session row sums."""
    return (
        sa.select(
            AppointmentLine.staff_id.label("staff_id"),
            AppointmentLine.service_id.label("service_id"),
            AppointmentLine.starts_at.label("starts_at"),
            AppointmentLine.ends_at.label("ends_at"),
            Appointment.outlet_id.label("outlet_id"),
            sa.case((_HOLDS_PLACE, 1), else_=0).label("taken"),
            sa.case((AppointmentLine.status == Status.CANCELLED.value, 1), else_=0).label(
                "cancelled"
            ),
            # The end of the bookings that hold a place (a cancelled line of an older
            # duration must not stretch the session).
            sa.case((_HOLDS_PLACE, AppointmentLine.ends_at)).label("taken_end"),
            _LAST_CHANGE.label("changed"),
        )
        .join(Appointment, Appointment.id == AppointmentLine.appointment_id)
        .where(
            AppointmentLine.tenant_id == TENANT_ID,
            Appointment.tenant_id == TENANT_ID,
            AppointmentLine.starts_at >= sa.bindparam("start"),
            AppointmentLine.starts_at < sa.bindparam("end"),
            *where,
        )
        .subquery()
    )


def _session_end(lines: sa.Subquery) -> sa.ColumnElement[Any]:
    return sa.func.coalesce(sa.func.max(lines.c.taken_end), sa.func.max(lines.c.ends_at))


# A staff member's sessions: (service, start) identifies one, as the feed's UID does.
_STAFF_LINES = _lines_in_window(AppointmentLine.staff_id == sa.bindparam("staff_id"))
_STAFF_SESSIONS = Query(
    sa.select(
        _STAFF_LINES.c.service_id,
        Service.name,
        Service.allow_parallel_bookings,
        Service.max_parallel_bookings,
        _STAFF_LINES.c.starts_at,
        _session_end(_STAFF_LINES),
        sa.func.max(_STAFF_LINES.c.outlet_id),
        sa.func.sum(_STAFF_LINES.c.taken),
        sa.func.sum(_STAFF_LINES.c.cancelled),
        sa.func.count(),
        sa.func.max(_STAFF_LINES.c.changed),
    )
    .join(Service, sa.and_(Service.id == _STAFF_LINES.c.service_id, Service.tenant_id == TENANT_ID))
    .group_by(
        _STAFF_LINES.c.service_id,
        Service.name,
        Service.allow_parallel_bookings,
        Service.max_parallel_bookings,
        _STAFF_LINES.c.starts_at,
    )
    .order_by(_STAFF_LINES.c.starts_at, _STAFF_LINES.c.service_id)
)

# An outlet's class sessions that hold at least one booking: counts only, no customer.
_OUTLET_LINES = _lines_in_window(Appointment.outlet_id == sa.bindparam("outlet_id"))
_OUTLET_TAKEN = sa.func.sum(_OUTLET_LINES.c.taken)
_OUTLET_SESSIONS = Query(
    sa.select(
        _OUTLET_LINES.c.staff_id,
        Staff.name,
        _OUTLET_LINES.c.service_id,
        Service.name,
        Service.allow_parallel_bookings,
        Service.max_parallel_bookings,
        _OUTLET_LINES.c.starts_at,
        _session_end(_OUTLET_LINES),
        _OUTLET_TAKEN,
        sa.func.max(_OUTLET_LINES.c.changed),
    )
    .join(
        Service, sa.and_(Service.id == _OUTLET_LINES.c.service_id, Service.tenant_id == TENANT_ID)
    )
    .join(Staff, sa.and_(Staff.id == _OUTLET_LINES.c.staff_id, Staff.tenant_id == TENANT_ID))
    .where(Service.allow_parallel_bookings.is_(True))
    .group_by(
        _OUTLET_LINES.c.staff_id,
        Staff.name,
        _OUTLET_LINES.c.service_id,
        Service.name,
        Service.allow_parallel_bookings,
        Service.max_parallel_bookings,
        _OUTLET_LINES.c.starts_at,
    )
    .having(_OUTLET_TAKEN > 0)
    .order_by(_OUTLET_LINES.c.starts_at, Staff.name, _OUTLET_LINES.c.staff_id)
)

# A customer's appointments starting in the window, one row per service line.
_CUSTOMER_LINES = Query(
    sa.select(
        Appointment.id,
        Appointment.status,
        Appointment.starts_at,
        Appointment.ends_at,
        _LAST_CHANGE,
        _REVISIONS,
        Outlet.name,
        Outlet.timezone,
        Outlet.address,
        Service.name,
        Staff.name,
        AppointmentLine.starts_at,
        AppointmentLine.ends_at,
    )
    .join(AppointmentLine, AppointmentLine.appointment_id == Appointment.id)
    .join(Outlet, Outlet.id == Appointment.outlet_id)
    .join(Service, Service.id == AppointmentLine.service_id)
    .join(Staff, Staff.id == AppointmentLine.staff_id)
    .where(
        Appointment.tenant_id == TENANT_ID,
        AppointmentLine.tenant_id == TENANT_ID,
        Outlet.tenant_id == TENANT_ID,
        Service.tenant_id == TENANT_ID,
        Staff.tenant_id == TENANT_ID,
        Appointment.customer_id == sa.bindparam("customer_id"),
        Appointment.starts_at >= sa.bindparam("start"),
        Appointment.starts_at < sa.bindparam("end"),
    )
    .order_by(Appointment.starts_at, Appointment.id, AppointmentLine.position)
)

_OUTLETS = Query(
    sa.select(Outlet.id, Outlet.name, Outlet.timezone, Outlet.address).where(
        Outlet.tenant_id == TENANT_ID,
        Outlet.id.in_(sa.bindparam("outlet_ids", expanding=True)),
    )
)

# The one lookup across tenants: a live feed by its token's hash, with its business.
_LIVE_FEED = Query(
    sa.select(
        CalendarFeed.id,
        CalendarFeed.tenant_id,
        CalendarFeed.kind,
        CalendarFeed.subject_id,
        Tenant.name,
    )
    .join(Tenant, Tenant.id == CalendarFeed.tenant_id)
    .where(
        CalendarFeed.token_hash == sa.bindparam("token_hash"),
        CalendarFeed.revoked_at.is_(None),
    )
)


@dataclass(frozen=True, slots=True)
class LiveFeed:
    id: str
    tenant_id: str
    kind: str
    subject_id: str
    business_name: str


@dataclass(frozen=True, slots=True)
class FeedOutlet:
    id: str
    name: str
    timezone: str
    address: str | None


@dataclass(frozen=True, slots=True)
class StaffSession:
    """One session of a staff member (one service, one start), counted."""

    service_id: str
    service_name: str
    allow_parallel_bookings: bool
    max_parallel_bookings: int
    starts_at: datetime
    ends_at: datetime
    outlet_id: str
    taken: int
    cancelled: int
    bookings: int
    changed: datetime


@dataclass(frozen=True, slots=True)
class OutletSession:
    """One class session at an outlet with its taken spots: no customer in it."""

    staff_id: str
    staff_name: str
    service_id: str
    service_name: str
    allow_parallel_bookings: bool
    max_parallel_bookings: int
    starts_at: datetime
    ends_at: datetime
    taken: int
    changed: datetime


@dataclass(frozen=True, slots=True)
class CustomerLine:
    """One service line of a customer's appointment, with the appointment's details."""

    appointment_id: str
    status: str
    appointment_starts_at: datetime
    appointment_ends_at: datetime
    changed: datetime
    revisions: int
    outlet_name: str
    timezone: str
    address: str | None
    service_name: str
    staff_name: str
    starts_at: datetime
    ends_at: datetime


async def live_feed(session: AsyncSession, token_hash: str) -> LiveFeed | None:
    """The feed a token opens, unless it is unknown or revoked."""
    rows = await storage_of(session).fetch(session, _LIVE_FEED, {"token_hash": token_hash})
    return LiveFeed(*rows[0]) if rows else None


class CalendarFeedRepository(TenantRepository[CalendarFeed]):
    model = CalendarFeed
    label = "Calendar feed"

    def listing(self, kinds: Collection[str], subject_id: str | None) -> sa.Select[CalendarFeed]:
        """Live feeds of these kinds, oldest first."""
        stmt = (
            self.base_query()
            .where(CalendarFeed.revoked_at.is_(None), CalendarFeed.kind.in_(sorted(kinds)))
            .order_by(CalendarFeed.created_at, CalendarFeed.id)
        )
        if subject_id is not None:
            stmt = stmt.where(CalendarFeed.subject_id == subject_id)
        return stmt

    async def staff_sessions(
        self, staff_id: str, start: datetime, end: datetime
    ) -> list[StaffSession]:
        rows = await self.fetch(_STAFF_SESSIONS, {"staff_id": staff_id, "start": start, "end": end})
        return [
            StaffSession(
                service_id,
                name,
                bool(parallel),
                int(capacity),
                starts_at,
                ends_at,
                outlet_id,
                int(taken),
                int(cancelled),
                int(bookings),
                changed,
            )
            for (
                service_id,
                name,
                parallel,
                capacity,
                starts_at,
                ends_at,
                outlet_id,
                taken,
                cancelled,
                bookings,
                changed,
            ) in rows
        ]

    async def outlet_sessions(
        self, outlet_id: str, start: datetime, end: datetime
    ) -> list[OutletSession]:
        rows = await self.fetch(
            _OUTLET_SESSIONS, {"outlet_id": outlet_id, "start": start, "end": end}
        )
        return [
            OutletSession(
                staff_id,
                staff_name,
                service_id,
                service_name,
                bool(parallel),
                int(capacity),
                starts_at,
                ends_at,
                int(taken),
                changed,
            )
            for (
                staff_id,
                staff_name,
                service_id,
                service_name,
                parallel,
                capacity,
                starts_at,
                ends_at,
                taken,
                changed,
            ) in rows
        ]

    async def customer_lines(
        self, customer_id: str, start: datetime, end: datetime
    ) -> list[CustomerLine]:
        rows = await self.fetch(
            _CUSTOMER_LINES, {"customer_id": customer_id, "start": start, "end": end}
        )
        return [CustomerLine(*row) for row in rows]

    async def outlets(self, outlet_ids: Collection[str]) -> dict[str, FeedOutlet]:
        ids = sorted({outlet_id for outlet_id in outlet_ids if well_formed_id(outlet_id)})
        if not ids:
            return {}
        rows = await self.fetch(_OUTLETS, {"outlet_ids": ids})
        return {row[0]: FeedOutlet(*row) for row in rows}
