"""The timetable: class schedules lay out dated sessions, which are the only times a
timetable class can be booked, and which hold their instructor's time.

Every change here locks the staff rows of the instructors it decides on - the locks
every booking of their time takes (one sorted order, once per transaction, see
``AppointmentRepository.locked``) - then re-reads, decides through the rules
(``rules.placement`` for where a session may lie, ``rules.decide`` for each booking)
and writes. Sessions are laid out up to a horizon (``HORIZON_DAYS``) when a schedule
is created, and the worker moves that horizon forward a day at a time
(``extend_schedules``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.booking.repository import (
    Actor,
    AppointmentRepository,
    SessionKey,
    WaitlistRepository,
)
from slotbook.booking.service import BookingContext, InvalidTransition
from slotbook.booking.service.errors import REFUSALS
from slotbook.booking.service.planning import check_party_fits, check_staff_can_serve
from slotbook.booking.service.sessions import (
    SeriesRefused,
    SeriesRequest,
    SeriesTarget,
    SessionChange,
    Unmoved,
    book_series,
    cancel_session_bookings,
    move_session_bookings,
)
from slotbook.booking.service.waitlist import promote
from slotbook.catalog.models import OutletView, ServiceView, StaffView
from slotbook.catalog.repository import (
    CustomerRepository,
    OutletRepository,
    ServiceRepository,
    StaffRepository,
)
from slotbook.errors import Conflict, InvalidInput
from slotbook.ids import new_id
from slotbook.outbox import Notice
from slotbook.scheduling import recurrence, rules
from slotbook.scheduling.local import local_clock, policy_of, start_instant, zone_of
from slotbook.scheduling.schedules import load_schedules
from slotbook.schemas import Page, PageParams
from slotbook.storage import Database
from slotbook.timetable.models import ClassSchedule, ClassSession
from slotbook.timetable.repository import (
    ScheduleRepository,
    SessionRepository,
    schedules_to_extend,
)
from slotbook.timetable.schemas import (
    ScheduleChange,
    ScheduleChangeOut,
    ScheduleConflictItem,
    ScheduleCreate,
    ScheduleOut,
    SeriesBooking,
    SeriesItem,
    SeriesOut,
    SessionCancel,
    SessionChangeOut,
    SessionEventOut,
    SessionFilters,
    SessionMove,
    SessionOut,
    SessionSubstitute,
    UnmovedBooking,
)

log = structlog.get_logger("slotbook.timetable")

# Sessions are laid out this far ahead; the worker keeps the horizon moving.
HORIZON_DAYS = 366
CANCELLED = rules.SESSION_CANCELLED
SYSTEM_ACTOR = Actor("system")


class ScheduleConflict(Conflict):
    code = "schedule_conflict"
    default_detail = "The instructor cannot teach the class on some of its dates"


class SessionChanged(Conflict):
    code = "session_changed"
    default_detail = "The session changed while this request ran; please try again"


class SeriesUnavailable(Conflict):
    code = "series_unavailable"
    default_detail = "The series cannot be booked as asked; see results"


class NoSessions(Conflict):
    code = "no_sessions"
    default_detail = "The schedule has no sessions left to book"


# Reading


def key_of(item: ClassSession) -> SessionKey:
    return SessionKey(item.staff_id, item.service_id, item.starts_at, item.ends_at)


def schedule_out(schedule: ClassSchedule) -> ScheduleOut:
    days = recurrence.weekly_days(schedule.rrule)
    return ScheduleOut(
        id=schedule.id,
        service_id=schedule.service_id,
        outlet_id=schedule.outlet_id,
        staff_id=schedule.staff_id,
        start_time=schedule.start_time,
        days=[rules.Weekday(day) for day in days] if days is not None else None,
        rrule=schedule.rrule,
        first_date=schedule.first_date,
        last_date=schedule.last_date,
        capacity=schedule.capacity,
        sessions_until=schedule.sessions_until,
        created_at=schedule.created_at,
    )


async def render_sessions(
    session: AsyncSession, ctx: BookingContext, items: Sequence[ClassSession]
) -> list[SessionOut]:
    """Sessions with names, spots taken and waiting entries: a fixed number of queries
    (names, one grouped count of the lines, one of the waiting entries per service)."""
    if not items:
        return []
    services = await ServiceRepository(session, ctx.tenant_id).views(
        sorted({s.service_id for s in items})
    )
    staff = await StaffRepository(session, ctx.tenant_id).views(sorted({s.staff_id for s in items}))
    staff_ids = sorted(staff)
    start = min(s.starts_at for s in items)
    end = max(s.ends_at for s in items) + timedelta(seconds=1)
    booked: dict[tuple[str, str, int], int] = {}
    for row in await AppointmentRepository(session, ctx.tenant_id).booked_sessions(
        staff_ids, start, end
    ):
        if row[5] is None:
            booked[(row[0], row[1], int(row[2]))] = int(row[4])
    waiting: dict[tuple[str, str, datetime], int] = {}
    waitlist = WaitlistRepository(session, ctx.tenant_id)
    for service_id in sorted({s.service_id for s in items}):
        if not services[service_id].waitlist_enabled:
            continue
        counts = await waitlist.waiting_counts(service_id, staff_ids, start, end, ctx.now)
        for (staff_id, at), count in counts.items():
            waiting[(service_id, staff_id, at)] = count
    answers = []
    for item in items:
        taken = booked.get((item.staff_id, item.service_id, int(item.starts_at.timestamp())), 0)
        open_now = item.status == rules.SCHEDULED and not rules.has_started(item.starts_at, ctx.now)
        answers.append(
            SessionOut(
                id=item.id,
                schedule_id=item.schedule_id,
                status=item.status,
                outlet_id=item.outlet_id,
                service_id=item.service_id,
                service_name=services[item.service_id].name,
                staff_id=item.staff_id,
                staff_name=staff[item.staff_id].name,
                date=item.session_date,
                start_time=item.start_time,
                end_time=item.end_time,
                capacity=item.capacity,
                booked=taken,
                available=max(0, item.capacity - taken) if open_now else 0,
                waitlist_length=waiting.get((item.service_id, item.staff_id, item.starts_at), 0),
                cancelled_at=item.cancelled_at,
                cancel_reason=item.cancel_reason,
            )
        )
    return answers


async def list_schedules(
    session: AsyncSession,
    ctx: BookingContext,
    outlet_id: str | None,
    service_id: str | None,
    staff_id: str | None,
    page: PageParams,
) -> Page[ScheduleOut]:
    repo = ScheduleRepository(session, ctx.tenant_id)
    items, total = await repo.page(
        repo.listing(outlet_id, service_id, staff_id), limit=page.limit, offset=page.offset
    )
    return Page(items=[schedule_out(s) for s in items], total=total)


async def get_schedule(session: AsyncSession, ctx: BookingContext, schedule_id: str) -> ScheduleOut:
    return schedule_out(await ScheduleRepository(session, ctx.tenant_id).get_or_404(schedule_id))


async def list_sessions(
    session: AsyncSession, ctx: BookingContext, filters: SessionFilters, page: PageParams
) -> Page[SessionOut]:
    repo = SessionRepository(session, ctx.tenant_id)
    items, total = await repo.page(repo.listing(filters), limit=page.limit, offset=page.offset)
    return Page(items=await render_sessions(session, ctx, items), total=total)


async def get_session(session: AsyncSession, ctx: BookingContext, session_id: str) -> SessionOut:
    item = await SessionRepository(session, ctx.tenant_id).get_or_404(session_id)
    return (await render_sessions(session, ctx, [item]))[0]


async def session_history(
    session: AsyncSession, ctx: BookingContext, session_id: str
) -> Page[SessionEventOut]:
    repo = SessionRepository(session, ctx.tenant_id)
    await repo.get_or_404(session_id)
    events = await repo.events_of(session_id)
    return Page(
        items=[
            SessionEventOut(type=e.type, at=e.at, user_id=e.user_id, actor=e.actor, data=e.data)
            for e in events
        ],
        total=len(events),
    )


async def session_at(
    session: AsyncSession, tenant_id: str, service_id: str, staff_id: str, starts_at: datetime
) -> ClassSession | None:
    """The scheduled session a booking at this instructor and start would take."""
    return await SessionRepository(session, tenant_id).at(service_id, staff_id, starts_at)


# Placing sessions


@dataclass(frozen=True)
class Subject:
    """The outlet, service and instructor of a schedule, checked (rule 2's 422s)."""

    outlet: OutletView
    service: ServiceView
    staff: StaffView

    @property
    def zone(self) -> ZoneInfo:
        return zone_of(self.outlet)


async def _subject(
    session: AsyncSession, tenant_id: str, outlet_id: str, service_id: str, staff_id: str
) -> Subject:
    outlet = await OutletRepository(session, tenant_id).view_for_field(outlet_id, "outlet_id")
    service = await ServiceRepository(session, tenant_id).view_for_field(service_id, "service_id")
    if not service.active:
        raise InvalidInput("service_id: the service is inactive", field="service_id")
    if not service.timetable:
        raise InvalidInput(
            "service_id: the service is booked from open slots; "
            "set its booking_mode to timetable first",
            field="service_id",
        )
    return Subject(
        outlet, service, await _instructor(session, tenant_id, outlet, service, staff_id)
    )


async def _instructor(
    session: AsyncSession,
    tenant_id: str,
    outlet: OutletView,
    service: ServiceView,
    staff_id: str,
) -> StaffView:
    staff, offered = await StaffRepository(session, tenant_id).with_offered(
        [staff_id], [service.id]
    )
    member = staff.get(staff_id)
    if member is None:
        raise InvalidInput("staff_id: unknown staff member", field="staff_id")
    check_staff_can_serve(member, service, outlet, offered.get(member.id, []), "")
    return member


def _check_capacity(service: ServiceView, capacity: int | None) -> None:
    if capacity is not None and not service.allow_parallel_bookings:
        raise InvalidInput(
            "capacity: only a class (allow_parallel_bookings) has spots to set",
            field="capacity",
        )


def _times(day: date, at: time, duration: int, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    starts_at = rules.local_instant(day, at, zone)
    if starts_at is None:
        return None
    return starts_at, starts_at + timedelta(minutes=duration)


def _session_row(
    schedule: ClassSchedule,
    subject: Subject,
    occurrence: date,
    times: tuple[datetime, datetime],
    capacity: int,
    now: datetime,
) -> ClassSession:
    zone = subject.zone
    return ClassSession(
        id=new_id(),
        schedule_id=schedule.id,
        service_id=subject.service.id,
        outlet_id=subject.outlet.id,
        staff_id=schedule.staff_id,
        occurrence_date=occurrence,
        session_date=local_clock(times[0], zone)[0],
        start_time=schedule.start_time,
        end_time=local_clock(times[1], zone)[1],
        starts_at=times[0],
        ends_at=times[1],
        capacity=capacity,
        status=rules.SCHEDULED,
        created_at=now,
        cancelled_at=None,
        cancel_reason=None,
    )


def _conflict_item(item: ClassSession, code: str) -> ScheduleConflictItem:
    return ScheduleConflictItem(date=item.session_date, start_time=item.start_time, code=code)


async def _placement_conflicts(
    session: AsyncSession,
    tenant_id: str,
    subject: Subject,
    placed: Sequence[ClassSession],
    now: datetime,
    moving: Sequence[SessionKey] = (),
) -> list[tuple[ClassSession, rules.Reason]]:
    """Where ``placed`` sessions (at their new staff and times) would put an instructor
    in two places, outside working hours or into time off, by ``rules.placement``.

    ``moving`` are the old places of sessions being changed: they and their bookings
    hold no time any more. Each placed session counts for the next. Call under the
    instructors' locks; two queries whatever the number of sessions.
    """
    if not placed:
        return []
    staff_ids = sorted({item.staff_id for item in placed})
    staff = await StaffRepository(session, tenant_id).views(staff_ids)
    start = min(item.starts_at for item in placed)
    end = max(item.ends_at for item in placed)
    lines = await AppointmentRepository(session, tenant_id).active_lines(staff_ids, start, end)
    schedules = await load_schedules(
        session, tenant_id, list(staff.values()), subject.zone, start, end
    )
    gone = set(moving)
    held = {
        staff_id: [
            line
            for line in staff_lines
            if SessionKey(staff_id, line.service_id, line.starts_at, line.ends_at) not in gone
        ]
        for staff_id, staff_lines in lines.items()
    }
    policy = policy_of(subject.service)
    found: list[tuple[ClassSession, rules.Reason]] = []
    for item in sorted(placed, key=lambda s: s.starts_at):
        staff_lines = held.setdefault(item.staff_id, [])
        reason = rules.placement(
            policy, item.starts_at, item.ends_at, staff_lines, schedules[item.staff_id], now
        )
        if reason is not rules.Reason.OK:
            found.append((item, reason))
            continue
        staff_lines.append(
            rules.scheduled_session(item.service_id, item.starts_at, item.ends_at, item.capacity)
        )
    return found


def _refuse(conflicts: Sequence[tuple[ClassSession, rules.Reason]]) -> None:
    if not conflicts:
        return
    named = ", ".join(f"{c.session_date} ({reason.value})" for c, reason in conflicts[:20])
    more = f" and {len(conflicts) - 20} more" if len(conflicts) > 20 else ""
    raise ScheduleConflict(
        f"The instructor cannot teach the class on {named}{more}",
        conflicts=[
            _conflict_item(c, reason.value).model_dump(mode="json") for c, reason in conflicts
        ],
    )


def _lay_out(
    schedule: ClassSchedule,
    subject: Subject,
    dates: Sequence[date],
    now: datetime,
) -> tuple[list[ClassSession], list[ScheduleConflictItem]]:
    """Sessions for ``dates`` that have not started; dates whose start does not exist
    (a DST gap) are answered as conflicts."""
    capacity = schedule.capacity or subject.service.capacity
    made: list[ClassSession] = []
    missing: list[ScheduleConflictItem] = []
    for day in dates:
        times = _times(day, schedule.start_time, subject.service.duration, subject.zone)
        if times is None:
            missing.append(
                ScheduleConflictItem(date=day, start_time=schedule.start_time, code="no_such_time")
            )
            continue
        if rules.has_started(times[0], now):
            continue
        made.append(_session_row(schedule, subject, day, times, capacity, now))
    return made, missing


# Schedules


async def create_schedule(
    session: AsyncSession, ctx: BookingContext, data: ScheduleCreate
) -> ScheduleOut:
    """Lay out a schedule's sessions up to the horizon; refused, naming the dates, when
    any would put the instructor in two places, outside working hours or into time off."""
    subject = await _subject(session, ctx.tenant_id, data.outlet_id, data.service_id, data.staff_id)
    _check_capacity(subject.service, data.capacity)
    field = "rrule" if data.rrule is not None else "days"
    try:
        rule = (
            recurrence.normalise(data.rrule)
            if data.rrule is not None
            else recurrence.weekly_rule([d.value for d in data.days or ()])
        )
    except recurrence.InvalidRule as exc:
        raise InvalidInput(f"{field}: {exc}", field=field) from exc
    today = local_clock(ctx.now, subject.zone)[0]
    horizon = recurrence.horizon(today, HORIZON_DAYS)
    until = horizon if data.last_date is None else min(data.last_date, horizon)
    schedule = ClassSchedule(
        id=new_id(),
        service_id=subject.service.id,
        outlet_id=subject.outlet.id,
        staff_id=subject.staff.id,
        start_time=data.start_time,
        rrule=rule,
        first_date=data.first_date,
        last_date=data.last_date,
        capacity=data.capacity,
        sessions_until=max(until, data.first_date - timedelta(days=1)),
        created_by=ctx.actor.user_id,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    dates = recurrence.dates(rule, data.first_date, data.last_date, today, until)
    sessions, missing = _lay_out(schedule, subject, dates, ctx.now)
    schedules = ScheduleRepository(session, ctx.tenant_id)
    repo = SessionRepository(session, ctx.tenant_id)

    async def decide_and_write() -> None:
        conflicts = await _placement_conflicts(session, ctx.tenant_id, subject, sessions, ctx.now)
        if missing and not conflicts:
            raise ScheduleConflict(
                "The start time does not exist on "
                + ", ".join(str(m.date) for m in missing)
                + " (clocks change)",
                conflicts=[m.model_dump(mode="json") for m in missing],
            )
        _refuse(conflicts)
        schedules.add(schedule)
        await schedules.flush()
        await repo.insert_many(sessions)

    # The instructor's lock: no booking lands in the time being scheduled meanwhile.
    await AppointmentRepository(session, ctx.tenant_id).locked(
        decide_and_write, staff_ids=[subject.staff.id]
    )
    return schedule_out(schedule)


async def change_schedule(
    session: AsyncSession, ctx: BookingContext, schedule_id: str, data: ScheduleChange
) -> ScheduleChangeOut:
    """Change a schedule "from this date on": the start time, the instructor, the
    capacity, the end. Sessions on and after ``from_date`` that have not started change;
    their bookings and waiting entries follow where the rules allow (the rest stay as
    they were and are answered). A change that would put an instructor in two places,
    outside working hours or into time off is refused naming the dates. Sessions past a
    new end go, except those holding bookings, which are kept and answered."""
    schedules = ScheduleRepository(session, ctx.tenant_id)
    schedule = await schedules.get_or_404(schedule_id)
    changes = data.changes()
    changes.pop("from_date", None)
    staff_id = changes.get("staff_id", schedule.staff_id)
    subject = await _subject(
        session, ctx.tenant_id, schedule.outlet_id, schedule.service_id, staff_id
    )
    if "capacity" in changes:
        _check_capacity(subject.service, changes["capacity"])
    last_date = changes.get("last_date", schedule.last_date)
    if last_date is not None and last_date < schedule.first_date:
        raise InvalidInput("last_date: must not be before first_date", field="last_date")
    repo = SessionRepository(session, ctx.tenant_id)
    # A new end before from_date ends the schedule there too: the sessions between the
    # two are past the end (they go, or are kept when booked) though nothing else
    # changes for them.
    scope_from = data.from_date
    if "last_date" in changes and last_date is not None:
        scope_from = min(scope_from, last_date + timedelta(days=1))
    affected = await repo.of_schedule(schedule.id, from_date=scope_from, after=ctx.now)
    locked = sorted({schedule.staff_id, staff_id} | {s.staff_id for s in affected})
    result: dict[str, Any] = {}

    async def decide_and_write() -> None:
        current = await repo.of_schedule(schedule.id, from_date=scope_from, after=ctx.now)
        if any(s.staff_id not in locked for s in current):
            raise SessionChanged()
        result.update(
            await _apply_change(session, ctx, schedule, subject, changes, data.from_date, current)
        )

    # The locks of every instructor involved (old, new, substitutes of single sessions).
    await AppointmentRepository(session, ctx.tenant_id).locked(decide_and_write, staff_ids=locked)
    return ScheduleChangeOut(schedule=schedule_out(schedule), **result)


async def _apply_change(
    session: AsyncSession,
    ctx: BookingContext,
    schedule: ClassSchedule,
    subject: Subject,
    changes: dict[str, Any],
    from_date: date,
    current: list[ClassSession],
) -> dict[str, Any]:
    repo = SessionRepository(session, ctx.tenant_id)
    bookings = AppointmentRepository(session, ctx.tenant_id)
    last_date = changes.get("last_date", schedule.last_date)
    beyond = [s for s in current if last_date is not None and s.session_date > last_date]
    staying = [s for s in current if s not in beyond]
    start_time = changes.get("start_time", schedule.start_time)
    staff_id = changes.get("staff_id", schedule.staff_id)
    capacity = changes["capacity"] or subject.service.capacity if "capacity" in changes else None
    # Where each staying session goes: the same date, the new time and instructor.
    plans: list[tuple[ClassSession, SessionKey, ClassSession]] = []
    for item in staying:
        times = (item.starts_at, item.ends_at)
        if "start_time" in changes:
            found = _times(item.session_date, start_time, subject.service.duration, subject.zone)
            if found is None:
                raise ScheduleConflict(
                    f"The start time does not exist on {item.session_date} (clocks change)",
                    conflicts=[
                        ScheduleConflictItem(
                            date=item.session_date, start_time=start_time, code="no_such_time"
                        ).model_dump(mode="json")
                    ],
                )
            times = found
        new_staff = staff_id if "staff_id" in changes else item.staff_id
        if times == (item.starts_at, item.ends_at) and new_staff == item.staff_id:
            continue
        placed = ClassSession(
            id=item.id,
            staff_id=new_staff,
            service_id=item.service_id,
            session_date=item.session_date,
            start_time=local_clock(times[0], subject.zone)[1],
            starts_at=times[0],
            ends_at=times[1],
            capacity=capacity or item.capacity,
        )
        plans.append((item, key_of(item), placed))
    conflicts = await _placement_conflicts(
        session,
        ctx.tenant_id,
        subject,
        [p for _, _, p in plans],
        ctx.now,
        moving=[k for _, k, _ in plans],
    )
    _refuse(conflicts)
    # Sessions past a new end go, unless someone booked them.
    kept: list[str] = []
    if beyond:
        held = await bookings.bookings_of_sessions([key_of(s) for s in beyond])
        kept = [s.id for s in beyond if held.get(key_of(s))]
        gone = [s for s in beyond if not held.get(key_of(s))]
        for item in gone:
            await cancel_session_bookings(session, ctx, key_of(item), item.id, "schedule ended")
        await repo.delete_many([s.id for s in gone])
    events: list[dict[str, Any]] = []
    session_changes: list[SessionChange] = []
    for item, old, placed in plans:
        before = _where(item)
        item.staff_id, item.starts_at, item.ends_at = (
            placed.staff_id,
            placed.starts_at,
            placed.ends_at,
        )
        item.session_date, item.start_time = local_clock(placed.starts_at, subject.zone)
        item.end_time = local_clock(placed.ends_at, subject.zone)[1]
        session_changes.append(SessionChange(old, key_of(item), item.id))
        events.append(_event(item.id, "changed", ctx, {"from": before, "to": _where(item)}))
    warnings: list[str] = []
    if capacity is not None:
        for item in staying:
            if item.capacity != capacity:
                events.append(
                    _event(
                        item.id, "capacity_changed", ctx, {"from": item.capacity, "to": capacity}
                    )
                )
                item.capacity = capacity
    await repo.flush()
    moved, unmoved = await move_session_bookings(session, ctx, session_changes, subject.zone)
    if capacity is not None:
        await promote(session, ctx, [key_of(s) for s in staying])
        warnings = await _over_capacity(session, ctx, staying)
    for name in ("start_time", "staff_id", "capacity"):
        if name in changes:
            setattr(schedule, name, changes[name])
    if "last_date" in changes:
        await _move_end(session, ctx, schedule, subject, last_date)
    schedule.updated_at = ctx.now
    await repo.flush()
    if events:
        await repo.record(events)
    return {
        "changed_sessions": len({event["session_id"] for event in events}),
        "moved_appointments": moved,
        "unmoved_appointments": [_unmoved(u) for u in unmoved],
        "kept_sessions": kept,
        "warnings": warnings,
    }


async def _move_end(
    session: AsyncSession,
    ctx: BookingContext,
    schedule: ClassSchedule,
    subject: Subject,
    last_date: date | None,
) -> None:
    """A new last date: later sessions are laid out up to the horizon (placed like a
    new schedule's), or the layout stops at the new end."""
    today = local_clock(ctx.now, subject.zone)[0]
    horizon = recurrence.horizon(today, HORIZON_DAYS)
    until = horizon if last_date is None else min(last_date, horizon)
    if until > schedule.sessions_until:
        repo = SessionRepository(session, ctx.tenant_id)
        start = schedule.sessions_until + timedelta(days=1)
        existing = await repo.laid_out_dates(schedule.id, start, until)
        dates = [
            d
            for d in recurrence.dates(schedule.rrule, schedule.first_date, last_date, start, until)
            if d not in existing
        ]
        schedule.last_date = last_date
        sessions, _missing = _lay_out(schedule, subject, dates, ctx.now)
        _refuse(await _placement_conflicts(session, ctx.tenant_id, subject, sessions, ctx.now))
        await repo.insert_many(sessions)
    schedule.last_date = last_date
    schedule.sessions_until = until


async def _over_capacity(
    session: AsyncSession, ctx: BookingContext, items: Sequence[ClassSession]
) -> list[str]:
    """Rule 8's warnings for sessions now holding more spots than their capacity."""
    rendered = await render_sessions(session, ctx, list(items))
    return [
        f"Note: {s.booked} spots are booked but capacity is now {s.capacity} "
        f"({s.date} {s.start_time:%H:%M} {s.staff_name})"
        for s in rendered
        if s.booked > s.capacity
    ]


def _unmoved(item: Unmoved) -> UnmovedBooking:
    return UnmovedBooking(
        appointment_id=item.appointment_id, session_id=item.session_id, code=item.code
    )


def _where(item: ClassSession) -> dict[str, Any]:
    return {
        "date": item.session_date.isoformat(),
        "start_time": item.start_time.strftime("%H:%M:%S"),
        "end_time": item.end_time.strftime("%H:%M:%S"),
        "staff_id": item.staff_id,
    }


def _event(session_id: str, kind: str, ctx: BookingContext, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": new_id(),
        "session_id": session_id,
        "type": kind,
        "at": ctx.now,
        "user_id": ctx.actor.user_id,
        "actor": ctx.actor.kind,
        "data": data,
    }


def _session_notice(kind: str, item: ClassSession, ctx: BookingContext, **extra: Any) -> Notice:
    payload = {
        "class_session_id": item.id,
        "schedule_id": item.schedule_id,
        "outlet_id": item.outlet_id,
        "service_id": item.service_id,
        "staff_id": item.staff_id,
        "starts_at": item.starts_at.isoformat(),
        "ends_at": item.ends_at.isoformat(),
        "actor": ctx.actor.kind,
        "user_id": ctx.actor.user_id,
        **extra,
    }
    return Notice(new_id(), f"class_session.{kind}", f"class_session:{item.id}", ctx.now, payload)


# One session


async def cancel_session(
    session: AsyncSession, ctx: BookingContext, session_id: str, data: SessionCancel
) -> SessionChangeOut:
    """Cancel one session: every booking in it is cancelled (each customer told), its
    waiting entries too, and it is no longer offered. A repeat changes nothing."""
    repo = SessionRepository(session, ctx.tenant_id)
    item = await repo.get_or_404(session_id)
    cancelled: list[str] = []
    locked = [item.staff_id]

    async def decide_and_write() -> None:
        await repo.refresh(item)
        if item.status == CANCELLED:
            return
        if item.staff_id not in locked:
            raise SessionChanged()
        if rules.has_started(item.starts_at, ctx.now):
            raise InvalidTransition("Cannot cancel a session that has started")
        reason = data.reason or "class cancelled"
        cancelled.extend(await cancel_session_bookings(session, ctx, key_of(item), item.id, reason))
        item.status = CANCELLED
        item.cancelled_at = ctx.now
        item.cancel_reason = data.reason
        await repo.flush()
        await repo.record(
            [_event(item.id, "cancelled", ctx, {"reason": data.reason, "appointments": cancelled})],
            [_session_notice("cancelled", item, ctx, reason=data.reason, appointments=cancelled)],
        )

    # The instructor's lock: the one every booking of this session takes.
    await AppointmentRepository(session, ctx.tenant_id).locked(decide_and_write, staff_ids=locked)
    out = (await render_sessions(session, ctx, [item]))[0]
    return SessionChangeOut(session=out, appointments=cancelled)


async def move_session(
    session: AsyncSession, ctx: BookingContext, session_id: str, data: SessionMove
) -> SessionChangeOut:
    """Move one session to another time the same day; its bookings and waiting entries
    (in their order) move with it, and their customers are told."""
    repo = SessionRepository(session, ctx.tenant_id)
    item = await repo.get_or_404(session_id)
    subject = await _subject_of(session, ctx, item, item.staff_id)
    starts_at = start_instant(
        item.session_date, data.new_start_time, subject.zone, "new_start_time"
    )
    times = (starts_at, starts_at + timedelta(minutes=subject.service.duration))
    return await _replace(session, ctx, item, subject, item.staff_id, times, "moved")


async def substitute_session(
    session: AsyncSession, ctx: BookingContext, session_id: str, data: SessionSubstitute
) -> SessionChangeOut:
    """Give one session a substitute instructor, who must offer the service at the
    outlet and be free then; its bookings and waiting entries stay with it."""
    repo = SessionRepository(session, ctx.tenant_id)
    item = await repo.get_or_404(session_id)
    subject = await _subject_of(session, ctx, item, data.staff_id)
    return await _replace(
        session, ctx, item, subject, data.staff_id, (item.starts_at, item.ends_at), "substituted"
    )


async def _subject_of(
    session: AsyncSession, ctx: BookingContext, item: ClassSession, staff_id: str
) -> Subject:
    outlet = (await OutletRepository(session, ctx.tenant_id).views([item.outlet_id]))[
        item.outlet_id
    ]
    service = (await ServiceRepository(session, ctx.tenant_id).views([item.service_id]))[
        item.service_id
    ]
    member = await _instructor(session, ctx.tenant_id, outlet, service, staff_id)
    return Subject(outlet, service, member)


async def _replace(
    session: AsyncSession,
    ctx: BookingContext,
    item: ClassSession,
    subject: Subject,
    staff_id: str,
    times: tuple[datetime, datetime],
    kind: str,
) -> SessionChangeOut:
    repo = SessionRepository(session, ctx.tenant_id)
    locked = sorted({item.staff_id, staff_id})
    outcome: dict[str, Any] = {"appointments": [], "unmoved_appointments": []}

    async def decide_and_write() -> None:
        await repo.refresh(item)
        if item.status == CANCELLED:
            raise InvalidTransition("Cannot change a cancelled session")
        if item.staff_id not in locked:
            raise SessionChanged()
        if rules.has_started(item.starts_at, ctx.now):
            raise InvalidTransition("Cannot change a session that has started")
        if (item.staff_id, item.starts_at, item.ends_at) == (staff_id, *times):
            return
        old = key_of(item)
        placed = ClassSession(
            id=item.id,
            staff_id=staff_id,
            service_id=item.service_id,
            session_date=item.session_date,
            start_time=item.start_time,
            starts_at=times[0],
            ends_at=times[1],
            capacity=item.capacity,
        )
        conflicts = await _placement_conflicts(
            session, ctx.tenant_id, subject, [placed], ctx.now, moving=[old]
        )
        if conflicts:
            reason = conflicts[0][1]
            if reason is rules.Reason.IN_PAST:
                raise InvalidInput(
                    "new_start_time: the session would start in the past",
                    field="new_start_time",
                )
            raise REFUSALS[reason]()
        before = _where(item)
        item.staff_id, item.starts_at, item.ends_at = staff_id, times[0], times[1]
        item.start_time = local_clock(times[0], subject.zone)[1]
        item.end_time = local_clock(times[1], subject.zone)[1]
        await repo.flush()
        moved, unmoved = await move_session_bookings(
            session, ctx, [SessionChange(old, key_of(item), item.id)], subject.zone
        )
        outcome["appointments"] = moved
        outcome["unmoved_appointments"] = [_unmoved(u) for u in unmoved]
        data = {"from": before, "to": _where(item), "appointments": moved}
        await repo.record(
            [_event(item.id, kind, ctx, data)],
            [_session_notice(kind, item, ctx, **data)],
        )

    # The locks of both instructors (the one it leaves, the one it goes to).
    await AppointmentRepository(session, ctx.tenant_id).locked(decide_and_write, staff_ids=locked)
    out = (await render_sessions(session, ctx, [item]))[0]
    return SessionChangeOut(session=out, **outcome)


# Series booking


async def book_schedule(
    session: AsyncSession, ctx: BookingContext, schedule_id: str, data: SeriesBooking
) -> SeriesOut:
    """Book a customer into the next ``count`` sessions of a schedule (all remaining
    ones when omitted), all or nothing or as many as have room. The staff locks of
    every session are taken once, in one sorted order."""
    schedule = await ScheduleRepository(session, ctx.tenant_id).get_or_404(schedule_id)
    await CustomerRepository(session, ctx.tenant_id).view_for_field(data.customer_id, "customer_id")
    outlet = (await OutletRepository(session, ctx.tenant_id).views([schedule.outlet_id]))[
        schedule.outlet_id
    ]
    service = (await ServiceRepository(session, ctx.tenant_id).views([schedule.service_id]))[
        schedule.service_id
    ]
    check_party_fits(service, data.party_size)
    if data.waitlist and data.mode == "all_or_nothing":
        raise InvalidInput(
            "waitlist: joining waitlists needs mode available (all or nothing books every "
            "session or none)",
            field="waitlist",
        )
    if not service.active:
        raise InvalidInput("schedule_id: the class is no longer offered", field="schedule_id")
    repo = SessionRepository(session, ctx.tenant_id)
    from_date = data.from_date or local_clock(ctx.now, zone_of(outlet))[0]

    async def targets() -> list[ClassSession]:
        return await repo.of_schedule(
            schedule.id, from_date=from_date, after=ctx.now, limit=data.count
        )

    first = await targets()
    if not first:
        raise NoSessions()
    locked = sorted({s.staff_id for s in first})
    request = SeriesRequest(
        outlet,
        service,
        data.customer_id,
        data.party_size,
        data.status,
        data.notes,
        data.mode == "all_or_nothing",
        data.waitlist,
    )

    async def decide_and_write() -> list[SeriesItem]:
        current = await targets()
        if any(s.staff_id not in locked for s in current):
            raise SessionChanged()
        by_id = {s.id: s for s in current}
        try:
            results = await book_series(
                session, ctx, request, [SeriesTarget(s.id, key_of(s)) for s in current]
            )
        except SeriesRefused as refused:
            raise SeriesUnavailable(
                results=[_series_item(r, by_id).model_dump(mode="json") for r in refused.results]
            ) from None
        return [_series_item(r, by_id) for r in results]

    # Every session's instructor, locked once in one sorted order.
    items = await AppointmentRepository(session, ctx.tenant_id).locked(
        decide_and_write, staff_ids=locked
    )
    booked = sum(1 for i in items if i.result == "booked")
    waitlisted = sum(1 for i in items if i.result == "waitlisted")
    if not booked and not waitlisted:
        raise SeriesUnavailable(
            "No session of the series has room", results=[i.model_dump(mode="json") for i in items]
        )
    return SeriesOut(
        schedule_id=schedule.id,
        customer_id=data.customer_id,
        booked=booked,
        waitlisted=waitlisted,
        refused=len(items) - booked - waitlisted,
        results=items,
    )


def _series_item(result: Any, by_id: dict[str, ClassSession]) -> SeriesItem:
    item = by_id[result.session_id]
    return SeriesItem(
        session_id=item.id,
        date=item.session_date,
        start_time=item.start_time,
        result=result.result,
        code=result.code,
        detail=result.detail,
        appointment_id=result.appointment_id,
        waitlist_entry_id=result.waitlist_entry_id,
    )


# The horizon


async def extend_schedules(database: Database, now: datetime, batch: int = 50) -> int:
    """Lay out the sessions of every schedule up to the horizon (the worker calls this
    each scan; after the first run of a day there is one day per schedule to add). One
    transaction per schedule, under its instructor's lock. A date the instructor cannot
    teach (booked otherwise, away) is left out and reported as a
    "class_schedule.date_skipped" event. Answers how many sessions were added."""
    added = 0
    async with database.transaction(write=False) as session:
        due = await schedules_to_extend(
            session, now.date() + timedelta(days=HORIZON_DAYS + 1), batch
        )
    for tenant_id, schedule_id in due:
        async with database.transaction(write=True) as session:
            added += await _extend_one(session, tenant_id, schedule_id, now)
    return added


async def _extend_one(
    session: AsyncSession, tenant_id: str, schedule_id: str, now: datetime
) -> int:
    schedule = await ScheduleRepository(session, tenant_id).get(schedule_id)
    if schedule is None:
        return 0
    outlet = (await OutletRepository(session, tenant_id).views([schedule.outlet_id]))[
        schedule.outlet_id
    ]
    service = (await ServiceRepository(session, tenant_id).views([schedule.service_id]))[
        schedule.service_id
    ]
    staff = await StaffRepository(session, tenant_id).views([schedule.staff_id])
    subject = Subject(outlet, service, staff[schedule.staff_id])
    today = local_clock(now, subject.zone)[0]
    horizon = recurrence.horizon(today, HORIZON_DAYS)
    until = horizon if schedule.last_date is None else min(schedule.last_date, horizon)
    if until <= schedule.sessions_until:
        schedule.sessions_until = max(schedule.sessions_until, until)
        return 0
    start = schedule.sessions_until + timedelta(days=1)
    repo = SessionRepository(session, tenant_id)
    ctx = BookingContext(tenant_id, SYSTEM_ACTOR, now)
    counted = 0

    async def decide_and_write() -> None:
        nonlocal counted
        existing = await repo.laid_out_dates(schedule.id, start, until)
        dates = [
            d
            for d in recurrence.dates(
                schedule.rrule, schedule.first_date, schedule.last_date, start, until
            )
            if d not in existing
        ]
        sessions, missing = _lay_out(schedule, subject, dates, now)
        conflicts = await _placement_conflicts(session, tenant_id, subject, sessions, now)
        skipped = {c.id for c, _ in conflicts}
        keep = [s for s in sessions if s.id not in skipped]
        await repo.insert_many(keep)
        schedule.sessions_until = until
        await repo.flush()
        left_out = [_conflict_item(item, reason.value) for item, reason in conflicts] + missing
        notices = [
            Notice(
                new_id(),
                "class_schedule.date_skipped",
                f"class_schedule:{schedule.id}",
                now,
                {
                    "schedule_id": schedule.id,
                    "staff_id": schedule.staff_id,
                    **item.model_dump(mode="json"),
                },
            )
            for item in left_out
        ]
        if notices:
            await repo.record([], notices)
            log.warning("class_dates_skipped", schedule_id=schedule.id, count=len(notices))
        counted = len(keep)

    # The instructor's lock, as for creating the schedule.
    await AppointmentRepository(session, ctx.tenant_id).locked(
        decide_and_write, staff_ids=[schedule.staff_id]
    )
    return counted
