"""Booking logic: plan the lines, lock the staff, re-read, decide by the rules, write."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import asyncpg  # type: ignore[import-untyped]
import structlog
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.auth.security import Principal
from slotbook.booking import rules
from slotbook.booking.models import Appointment, AppointmentLine
from slotbook.booking.repository import AppointmentRepository, LineView
from slotbook.booking.schemas import (
    AppointmentCreate,
    AppointmentFilters,
    AppointmentOut,
    HistoryItem,
    RescheduleIn,
    ServiceLineOut,
)
from slotbook.catalog.models import Outlet, Service, Staff
from slotbook.catalog.repository import (
    CustomerRepository,
    OutletRepository,
    ServiceRepository,
    StaffRepository,
    TimeOffRepository,
)
from slotbook.db import RETRYABLE_SQLSTATES, dialect_of, sqlstate
from slotbook.errors import Conflict, DomainError, InvalidInput, ServiceBusy
from slotbook.ids import new_id
from slotbook.schemas import Page, PageParams

log = structlog.get_logger("slotbook.booking")
T = TypeVar("T")
CONFLICT_DETAIL = "Time slot conflicts with existing appointments or capacity limit reached"


class BookingConflict(Conflict):
    default_detail = CONFLICT_DETAIL


class StaffUnavailable(BookingConflict):
    code = "staff_unavailable"


class StaffBusy(BookingConflict):
    code = "staff_busy"


class SlotTaken(BookingConflict):
    code = "slot_taken"


class CapacityReached(BookingConflict):
    code = "capacity_reached"


REFUSALS: dict[rules.Reason, type[BookingConflict]] = {
    rules.Reason.STAFF_UNAVAILABLE: StaffUnavailable,
    rules.Reason.STAFF_BUSY: StaffBusy,
    rules.Reason.SLOT_TAKEN: SlotTaken,
    rules.Reason.CAPACITY_REACHED: CapacityReached,
}


class InvalidTransition(Conflict):
    code = "invalid_transition"


@dataclass(frozen=True)
class BookingContext:
    """Who acts, when, and whether booking locks are taken (always, outside race-control tests)."""

    principal: Principal
    now: datetime
    locking: bool = True
    lock_retries: int = 3

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id


@dataclass(frozen=True)
class PlannedLine:
    position: int
    staff: Staff
    service: Service
    starts_at: datetime
    ends_at: datetime


def policy_of(service: Service) -> rules.ServicePolicy:
    return rules.ServicePolicy(
        service.id, service.allow_parallel_bookings, service.max_parallel_bookings
    )


def zone_of(outlet: Outlet) -> ZoneInfo:
    return ZoneInfo(outlet.timezone)


def start_instant(day: date, at: time, zone: ZoneInfo, field: str) -> datetime:
    instant = rules.local_instant(day, at, zone)
    if instant is None:
        raise InvalidInput(
            f"{field}: {day} {at:%H:%M} does not exist in {zone.key} (clocks change that day)",
            field=field,
        )
    return instant


async def load_schedules(
    session: AsyncSession,
    tenant_id: str,
    staff: Sequence[Staff],
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
) -> dict[str, rules.Schedule]:
    """Working hours and time off of these staff around [start, end), in one query."""
    local_start = start.astimezone(zone).replace(tzinfo=None) - timedelta(days=1)
    local_end = end.astimezone(zone).replace(tzinfo=None) + timedelta(days=1)
    time_off: dict[str, list[tuple[datetime, datetime]]] = {member.id: [] for member in staff}
    for staff_id, off_start, off_end in await TimeOffRepository(session, tenant_id).overlapping(
        [member.id for member in staff], local_start, local_end
    ):
        time_off[staff_id].append((off_start, off_end))
    return {
        member.id: rules.Schedule(
            zone, rules.parse_working_hours(member.working_hours), tuple(time_off[member.id])
        )
        for member in staff
    }


def log_decision(tenant_id: str, line: PlannedLine, decision: rules.Decision) -> None:
    log.info(
        "parallel_booking_capacity_check",
        tenant_id=tenant_id,
        staff_id=line.staff.id,
        service_id=line.service.id,
        start=line.starts_at.isoformat(),
        allow_parallel_bookings=line.service.allow_parallel_bookings,
        current_bookings=decision.current_bookings,
        max_capacity=decision.max_capacity,
        capacity_reached=decision.capacity_reached,
        decision=decision.reason.value,
    )


async def _locked(
    session: AsyncSession, ctx: BookingContext, work: Callable[[], Awaitable[T]]
) -> T:
    """Run the lock-check-write part, retrying a deadlock a bounded number of times."""
    if dialect_of(session) == "sqlite":
        return await work()
    for attempt in range(ctx.lock_retries + 1):
        try:
            async with session.begin_nested():
                return await work()
        except (DBAPIError, asyncpg.PostgresError) as exc:
            if sqlstate(exc) not in RETRYABLE_SQLSTATES:
                raise
            log.warning("booking_retry", attempt=attempt + 1, sqlstate=sqlstate(exc))
    raise ServiceBusy("The booking could not be completed, please retry")


async def check_lines(
    session: AsyncSession,
    ctx: BookingContext,
    repo: AppointmentRepository,
    planned: Sequence[PlannedLine],
    zone: ZoneInfo,
    exclude_appointment_id: str | None = None,
) -> None:
    """Lock every staff member involved (sorted, once), re-read, and apply the rules."""
    staff_ids = sorted({line.staff.id for line in planned})
    if ctx.locking:
        await repo.lock_staff(staff_ids)
    start = min(line.starts_at for line in planned)
    end = max(line.ends_at for line in planned)
    lines = await repo.active_lines(staff_ids, start, end)
    schedules = await load_schedules(
        session, ctx.tenant_id, [line.staff for line in planned], zone, start, end
    )
    for line in planned:
        decision = rules.decide(
            rules.Candidate(
                policy_of(line.service), line.starts_at, line.ends_at, exclude_appointment_id
            ),
            lines.get(line.staff.id, ()),
            schedules[line.staff.id],
            ctx.now,
        )
        log_decision(ctx.tenant_id, line, decision)
        if decision.reason is rules.Reason.IN_PAST:
            raise InvalidInput(
                "start_time: the appointment would start in the past", field="start_time"
            )
        if not decision.allowed:
            extra: dict[str, Any] = {}
            if decision.reason is rules.Reason.CAPACITY_REACHED:
                extra = {
                    "current_bookings": decision.current_bookings,
                    "max_capacity": decision.max_capacity,
                }
            raise REFUSALS[decision.reason](**extra)


async def _plan(
    session: AsyncSession, ctx: BookingContext, data: AppointmentCreate
) -> tuple[Outlet, list[PlannedLine]]:
    tenant_id = ctx.tenant_id
    outlet = await OutletRepository(session, tenant_id).copy_for_field(
        data.outlet_id, "outlet_id"
    )
    await CustomerRepository(session, tenant_id).copy_for_field(data.customer_id, "customer_id")
    services = await ServiceRepository(session, tenant_id).copies(
        [s.service_id for s in data.services]
    )
    staff_repo = StaffRepository(session, tenant_id)
    staff, offered = await staff_repo.with_offered(
        [s.staff_id for s in data.services], [s.service_id for s in data.services]
    )
    zone = zone_of(outlet)
    cursor = start_instant(data.appointment_date, data.start_time, zone, "start_time")
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
        _check_staff_can_serve(member, service, outlet, offered.get(member.id, []), where)
        end = cursor + timedelta(minutes=service.duration)
        planned.append(PlannedLine(position, member, service, cursor, end))
        cursor = end
    return outlet, planned


def _check_staff_can_serve(
    member: Staff, service: Service, outlet: Outlet, offered: Sequence[str], where: str
) -> None:
    field = f"{where}.staff_id"
    if member.outlet_id != outlet.id:
        raise InvalidInput(f"{field}: staff member does not work at this outlet", field=field)
    if not member.active:
        raise InvalidInput(f"{field}: staff member is not active", field=field)
    if service.id not in offered:
        raise InvalidInput(f"{field}: staff member does not offer this service", field=field)


def local_clock(instant: datetime, zone: ZoneInfo) -> tuple[date, time]:
    """The outlet's wall-clock date and time of an instant."""
    local = instant.astimezone(zone)
    return local.date(), local.time().replace(tzinfo=None)


async def create_appointment(
    session: AsyncSession, ctx: BookingContext, data: AppointmentCreate
) -> AppointmentOut:
    outlet, planned = await _plan(session, ctx, data)
    zone = zone_of(outlet)
    repo = AppointmentRepository(session, ctx.tenant_id)

    async def write() -> Appointment:
        await check_lines(session, ctx, repo, planned, zone)
        day, start_clock = local_clock(planned[0].starts_at, zone)
        appointment = Appointment(
            id=new_id(),
            outlet_id=outlet.id,
            customer_id=data.customer_id,
            status=data.status,
            appointment_date=day,
            start_time=start_clock,
            end_time=local_clock(planned[-1].ends_at, zone)[1],
            starts_at=planned[0].starts_at,
            ends_at=planned[-1].ends_at,
            notes=data.notes,
            created_by=ctx.principal.user_id,
            created_at=ctx.now,
            cancelled_at=None,
            cancel_reason=None,
        )
        lines = [
            AppointmentLine(
                id=new_id(),
                appointment_id=appointment.id,
                position=line.position,
                staff_id=line.staff.id,
                service_id=line.service.id,
                status=data.status,
                starts_at=line.starts_at,
                ends_at=line.ends_at,
            )
            for line in planned
        ]
        await repo.insert_new(
            appointment,
            lines,
            "created",
            ctx.principal.user_id,
            {"status": data.status, **_when(appointment)},
        )
        return appointment

    appointment = await _locked(session, ctx, write)
    lines = [
        LineView(
            appointment.id,
            p.position,
            p.service.id,
            p.service.name,
            p.staff.id,
            p.staff.name,
            p.starts_at,
            p.ends_at,
        )
        for p in planned
    ]
    return appointment_out(appointment, lines, zone)


def request_fingerprint(data: AppointmentCreate) -> str:
    return hashlib.sha256(data.model_dump_json().encode()).hexdigest()


async def create_idempotent(
    session: AsyncSession, ctx: BookingContext, data: AppointmentCreate, key: str
) -> tuple[int, dict[str, Any]]:
    """Book at most once per key; a repeat gets the first answer, whatever it was."""
    repo = AppointmentRepository(session, ctx.tenant_id)
    fingerprint = request_fingerprint(data)
    existing = await repo.claim_idempotency_key(key, fingerprint, ctx.now)
    if existing is not None:
        if existing.request_hash != fingerprint:
            raise InvalidInput(
                "Idempotency-Key was already used with a different request", field="Idempotency-Key"
            )
        return existing.status_code, existing.response
    try:
        async with session.begin_nested():
            created = await create_appointment(session, ctx, data)
        status, body = 201, created.model_dump(mode="json")
    except DomainError as exc:
        if isinstance(exc, ServiceBusy):
            raise
        status, body = exc.status_code, exc.body()
    await repo.store_idempotent_answer(key, status, body)
    return status, body


async def reschedule(
    session: AsyncSession, ctx: BookingContext, appointment_id: str, data: RescheduleIn
) -> AppointmentOut:
    repo = AppointmentRepository(session, ctx.tenant_id)
    appointment = await repo.get_or_404(appointment_id)
    _require_open(appointment, "reschedule")
    outlet = await OutletRepository(session, ctx.tenant_id).get_or_404(appointment.outlet_id)
    zone = zone_of(outlet)
    rows = await repo.line_rows(appointment.id)
    services = await ServiceRepository(session, ctx.tenant_id).get_many(
        [r.service_id for r in rows]
    )
    staff_repo = StaffRepository(session, ctx.tenant_id)
    staff, offered = await staff_repo.with_offered(
        [r.staff_id for r in rows], [r.service_id for r in rows]
    )
    cursor = start_instant(data.new_date, data.new_start_time, zone, "new_start_time")
    planned: list[PlannedLine] = []
    for row in rows:
        service, member = services[row.service_id], staff[row.staff_id]
        _check_staff_can_serve(
            member, service, outlet, offered.get(member.id, []), f"services[{row.position}]"
        )
        end = cursor + (row.ends_at - row.starts_at)
        planned.append(PlannedLine(row.position, member, service, cursor, end))
        cursor = end

    async def write() -> Appointment:
        await check_lines(session, ctx, repo, planned, zone, exclude_appointment_id=appointment.id)
        # Re-read under the staff locks: a cancel may have landed since the first read.
        await session.refresh(appointment, with_for_update=ctx.locking and not _sqlite(session))
        _require_open(appointment, "reschedule")
        before = _when(appointment)
        for row, line in zip(rows, planned, strict=True):
            row.starts_at, row.ends_at = line.starts_at, line.ends_at
        appointment.starts_at, appointment.ends_at = planned[0].starts_at, planned[-1].ends_at
        appointment.appointment_date, appointment.start_time = local_clock(
            planned[0].starts_at, zone
        )
        appointment.end_time = local_clock(planned[-1].ends_at, zone)[1]
        repo.add_event(
            appointment.id,
            "rescheduled",
            ctx.now,
            ctx.principal.user_id,
            {"from": before, "to": _when(appointment)},
        )
        await session.flush()
        return appointment

    await _locked(session, ctx, write)
    return await get_appointment(session, ctx, appointment.id)


def _sqlite(session: AsyncSession) -> bool:
    return dialect_of(session) == "sqlite"


def _when(appointment: Appointment) -> dict[str, str]:
    return {
        "date": appointment.appointment_date.isoformat(),
        "start_time": appointment.start_time.strftime("%H:%M:%S"),
        "end_time": appointment.end_time.strftime("%H:%M:%S"),
    }


def _require_open(appointment: Appointment, action: str) -> None:
    if appointment.status not in rules.OPEN_STATUSES:
        raise InvalidTransition(f"Cannot {action} an appointment that is {appointment.status}")


TRANSITION_EVENTS = {
    "cancelled": "cancelled",
    "no_show": "no_show",
    "confirmed": "confirmed",
    "completed": "completed",
}
ACTIONS = {
    "cancelled": "cancel",
    "no_show": "mark as no-show",
    "confirmed": "confirm",
    "completed": "complete",
}


async def transition(
    session: AsyncSession,
    ctx: BookingContext,
    appointment_id: str,
    target: str,
    reason: str | None = None,
) -> AppointmentOut:
    """Move an appointment to another status; a repeat of the same move changes nothing.

    No staff lock: none of these moves takes capacity that was not already held. The
    appointment's own row lock orders it against a concurrent reschedule.
    """
    repo = AppointmentRepository(session, ctx.tenant_id)
    appointment = await repo.get_or_404(appointment_id, for_update=not _sqlite(session))
    allowed = rules.can_transition(appointment.status, target)
    if allowed is False:
        raise InvalidTransition(
            f"Cannot {ACTIONS[target]} an appointment that is {appointment.status}"
        )
    if allowed:
        previous = appointment.status
        appointment.status = target
        if target == "cancelled":
            appointment.cancelled_at = ctx.now
            appointment.cancel_reason = reason
        await repo.set_line_status(appointment.id, target)
        data: dict[str, Any] = {"from_status": previous}
        if reason:
            data["reason"] = reason
        repo.add_event(
            appointment.id, TRANSITION_EVENTS[target], ctx.now, ctx.principal.user_id, data
        )
        await session.flush()
    return await get_appointment(session, ctx, appointment.id)


def appointment_out(
    appointment: Appointment, lines: Sequence[LineView], zone: ZoneInfo
) -> AppointmentOut:
    return AppointmentOut(
        id=appointment.id,
        status=appointment.status,
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
        created_at=appointment.created_at,
        cancelled_at=appointment.cancelled_at,
    )


async def _render(
    session: AsyncSession, tenant_id: str, appointments: Sequence[Appointment]
) -> list[AppointmentOut]:
    repo = AppointmentRepository(session, tenant_id)
    lines = await repo.lines_of([a.id for a in appointments])
    outlets = await OutletRepository(session, tenant_id).get_many(
        [a.outlet_id for a in appointments]
    )
    return [
        appointment_out(a, lines.get(a.id, []), zone_of(outlets[a.outlet_id])) for a in appointments
    ]


async def get_appointment(
    session: AsyncSession, ctx: BookingContext, appointment_id: str
) -> AppointmentOut:
    appointment = await AppointmentRepository(session, ctx.tenant_id).get_or_404(appointment_id)
    return (await _render(session, ctx.tenant_id, [appointment]))[0]


async def list_appointments(
    session: AsyncSession, ctx: BookingContext, filters: AppointmentFilters, page: PageParams
) -> Page[AppointmentOut]:
    repo = AppointmentRepository(session, ctx.tenant_id)
    items, total = await repo.page(repo.listing(filters), limit=page.limit, offset=page.offset)
    return Page(items=await _render(session, ctx.tenant_id, items), total=total)


async def history(
    session: AsyncSession, ctx: BookingContext, appointment_id: str
) -> Page[HistoryItem]:
    repo = AppointmentRepository(session, ctx.tenant_id)
    await repo.get_or_404(appointment_id)
    events = await repo.events_of(appointment_id)
    return Page(items=[HistoryItem.model_validate(e) for e in events], total=len(events))


async def overfull_session_warnings(
    session: AsyncSession, service: Service, now: datetime
) -> list[str]:
    """Grandfathered sessions: future sessions now holding more than the capacity."""
    repo = AppointmentRepository(session, service.tenant_id)
    capacity = service.capacity
    warnings = []
    for found in await repo.overfull_sessions(service.id, capacity, now):
        local_start = found.starts_at.astimezone(ZoneInfo(found.timezone))
        warnings.append(
            f"Note: {found.bookings} bookings exist but capacity is now {capacity} "
            f"({local_start:%Y-%m-%d %H:%M} {found.staff_name})"
        )
    return warnings
