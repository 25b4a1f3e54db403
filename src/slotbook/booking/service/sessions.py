"""Whole class sessions changing under their bookings: cancelled, moved, given a
substitute, or booked as a series.

The timetable calls these with the staff locks of every session involved already taken
(the one locking protocol: the staff rows every booking of those sessions locks), in
its transaction. Each booking is decided through ``rules.decide``, as booking decides,
and recorded in its appointment's history and the outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.booking.models import Appointment, AppointmentLine, WaitlistEntry
from slotbook.booking.repository import (
    AppointmentRepository,
    NewEvent,
    SessionKey,
    WaitlistRepository,
)
from slotbook.booking.service.context import BookingContext
from slotbook.booking.service.decisions import log_decision, session_notices
from slotbook.booking.service.errors import REFUSALS
from slotbook.booking.service.planning import Plan, PlannedLine
from slotbook.booking.service.queries import instants, when
from slotbook.booking.service.waitlist import close_for_booked_customer, entry_notice, promote
from slotbook.catalog.models import OutletView, ServiceView, StaffView
from slotbook.catalog.repository import ServiceRepository, StaffRepository
from slotbook.ids import new_id
from slotbook.outbox import Notice
from slotbook.scheduling import rules
from slotbook.scheduling.local import local_clock, policy_of
from slotbook.scheduling.schedules import load_schedules

CANCELLED = rules.Status.CANCELLED.value


@dataclass(frozen=True)
class SessionChange:
    """A class session's bookings follow it from ``old`` to ``new`` (another time of the
    day, another instructor, or both)."""

    old: SessionKey
    new: SessionKey
    session_id: str


@dataclass(frozen=True)
class Unmoved:
    """A booking that could not follow its session, and why (a rule's code)."""

    appointment_id: str
    session_id: str
    code: str


async def cancel_session_bookings(
    session: AsyncSession, ctx: BookingContext, key: SessionKey, session_id: str, reason: str
) -> list[str]:
    """Cancel every open booking of a cancelled session and every waiting entry of it;
    each customer is told (the "cancelled" events). Answers the appointments' ids."""
    repo = AppointmentRepository(session, ctx.tenant_id)
    booked = (await repo.bookings_of_sessions([key])).get(key, [])
    events = [
        NewEvent(
            appointment.id,
            CANCELLED,
            ctx.now,
            ctx.actor,
            {"from_status": appointment.status, "reason": reason, "class_session_id": session_id},
        )
        for appointment, _line in booked
    ]
    await repo.cancel_many([appointment.id for appointment, _ in booked], ctx.now, reason)
    waitlist = WaitlistRepository(session, ctx.tenant_id)
    waiting = (await waitlist.waiting_of_sessions([key])).get(key, [])
    for entry in waiting:
        entry.status = rules.WaitlistStatus.CANCELLED.value
        entry.closed_at = ctx.now
    await repo.flush()
    if waiting:
        await waitlist.record(
            [
                entry_notice("cancelled", e, ctx.now, ctx.actor, reason="session_cancelled")
                for e in waiting
            ]
        )
    if events:
        await repo.record_events(events)
    return [appointment.id for appointment, _ in booked]


async def move_session_bookings(
    session: AsyncSession,
    ctx: BookingContext,
    changes: Sequence[SessionChange],
    zone: ZoneInfo,
) -> tuple[list[str], list[Unmoved]]:
    """Move the bookings and waiting entries of changed sessions with them.

    Call after the sessions' own rows changed (they hold the new times now). Each
    booking is decided at its new session, oldest booking first, as a booking of its
    party would be there (not counting itself); one the rules refuse stays where it was
    and is answered in the second list. A booking keeps the place it already holds
    though its session is now over capacity (a smaller capacity set in the same change,
    or a session already over-full): left behind, it would lie at a time with no class
    and hold its instructor there; the caller warns of over-full sessions instead.
    Waiting entries follow with their order. Promotes waiting customers into spots a
    larger capacity opened.
    """
    repo = AppointmentRepository(session, ctx.tenant_id)
    if not changes:
        return [], []
    booked = await repo.bookings_of_sessions([c.old for c in changes])
    moving = {a.id for group in booked.values() for a, _ in group}
    new_keys = [c.new for c in changes]
    staff_ids = sorted({k.staff_id for k in new_keys})
    start = min(k.starts_at for k in new_keys)
    end = max(k.ends_at for k in new_keys)
    services = await ServiceRepository(session, ctx.tenant_id).views(
        sorted({k.service_id for k in new_keys})
    )
    staff = await StaffRepository(session, ctx.tenant_id).views(staff_ids)
    schedules = await load_schedules(session, ctx.tenant_id, list(staff.values()), zone, start, end)
    lines = await repo.active_lines(staff_ids, start, end)
    # The moving bookings' lines still lie at their old times: they hold no time there.
    held = {
        staff_id: [line for line in staff_lines if line.appointment_id not in moving]
        for staff_id, staff_lines in lines.items()
    }
    moved: list[str] = []
    unmoved: list[Unmoved] = []
    events: list[NewEvent] = []
    for change in changes:
        new = change.new
        policy = policy_of(services[new.service_id])
        staff_lines = held.setdefault(new.staff_id, [])
        for appointment, line in booked.get(change.old, []):
            decision = rules.decide(
                rules.Candidate(
                    policy,
                    new.starts_at,
                    new.ends_at,
                    appointment.id,
                    appointment.party_size,
                    appointment.customer_id,
                ),
                staff_lines,
                schedules[new.staff_id],
                ctx.now,
            )
            if not decision.allowed and decision.reason is not rules.Reason.CAPACITY_REACHED:
                unmoved.append(Unmoved(appointment.id, change.session_id, decision.reason.value))
                continue
            staff_lines.append(
                rules.ActiveLine(
                    appointment.id,
                    new.service_id,
                    new.starts_at,
                    new.ends_at,
                    appointment.party_size,
                    appointment.customer_id,
                )
            )
            events.append(_follow(appointment, line, change, zone, staff, ctx))
            moved.append(appointment.id)
    waitlist = WaitlistRepository(session, ctx.tenant_id)
    waiting = await waitlist.waiting_of_sessions([c.old for c in changes])
    notices: list[Notice] = []
    for change in changes:
        for entry in waiting.get(change.old, []):
            _move_entry(entry, change.new, zone)
            notices.append(
                entry_notice(
                    "session_changed",
                    entry,
                    ctx.now,
                    ctx.actor,
                    staff_name=staff[change.new.staff_id].name,
                    class_session_id=change.session_id,
                )
            )
    await repo.flush()
    if notices:
        await waitlist.record(notices)
    if events:
        await repo.record_events(events)
    await promote(session, ctx, new_keys)
    return moved, unmoved


def _follow(
    appointment: Appointment,
    line: AppointmentLine,
    change: SessionChange,
    zone: ZoneInfo,
    staff: dict[str, StaffView],
    ctx: BookingContext,
) -> NewEvent:
    """Move one booking with its session; its history entry (a move, or a new teacher)."""
    before = when(appointment)
    new = change.new
    line.staff_id, line.starts_at, line.ends_at = new.staff_id, new.starts_at, new.ends_at
    appointment.starts_at, appointment.ends_at = new.starts_at, new.ends_at
    appointment.appointment_date, appointment.start_time = local_clock(new.starts_at, zone)
    appointment.end_time = local_clock(new.ends_at, zone)[1]
    data: dict[str, Any] = {"class_session_id": change.session_id}
    if change.old.staff_id != new.staff_id:
        data |= {
            "from_staff_id": change.old.staff_id,
            "to_staff_id": new.staff_id,
            "to_staff_name": staff[new.staff_id].name,
        }
    if change.old.starts_at != new.starts_at or change.old.ends_at != new.ends_at:
        kind = "rescheduled"
        data |= {"from": before, "to": when(appointment), "reason": "class_session_moved"}
    else:
        kind = "staff_changed"
        data |= when(appointment)
    return NewEvent(appointment.id, kind, ctx.now, ctx.actor, data, instants(appointment))


def _move_entry(entry: WaitlistEntry, new: SessionKey, zone: ZoneInfo) -> None:
    entry.staff_id, entry.starts_at, entry.ends_at = new.staff_id, new.starts_at, new.ends_at
    entry.session_date, entry.start_time = local_clock(new.starts_at, zone)
    entry.end_time = local_clock(new.ends_at, zone)[1]


# Series booking


@dataclass(frozen=True)
class SeriesTarget:
    """One session of a series booking."""

    session_id: str
    key: SessionKey


@dataclass(frozen=True)
class SeriesResult:
    session_id: str
    key: SessionKey
    result: Literal["booked", "waitlisted", "refused"]
    code: str | None = None
    detail: str | None = None
    appointment_id: str | None = None
    waitlist_entry_id: str | None = None


@dataclass(frozen=True)
class SeriesRequest:
    outlet: OutletView
    service: ServiceView
    customer_id: str
    party_size: int
    status: str
    notes: str | None
    all_or_nothing: bool
    waitlist: bool


class SeriesRefused(Exception):
    """An all-or-nothing series that cannot hold every session: nothing was written."""

    def __init__(self, results: list[SeriesResult]) -> None:
        super().__init__("series refused")
        self.results = results


async def book_series(
    session: AsyncSession,
    ctx: BookingContext,
    request: SeriesRequest,
    targets: Sequence[SeriesTarget],
) -> list[SeriesResult]:
    """Book a customer into each target session, in order, each decided by the rules as
    its own booking would be (rule 6's log line for each). All or nothing: any refusal
    raises ``SeriesRefused`` before anything is written. Otherwise the refused ones are
    answered, and - where asked and the service keeps a waitlist - a full session puts
    the customer in its line instead."""
    if not targets:
        return []
    repo = AppointmentRepository(session, ctx.tenant_id)
    keys = [t.key for t in targets]
    staff_ids = sorted({k.staff_id for k in keys})
    start, end = min(k.starts_at for k in keys), max(k.ends_at for k in keys)
    staff = await StaffRepository(session, ctx.tenant_id).views(staff_ids)
    zone = ZoneInfo(request.outlet.timezone)
    schedules = await load_schedules(session, ctx.tenant_id, list(staff.values()), zone, start, end)
    lines = await repo.active_lines(staff_ids, start, end)
    policy = policy_of(request.service)
    waitlist = WaitlistRepository(session, ctx.tenant_id)
    waiting = await waitlist.waiting_of_sessions(keys) if request.waitlist else {}
    results: list[SeriesResult] = []
    appointments: list[Appointment] = []
    new_lines: list[AppointmentLine] = []
    events: list[NewEvent] = []
    notices: list[Notice] = []
    to_wait: list[SeriesTarget] = []
    for target in targets:
        key = target.key
        member = staff[key.staff_id]
        decision = rules.decide(
            rules.Candidate(
                policy,
                key.starts_at,
                key.ends_at,
                party_size=request.party_size,
                customer_id=request.customer_id,
            ),
            lines.setdefault(key.staff_id, []),
            schedules[key.staff_id],
            ctx.now,
        )
        planned = PlannedLine(0, member, request.service, key.starts_at, key.ends_at)
        log_decision(ctx.tenant_id, planned, decision)
        if decision.allowed:
            appointment, line = _series_booking(ctx, request, key, zone)
            appointments.append(appointment)
            new_lines.append(line)
            lines[key.staff_id].append(
                rules.ActiveLine(
                    appointment.id,
                    key.service_id,
                    key.starts_at,
                    key.ends_at,
                    request.party_size,
                    request.customer_id,
                )
            )
            results.append(
                SeriesResult(target.session_id, key, "booked", appointment_id=appointment.id)
            )
            events.append(
                NewEvent(
                    appointment.id,
                    "created",
                    ctx.now,
                    ctx.actor,
                    {"status": appointment.status, **when(appointment), "series": True},
                    instants(appointment),
                )
            )
            plan = Plan(request.outlet, [planned], request.customer_id, request.party_size)
            notices.extend(session_notices(plan, [decision], appointment.id, ctx.now))
            continue
        verdict = decision.reason
        if request.waitlist and request.service.waitlist_enabled:
            in_line = waiting.get(key, [])
            verdict = rules.may_join(
                decision,
                already_waiting=any(e.customer_id == request.customer_id for e in in_line),
                waiting=len(in_line),
                limit=request.service.waitlist_limit,
            )
            if verdict is rules.Reason.OK:
                to_wait.append(target)
                continue
        error = REFUSALS.get(verdict)
        detail = error.default_detail if error else verdict.value
        results.append(SeriesResult(target.session_id, key, "refused", verdict.value, detail))
    if request.all_or_nothing and any(r.result != "booked" for r in results):
        raise SeriesRefused(results)
    await repo.insert_new(appointments, new_lines)
    if appointments:
        await close_for_booked_customer(
            session, ctx, request.customer_id, [line_key(line) for line in new_lines]
        )
    positions = {t.key: len(waiting.get(t.key, [])) + 1 for t in to_wait}
    results.extend(await _join_lines(session, ctx, request, to_wait, zone, staff, positions))
    await repo.record_events(events, notices)
    order = {t.session_id: index for index, t in enumerate(targets)}
    return sorted(results, key=lambda r: order[r.session_id])


def line_key(line: AppointmentLine) -> SessionKey:
    return SessionKey(line.staff_id, line.service_id, line.starts_at, line.ends_at)


def _series_booking(
    ctx: BookingContext, request: SeriesRequest, key: SessionKey, zone: ZoneInfo
) -> tuple[Appointment, AppointmentLine]:
    day, start_clock = local_clock(key.starts_at, zone)
    appointment = Appointment(
        id=new_id(),
        outlet_id=request.outlet.id,
        customer_id=request.customer_id,
        status=request.status,
        appointment_date=day,
        start_time=start_clock,
        end_time=local_clock(key.ends_at, zone)[1],
        starts_at=key.starts_at,
        ends_at=key.ends_at,
        notes=request.notes,
        party_size=request.party_size,
        created_by=ctx.actor.user_id,
        created_via=ctx.created_via,
        created_at=ctx.now,
        cancelled_at=None,
        cancel_reason=None,
    )
    line = AppointmentLine(
        id=new_id(),
        appointment_id=appointment.id,
        position=0,
        staff_id=key.staff_id,
        service_id=key.service_id,
        status=request.status,
        starts_at=key.starts_at,
        ends_at=key.ends_at,
        party_size=request.party_size,
        customer_id=request.customer_id,
    )
    return appointment, line


async def _join_lines(
    session: AsyncSession,
    ctx: BookingContext,
    request: SeriesRequest,
    targets: Sequence[SeriesTarget],
    zone: ZoneInfo,
    staff: dict[str, StaffView],
    positions: dict[SessionKey, int],
) -> list[SeriesResult]:
    """Put the customer in line for each full session of ``targets`` (numbered under
    the staff locks held, after every entry each session ever had)."""
    if not targets:
        return []
    waitlist = WaitlistRepository(session, ctx.tenant_id)
    next_seq = await waitlist.next_seq([t.key for t in targets])
    results: list[SeriesResult] = []
    notices: list[Notice] = []
    for target in targets:
        key = target.key
        day, start_clock = local_clock(key.starts_at, zone)
        entry = WaitlistEntry(
            id=new_id(),
            outlet_id=request.outlet.id,
            customer_id=request.customer_id,
            service_id=key.service_id,
            staff_id=key.staff_id,
            session_date=day,
            start_time=start_clock,
            end_time=local_clock(key.ends_at, zone)[1],
            starts_at=key.starts_at,
            ends_at=key.ends_at,
            party_size=request.party_size,
            seq=next_seq[key],
            status=rules.WaitlistStatus.WAITING.value,
            appointment_id=None,
            created_by=ctx.actor.user_id,
            created_via=ctx.created_via,
            created_at=ctx.now,
            closed_at=None,
        )
        waitlist.add(entry)
        results.append(
            SeriesResult(
                target.session_id,
                key,
                "waitlisted",
                rules.Reason.CAPACITY_REACHED.value,
                waitlist_entry_id=entry.id,
            )
        )
        notices.append(
            entry_notice(
                "joined",
                entry,
                ctx.now,
                ctx.actor,
                position=positions[key],
                service_name=request.service.name,
                staff_name=staff[key.staff_id].name,
            )
        )
    await waitlist.flush()
    await waitlist.record(notices)
    return results
