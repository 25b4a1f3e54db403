from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from slotbook.booking.models import (
    Appointment,
    AppointmentEvent,
    AppointmentLine,
    IdempotencyRecord,
    WaitlistEntry,
)
from slotbook.booking.schemas import AppointmentFilters, WaitlistFilters
from slotbook.catalog.models import ClassSession, Outlet, Service, Staff
from slotbook.ids import new_id
from slotbook.outbox import INSERT_NOTICES, Notice, appointment_stream, notice_rows
from slotbook.repository import TenantRepository
from slotbook.scheduling.rules import (
    ACTIVE_STATUSES,
    LONGEST_LINE,
    OPEN_STATUSES,
    SCHEDULED,
    ActiveLine,
    WaitlistStatus,
)
from slotbook.storage import TENANT_ID, Query, epoch_seconds

T = TypeVar("T")
_ACTIVE = sorted(status.value for status in ACTIVE_STATUSES)


@dataclass(frozen=True)
class LineView:
    """A line with the names a response shows."""

    appointment_id: str
    position: int
    service_id: str
    service_name: str
    staff_id: str
    staff_name: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class SessionCount:
    staff_name: str
    timezone: str
    starts_at: datetime
    bookings: int
    capacity: int


@dataclass(frozen=True)
class Actor:
    """Who made a change: a user (``user_id``), the customer through the public page, or
    the system itself (a worker, a promotion)."""

    kind: str
    user_id: str | None = None


@dataclass(frozen=True)
class NewEvent:
    """A history entry to write: one per change, in the change's transaction."""

    appointment_id: str
    type: str
    at: datetime
    actor: Actor
    data: dict[str, Any]
    # What the outbox event carries beyond the history's ``data`` (e.g. the instants).
    extra: dict[str, Any] = field(default_factory=dict)


# The statements every booking runs, built once (see ``repository.prepared_query``).
# Active lines of some staff overlapping [start, end). The lower bound on ``starts_at``
# (no line is longer than a day) keeps the scan a range on
# idx_appointment_parallel_booking_capacity.
_ACTIVE_OVERLAPPING = (
    AppointmentLine.tenant_id == TENANT_ID,
    AppointmentLine.staff_id.in_(sa.bindparam("staff_ids", expanding=True)),
    AppointmentLine.starts_at > sa.bindparam("reach_back"),
    AppointmentLine.starts_at < sa.bindparam("end"),
    AppointmentLine.ends_at > sa.bindparam("start"),
    AppointmentLine.status.in_(_ACTIVE),
)
# The scheduled class sessions of some staff overlapping [start, end): each holds its
# instructor's time with no booking, so every decision reads them beside the lines.
_SESSIONS_OVERLAPPING = (
    ClassSession.tenant_id == TENANT_ID,
    ClassSession.staff_id.in_(sa.bindparam("staff_ids", expanding=True)),
    ClassSession.starts_at > sa.bindparam("reach_back"),
    ClassSession.starts_at < sa.bindparam("end"),
    ClassSession.ends_at > sa.bindparam("start"),
    ClassSession.status == SCHEDULED,
)
# Lines and sessions in one statement (a session is a line with no appointment, no spot
# and its capacity), so a booking pays no extra round trip for the timetable.
_ACTIVE_LINES = (
    sa.select(
        AppointmentLine.staff_id,
        AppointmentLine.appointment_id,
        AppointmentLine.service_id,
        AppointmentLine.starts_at,
        AppointmentLine.ends_at,
        AppointmentLine.party_size,
        AppointmentLine.customer_id,
        sa.null().label("capacity"),
    )
    .where(*_ACTIVE_OVERLAPPING)
    .union_all(
        sa.select(
            ClassSession.staff_id,
            sa.literal(""),
            ClassSession.service_id,
            ClassSession.starts_at,
            ClassSession.ends_at,
            sa.literal(0),
            sa.null(),
            ClassSession.capacity,
        ).where(*_SESSIONS_OVERLAPPING)
    )
    .order_by(sa.literal_column("starts_at"))
)
_ACTIVE_LINES_QUERY = Query(_ACTIVE_LINES)
_BOOKED_SESSIONS = Query(
    sa.select(
        AppointmentLine.staff_id,
        AppointmentLine.service_id,
        epoch_seconds(AppointmentLine.starts_at).label("starts_epoch"),
        epoch_seconds(AppointmentLine.ends_at),
        sa.func.sum(AppointmentLine.party_size).label("spots"),
        sa.null().label("capacity"),
    )
    .where(*_ACTIVE_OVERLAPPING)
    .group_by(
        AppointmentLine.staff_id,
        AppointmentLine.service_id,
        AppointmentLine.starts_at,
        AppointmentLine.ends_at,
    )
    .union_all(
        sa.select(
            ClassSession.staff_id,
            ClassSession.service_id,
            epoch_seconds(ClassSession.starts_at),
            epoch_seconds(ClassSession.ends_at),
            sa.literal(0),
            ClassSession.capacity,
        ).where(*_SESSIONS_OVERLAPPING)
    )
    .order_by(sa.literal_column("starts_epoch"))
)


_INSERT_APPOINTMENT = Query(sa.insert(Appointment))
_INSERT_LINE = Query(sa.insert(AppointmentLine))
_INSERT_EVENT = Query(sa.insert(AppointmentEvent))


def _row(item: Appointment | AppointmentLine) -> dict[str, Any]:
    return {column.key: getattr(item, column.key) for column in item.__table__.columns}


class AppointmentRepository(TenantRepository[Appointment]):
    model = Appointment
    label = "Appointment"

    async def locked(
        self,
        work: Callable[[], Awaitable[T]],
        *,
        staff_ids: Sequence[str] = (),
        appointment_ids: Sequence[str] = (),
    ) -> T:
        """Run ``work`` under the locks of the staff and appointments it decides on.

        Staff rows: every booking, reschedule or status change that takes or frees a place
        locks the staff members whose lines it decides on, so two decisions about one
        instructor's time queue instead of both counting the same free place. Appointment
        rows: a change to an appointment locks it, so a cancel and a reschedule of the same
        appointment cannot both act on what they read before. Taken once, in the storage's
        one sorted order (see ``Storage.run_locked``); a deadlock reruns ``work``.
        """
        targets: dict[Any, Sequence[str]] = {}
        if staff_ids:
            targets[Staff] = staff_ids
        if appointment_ids:
            targets[Appointment] = appointment_ids
        return await self.storage.run_locked(self.session, self.tenant_id, targets, work)

    def _window(self, staff_ids: Sequence[str], start: datetime, end: datetime) -> dict[str, Any]:
        """Values for ``_ACTIVE_OVERLAPPING``."""
        return {
            "staff_ids": sorted(set(staff_ids)),
            "reach_back": start - LONGEST_LINE,
            "start": start,
            "end": end,
        }

    def active_lines_query(
        self, staff_ids: Sequence[str], start: datetime, end: datetime
    ) -> sa.CompoundSelect[*tuple[Any, ...]]:
        """The statement ``active_lines`` runs, with these values bound (for EXPLAIN)."""
        values = {**self._window(staff_ids, start, end), "tenant_id": self.tenant_id}
        return _ACTIVE_LINES.params(values)

    async def booked_sessions(
        self, staff_ids: Sequence[str], start: datetime, end: datetime
    ) -> Sequence[Any]:
        """The same lines counted per session: (staff, service, start, end, spots taken,
        None), sorted by start, with start and end as ``epoch_seconds``; each scheduled
        class session is a row of its own, with no spots and its capacity last.

        A busy month holds far more lines than sessions; the grid reads these.
        """
        return await self.fetch(_BOOKED_SESSIONS, self._window(staff_ids, start, end))

    async def active_lines(
        self, staff_ids: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, list[ActiveLine]]:
        """Active lines per staff member, for many staff in one query."""
        by_staff: dict[str, list[ActiveLine]] = defaultdict(list)
        if not staff_ids:
            return by_staff
        rows = await self.fetch(_ACTIVE_LINES_QUERY, self._window(staff_ids, start, end))
        for staff_id, appointment_id, service_id, starts_at, ends_at, party, customer, cap in rows:
            by_staff[staff_id].append(
                ActiveLine(appointment_id, service_id, starts_at, ends_at, party, customer, cap)
            )
        return by_staff

    async def lines_of(self, appointment_ids: Sequence[str]) -> dict[str, list[LineView]]:
        """Lines with service and staff names for many appointments, in one query."""
        by_appointment: dict[str, list[LineView]] = defaultdict(list)
        if not appointment_ids:
            return by_appointment
        stmt = (
            sa.select(
                AppointmentLine.appointment_id,
                AppointmentLine.position,
                AppointmentLine.service_id,
                Service.name,
                AppointmentLine.staff_id,
                Staff.name,
                AppointmentLine.starts_at,
                AppointmentLine.ends_at,
            )
            .join(Service, Service.id == AppointmentLine.service_id)
            .join(Staff, Staff.id == AppointmentLine.staff_id)
            .where(AppointmentLine.tenant_id == self.tenant_id)
            .where(AppointmentLine.appointment_id.in_(set(appointment_ids)))
            .order_by(AppointmentLine.appointment_id, AppointmentLine.position)
        )
        for row in await self.execute(stmt):
            by_appointment[row[0]].append(LineView(*tuple(row)))
        return by_appointment

    async def line_rows(self, appointment_id: str) -> list[AppointmentLine]:
        stmt = (
            sa.select(AppointmentLine)
            .where(AppointmentLine.tenant_id == self.tenant_id)
            .where(AppointmentLine.appointment_id == appointment_id)
            .order_by(AppointmentLine.position)
        )
        return list((await self.execute(stmt)).scalars())

    async def bookings_of_sessions(
        self, sessions: Sequence[SessionKey]
    ) -> dict[SessionKey, list[tuple[Appointment, AppointmentLine]]]:
        """The open appointments holding a place in each of ``sessions``, oldest first,
        with their line: one query for any number of sessions of one service."""
        found: dict[SessionKey, list[tuple[Appointment, AppointmentLine]]] = defaultdict(list)
        if not sessions:
            return found
        wanted = set(sessions)
        stmt = (
            sa.select(Appointment, AppointmentLine)
            .join(AppointmentLine, AppointmentLine.appointment_id == Appointment.id)
            .where(
                Appointment.tenant_id == self.tenant_id,
                AppointmentLine.tenant_id == self.tenant_id,
                AppointmentLine.staff_id.in_(sorted({s.staff_id for s in sessions})),
                AppointmentLine.service_id.in_(sorted({s.service_id for s in sessions})),
                AppointmentLine.starts_at >= min(s.starts_at for s in sessions),
                AppointmentLine.starts_at <= max(s.starts_at for s in sessions),
                Appointment.status.in_(sorted(OPEN_STATUSES)),
            )
            .order_by(Appointment.created_at, Appointment.id)
        )
        for row in await self.execute(stmt):
            values: tuple[Any, ...] = tuple(row)
            appointment, line = values
            key = SessionKey(line.staff_id, line.service_id, line.starts_at, line.ends_at)
            if key in wanted:
                found[key].append((appointment, line))
        return found

    async def cancel_many(self, appointment_ids: Sequence[str], at: datetime, reason: str) -> None:
        """Cancel these appointments and their lines: two statements for any number (a
        cancelled class)."""
        if not appointment_ids:
            return
        ids = sorted(set(appointment_ids))
        cancelled = "cancelled"
        await self.execute(
            sa.update(Appointment)
            .where(Appointment.tenant_id == self.tenant_id, Appointment.id.in_(ids))
            .values(status=cancelled, cancelled_at=at, cancel_reason=reason)
        )
        await self.execute(
            sa.update(AppointmentLine)
            .where(
                AppointmentLine.tenant_id == self.tenant_id,
                AppointmentLine.appointment_id.in_(ids),
            )
            .values(status=cancelled)
        )

    async def set_line_status(self, appointment_id: str, status: str) -> None:
        await self.execute(
            sa.update(AppointmentLine)
            .where(AppointmentLine.tenant_id == self.tenant_id)
            .where(AppointmentLine.appointment_id == appointment_id)
            .values(status=status)
        )

    async def set_party_size(self, appointment_id: str, party_size: int) -> None:
        await self.execute(
            sa.update(AppointmentLine)
            .where(AppointmentLine.tenant_id == self.tenant_id)
            .where(AppointmentLine.appointment_id == appointment_id)
            .values(party_size=party_size)
        )

    def listing(self, filters: AppointmentFilters) -> sa.Select[Appointment]:
        stmt = self.base_query().order_by(Appointment.starts_at, Appointment.id)
        if filters.outlet_id:
            stmt = stmt.where(Appointment.outlet_id == filters.outlet_id)
        if filters.customer_id:
            stmt = stmt.where(Appointment.customer_id == filters.customer_id)
        if filters.start_date:
            stmt = stmt.where(Appointment.appointment_date >= filters.start_date)
        if filters.end_date:
            stmt = stmt.where(Appointment.appointment_date <= filters.end_date)
        if filters.status:
            stmt = stmt.where(Appointment.status.in_(filters.status))
        if filters.staff_id or filters.service_id:
            lines = sa.select(AppointmentLine.appointment_id).where(
                AppointmentLine.tenant_id == self.tenant_id
            )
            if filters.staff_id:
                lines = lines.where(AppointmentLine.staff_id == filters.staff_id)
            if filters.service_id:
                lines = lines.where(AppointmentLine.service_id == filters.service_id)
            stmt = stmt.where(Appointment.id.in_(lines))
        return stmt

    async def insert_new(
        self, appointments: Sequence[Appointment], lines: Sequence[AppointmentLine]
    ) -> None:
        """Write new appointments and their lines with two Core inserts.

        The objects stay outside the ORM session: the unit of work's flush costs a booking
        several times the CPU of these inserts, and nothing reads them back in the request.
        """
        for appointment in appointments:
            appointment.tenant_id = self.tenant_id
        for line in lines:
            line.tenant_id = self.tenant_id
        await self.storage.insert_rows(
            self.session, _INSERT_APPOINTMENT, [_row(a) for a in appointments]
        )
        await self.storage.insert_rows(self.session, _INSERT_LINE, [_row(line) for line in lines])

    async def record_events(
        self, events: Sequence[NewEvent], notices: Sequence[Notice] = ()
    ) -> None:
        """Write history entries: the one way every change to an appointment is recorded,
        in the transaction that makes it.

        Each entry is also an outbox event ("appointment.<type>", keyed by the entry's
        id) for the worker to deliver once the transaction commits, and ``notices`` are
        further events of the same change (e.g. "session.full"): one insert for the
        history, one for the outbox.
        """
        rows: list[dict[str, Any]] = []
        outbox: list[Notice] = []
        for event in events:
            event_id = new_id()
            rows.append(
                {
                    "id": event_id,
                    "tenant_id": self.tenant_id,
                    "appointment_id": event.appointment_id,
                    "type": event.type,
                    "at": event.at,
                    "user_id": event.actor.user_id,
                    "actor": event.actor.kind,
                    "data": event.data,
                }
            )
            payload = {
                "appointment_id": event.appointment_id,
                "actor": event.actor.kind,
                "user_id": event.actor.user_id,
                **event.data,
                **event.extra,
            }
            outbox.append(
                Notice(
                    event_id,
                    f"appointment.{event.type}",
                    appointment_stream(event.appointment_id),
                    event.at,
                    payload,
                )
            )
        await self.storage.insert_rows(self.session, _INSERT_EVENT, rows)
        outbox.extend(notices)
        await self.storage.insert_rows(
            self.session, INSERT_NOTICES, notice_rows(self.tenant_id, outbox)
        )

    async def events_of(self, appointment_id: str) -> list[AppointmentEvent]:
        stmt = (
            sa.select(AppointmentEvent)
            .where(AppointmentEvent.tenant_id == self.tenant_id)
            .where(AppointmentEvent.appointment_id == appointment_id)
            .order_by(AppointmentEvent.at, AppointmentEvent.id)
        )
        return list((await self.execute(stmt)).scalars())

    async def overfull_sessions(
        self, service_id: str, capacity: int, after: datetime
    ) -> list[SessionCount]:
        """Future sessions of a service holding more spots than ``capacity``, or than
        their own capacity for a timetable's class session."""
        bookings = sa.func.sum(AppointmentLine.party_size).label("bookings")
        session_capacity = sa.func.coalesce(sa.func.max(ClassSession.capacity), capacity)
        stmt = (
            sa.select(
                Staff.name, Outlet.timezone, AppointmentLine.starts_at, bookings, session_capacity
            )
            .join(Staff, Staff.id == AppointmentLine.staff_id)
            .join(Outlet, Outlet.id == Staff.outlet_id)
            .outerjoin(
                ClassSession,
                sa.and_(
                    ClassSession.tenant_id == AppointmentLine.tenant_id,
                    ClassSession.staff_id == AppointmentLine.staff_id,
                    ClassSession.service_id == AppointmentLine.service_id,
                    ClassSession.starts_at == AppointmentLine.starts_at,
                    ClassSession.status == SCHEDULED,
                ),
            )
            .where(AppointmentLine.tenant_id == self.tenant_id)
            .where(AppointmentLine.service_id == service_id)
            .where(AppointmentLine.starts_at >= after)
            .where(AppointmentLine.status.in_(_ACTIVE))
            .group_by(
                AppointmentLine.staff_id, Staff.name, Outlet.timezone, AppointmentLine.starts_at
            )
            .having(bookings > session_capacity)
            .order_by(AppointmentLine.starts_at, Staff.name)
        )
        return [SessionCount(*tuple(row)) for row in await self.execute(stmt)]

    async def claim_idempotency_key(
        self, key: str, request_hash: str, now: datetime
    ) -> IdempotencyRecord | None:
        """Claim a key for this request, or return the record of whoever claimed it.

        The insert waits on a concurrent uncommitted claim of the same key (PostgreSQL's
        unique index; SQLite's single writer), so repeats arriving together book once.
        """
        values: Mapping[str, Any] = {
            "tenant_id": self.tenant_id,
            "key": key,
            "request_hash": request_hash,
            "status_code": 0,
            "response": {},
            "created_at": now,
        }
        if await self.storage.insert_or_ignore(self.session, IdempotencyRecord, values):
            return None
        existing = await self.execute(
            sa.select(IdempotencyRecord).where(
                IdempotencyRecord.tenant_id == self.tenant_id, IdempotencyRecord.key == key
            )
        )
        record: IdempotencyRecord = existing.scalar_one()
        return record

    async def store_idempotent_answer(
        self, key: str, status_code: int, response: dict[str, Any]
    ) -> None:
        await self.execute(
            sa.update(IdempotencyRecord)
            .where(IdempotencyRecord.tenant_id == self.tenant_id, IdempotencyRecord.key == key)
            .values(status_code=status_code, response=response)
        )


@dataclass(frozen=True)
class SessionKey:
    """One session: a staff member's service at one interval (for a timetable service,
    a scheduled class session's staff, service and times)."""

    staff_id: str
    service_id: str
    starts_at: datetime
    ends_at: datetime


class WaitlistRepository(TenantRepository[WaitlistEntry]):
    model = WaitlistEntry
    label = "Waitlist entry"

    def _waiting(self) -> sa.Select[WaitlistEntry]:
        return self.base_query().where(WaitlistEntry.status == WaitlistStatus.WAITING.value)

    async def of_session(self, session: SessionKey) -> list[WaitlistEntry]:
        """Every entry a session ever had, in joining order (the next ``seq`` follows the
        last, whatever became of it)."""
        stmt = (
            self.base_query()
            .where(
                WaitlistEntry.staff_id == session.staff_id,
                WaitlistEntry.starts_at == session.starts_at,
                WaitlistEntry.service_id == session.service_id,
            )
            .order_by(WaitlistEntry.seq)
        )
        return list((await self.execute(stmt)).scalars())

    async def waiting_around(
        self, freed: Sequence[SessionKey], not_before: datetime
    ) -> dict[SessionKey, list[WaitlistEntry]]:
        """The waiting entries, per session in joining order, of every session that has
        not started and overlaps a freed one of the same staff member: the freed session
        itself, and any other the staff member's freed time may now let run (a class
        they could not teach while booked into an overlapping one). One query for any
        number of sessions."""
        freed = [s for s in freed if s.ends_at > not_before]
        if not freed:
            return {}
        stmt = (
            self._waiting()
            .where(
                WaitlistEntry.staff_id.in_(sorted({s.staff_id for s in freed})),
                WaitlistEntry.starts_at >= not_before,
                WaitlistEntry.starts_at < max(s.ends_at for s in freed),
                WaitlistEntry.ends_at > min(s.starts_at for s in freed),
            )
            .order_by(WaitlistEntry.seq)
        )
        found: dict[SessionKey, list[WaitlistEntry]] = defaultdict(list)
        for entry in (await self.execute(stmt)).scalars():
            if any(
                s.staff_id == entry.staff_id
                and entry.starts_at < s.ends_at
                and s.starts_at < entry.ends_at
                for s in freed
            ):
                found[session_of(entry)].append(entry)
        return found

    async def waiting_of_sessions(
        self, sessions: Sequence[SessionKey]
    ) -> dict[SessionKey, list[WaitlistEntry]]:
        """The waiting entries of each of ``sessions``, in joining order, in one query."""
        found: dict[SessionKey, list[WaitlistEntry]] = defaultdict(list)
        if not sessions:
            return found
        wanted = set(sessions)
        stmt = (
            self._waiting()
            .where(
                WaitlistEntry.staff_id.in_(sorted({s.staff_id for s in sessions})),
                WaitlistEntry.starts_at >= min(s.starts_at for s in sessions),
                WaitlistEntry.starts_at <= max(s.starts_at for s in sessions),
            )
            .order_by(WaitlistEntry.seq)
        )
        for entry in (await self.execute(stmt)).scalars():
            if session_of(entry) in wanted:
                found[session_of(entry)].append(entry)
        return found

    async def next_seq(self, sessions: Sequence[SessionKey]) -> dict[SessionKey, int]:
        """The next joining number of each session (after every entry it ever had)."""
        if not sessions:
            return {}
        stmt = (
            sa.select(
                WaitlistEntry.staff_id,
                WaitlistEntry.service_id,
                WaitlistEntry.starts_at,
                WaitlistEntry.ends_at,
                sa.func.max(WaitlistEntry.seq),
            )
            .where(
                WaitlistEntry.tenant_id == self.tenant_id,
                WaitlistEntry.staff_id.in_(sorted({s.staff_id for s in sessions})),
                WaitlistEntry.starts_at >= min(s.starts_at for s in sessions),
                WaitlistEntry.starts_at <= max(s.starts_at for s in sessions),
            )
            .group_by(
                WaitlistEntry.staff_id,
                WaitlistEntry.service_id,
                WaitlistEntry.starts_at,
                WaitlistEntry.ends_at,
            )
        )
        last: dict[SessionKey, int] = {}
        for row in await self.execute(stmt):
            values: tuple[Any, ...] = tuple(row)
            last[SessionKey(*values[:4])] = values[4]
        return {key: (last.get(key) or 0) + 1 for key in sessions}

    async def waiting_for_service(
        self, service_id: str, not_before: datetime
    ) -> list[WaitlistEntry]:
        """A service's waiting entries of sessions that have not started."""
        stmt = (
            self._waiting()
            .where(WaitlistEntry.service_id == service_id, WaitlistEntry.starts_at >= not_before)
            .order_by(WaitlistEntry.starts_at, WaitlistEntry.seq)
        )
        return list((await self.execute(stmt)).scalars())

    async def waiting_of_customer(
        self, customer_id: str, sessions: Sequence[SessionKey]
    ) -> list[WaitlistEntry]:
        """A customer's waiting entries for any of ``sessions``."""
        stmt = self._waiting().where(
            WaitlistEntry.customer_id == customer_id,
            WaitlistEntry.starts_at.in_(sorted({s.starts_at for s in sessions})),
        )
        wanted = set(sessions)
        return [e for e in (await self.execute(stmt)).scalars() if session_of(e) in wanted]

    async def ahead_of(self, entries: Sequence[WaitlistEntry]) -> dict[str, int]:
        """For waiting entries: how many entries wait ahead of each in its session."""
        waiting = [e for e in entries if e.status == WaitlistStatus.WAITING.value]
        if not waiting:
            return {}
        ahead = aliased(WaitlistEntry)
        stmt = (
            sa.select(WaitlistEntry.id, sa.func.count(ahead.id))
            .join(
                ahead,
                sa.and_(
                    ahead.tenant_id == WaitlistEntry.tenant_id,
                    ahead.staff_id == WaitlistEntry.staff_id,
                    ahead.starts_at == WaitlistEntry.starts_at,
                    ahead.service_id == WaitlistEntry.service_id,
                    ahead.status == WaitlistStatus.WAITING.value,
                    ahead.seq < WaitlistEntry.seq,
                ),
                isouter=True,
            )
            .where(WaitlistEntry.tenant_id == self.tenant_id)
            .where(WaitlistEntry.id.in_([e.id for e in waiting]))
            .group_by(WaitlistEntry.id)
        )
        rows: Sequence[Any] = (await self.execute(stmt)).all()
        return {entry_id: count for entry_id, count in rows}

    async def waiting_counts(
        self,
        service_id: str,
        staff_ids: Sequence[str],
        start: datetime,
        end: datetime,
        not_before: datetime,
    ) -> dict[tuple[str, datetime], int]:
        """Waiting entries per (staff, start) of a service's sessions in [start, end) that
        have not started: the grid's ``waitlist_length``, in one query."""
        stmt = (
            sa.select(WaitlistEntry.staff_id, WaitlistEntry.starts_at, sa.func.count())
            .where(
                WaitlistEntry.tenant_id == self.tenant_id,
                WaitlistEntry.status == WaitlistStatus.WAITING.value,
                WaitlistEntry.service_id == service_id,
                WaitlistEntry.staff_id.in_(sorted(set(staff_ids))),
                WaitlistEntry.starts_at >= max(start, not_before),
                WaitlistEntry.starts_at < end,
            )
            .group_by(WaitlistEntry.staff_id, WaitlistEntry.starts_at)
        )
        rows: Sequence[Any] = (await self.execute(stmt)).all()
        return {(staff_id, at): count for staff_id, at, count in rows}

    def listing(self, filters: WaitlistFilters, now: datetime) -> sa.Select[WaitlistEntry]:
        """Entries in promotion order: by session, then joining order."""
        stmt = self.base_query().order_by(
            WaitlistEntry.starts_at, WaitlistEntry.staff_id, WaitlistEntry.seq, WaitlistEntry.id
        )
        for name in ("outlet_id", "service_id", "staff_id", "customer_id"):
            value = getattr(filters, name)
            if value:
                stmt = stmt.where(getattr(WaitlistEntry, name) == value)
        if filters.date:
            stmt = stmt.where(WaitlistEntry.session_date == filters.date)
        if filters.status:
            stmt = stmt.where(_reads_as(filters.status, now))
        return stmt

    async def record(self, notices: Sequence[Notice]) -> None:
        """Write the outbox events of a waitlist change, in its transaction."""
        await self.storage.insert_rows(
            self.session, INSERT_NOTICES, notice_rows(self.tenant_id, list(notices))
        )


def session_of(entry: WaitlistEntry) -> SessionKey:
    return SessionKey(entry.staff_id, entry.service_id, entry.starts_at, entry.ends_at)


def _reads_as(statuses: Sequence[str], now: datetime) -> sa.ColumnElement[bool]:
    """Entries whose status reads as one of ``statuses``: a waiting entry of a started
    session reads as expired."""
    waiting = WaitlistStatus.WAITING.value
    expired = WaitlistStatus.EXPIRED.value
    stored = [s for s in statuses if s not in (waiting, expired)]
    clauses: list[sa.ColumnElement[bool]] = [WaitlistEntry.status.in_(stored)] if stored else []
    if waiting in statuses:
        clauses.append(sa.and_(WaitlistEntry.status == waiting, WaitlistEntry.starts_at >= now))
    if expired in statuses:
        clauses.append(
            sa.or_(
                WaitlistEntry.status == expired,
                sa.and_(WaitlistEntry.status == waiting, WaitlistEntry.starts_at < now),
            )
        )
    return sa.or_(*clauses)
