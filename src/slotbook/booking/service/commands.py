"""The commands that change appointments: book, book once per key, move, change status.

Each reads and plans what it can before any lock, then runs its decision and its writes
as one locked section (``AppointmentRepository.locked``), and records what it did in the
appointment's history in the same transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.auth.security import Principal
from slotbook.booking.models import Appointment, AppointmentLine
from slotbook.booking.repository import AppointmentRepository, LineView, NewEvent, SessionKey
from slotbook.booking.schemas import AppointmentCreate, AppointmentOut, PartySizeIn, RescheduleIn
from slotbook.booking.service.context import BookingContext
from slotbook.booking.service.decisions import check_plan, session_notices
from slotbook.booking.service.errors import InvalidTransition
from slotbook.booking.service.planning import Plan, check_party_fits, plan_move, plan_new
from slotbook.booking.service.queries import (
    appointment_out,
    capacity_warnings,
    get_appointment,
    instants,
    when,
)
from slotbook.booking.service.waitlist import close_for_booked_customer, promote
from slotbook.booking.service.waitlist import service_changed as waitlist_service_changed
from slotbook.catalog.models import ServiceView
from slotbook.catalog.repository import OutletRepository, ServiceRepository
from slotbook.errors import DomainError, InvalidInput, ServiceBusy
from slotbook.ids import new_id
from slotbook.scheduling import rules
from slotbook.scheduling.local import local_clock, start_instant, zone_of


async def create_appointment(
    session: AsyncSession, ctx: BookingContext, data: AppointmentCreate
) -> AppointmentOut:
    plan = await plan_new(session, ctx.tenant_id, data)
    repo = AppointmentRepository(session, ctx.tenant_id)

    async def decide_and_write() -> Appointment:
        decisions = await check_plan(session, repo, plan, ctx.now)
        appointment, lines = _new_rows(ctx, data, plan)
        await repo.insert_new([appointment], lines)
        await _stop_waiting(session, ctx, plan)
        await repo.record_events(
            [
                NewEvent(
                    appointment.id,
                    "created",
                    ctx.now,
                    ctx.actor,
                    {"status": data.status, **when(appointment)},
                    instants(appointment),
                )
            ],
            session_notices(plan, decisions, appointment.id, ctx.now),
        )
        return appointment

    appointment = await repo.locked(decide_and_write, staff_ids=plan.staff_ids)
    views = [
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
        for p in plan.lines
    ]
    return appointment_out(appointment, views, plan.zone)


def _new_rows(
    ctx: BookingContext, data: AppointmentCreate, plan: Plan
) -> tuple[Appointment, list[AppointmentLine]]:
    zone, lines = plan.zone, plan.lines
    day, start_clock = local_clock(lines[0].starts_at, zone)
    appointment = Appointment(
        id=new_id(),
        outlet_id=plan.outlet.id,
        customer_id=data.customer_id,
        status=data.status,
        appointment_date=day,
        start_time=start_clock,
        end_time=local_clock(lines[-1].ends_at, zone)[1],
        starts_at=lines[0].starts_at,
        ends_at=lines[-1].ends_at,
        notes=data.notes,
        party_size=data.party_size,
        created_by=ctx.actor.user_id,
        created_via=ctx.created_via,
        created_at=ctx.now,
        cancelled_at=None,
        cancel_reason=None,
    )
    rows = [
        AppointmentLine(
            id=new_id(),
            appointment_id=appointment.id,
            position=line.position,
            staff_id=line.staff.id,
            service_id=line.service.id,
            status=data.status,
            starts_at=line.starts_at,
            ends_at=line.ends_at,
            party_size=data.party_size,
            customer_id=data.customer_id,
        )
        for line in lines
    ]
    return appointment, rows


def sessions_of(plan: Plan) -> list[SessionKey]:
    return [
        SessionKey(line.staff.id, line.service.id, line.starts_at, line.ends_at)
        for line in plan.lines
    ]


def sessions_held(rows: Sequence[AppointmentLine]) -> list[SessionKey]:
    return [SessionKey(r.staff_id, r.service_id, r.starts_at, r.ends_at) for r in rows]


async def _stop_waiting(session: AsyncSession, ctx: BookingContext, plan: Plan) -> None:
    """The customer now holds a place in these sessions: any entry of theirs waiting for
    one of them is closed (only services with a waitlist can have one)."""
    if any(line.service.waitlist_enabled for line in plan.lines):
        await close_for_booked_customer(session, ctx, plan.customer_id, sessions_of(plan))


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
        async with repo.savepoint():
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
    outlet = (await OutletRepository(session, ctx.tenant_id).views([appointment.outlet_id]))[
        appointment.outlet_id
    ]
    zone = zone_of(outlet)
    rows = await repo.line_rows(appointment.id)
    start = start_instant(data.new_date, data.new_start_time, zone, "new_start_time")
    plan = await plan_move(
        session, ctx.tenant_id, outlet, rows, start, appointment.customer_id, appointment.party_size
    )

    async def decide_and_write() -> None:
        # Re-read under the locks: a cancel may have landed since the first read.
        await repo.refresh(appointment)
        _require_open(appointment, "reschedule")
        decisions = await check_plan(
            session, repo, plan, ctx.now, exclude_appointment_id=appointment.id
        )
        # A move within its own session fills nothing; one into another session may.
        moved = appointment.starts_at != plan.lines[0].starts_at
        before = when(appointment)
        left = sessions_held(rows)
        for row, line in zip(rows, plan.lines, strict=True):
            row.starts_at, row.ends_at = line.starts_at, line.ends_at
        appointment.starts_at, appointment.ends_at = plan.lines[0].starts_at, plan.lines[-1].ends_at
        appointment.appointment_date, appointment.start_time = local_clock(
            plan.lines[0].starts_at, zone
        )
        appointment.end_time = local_clock(plan.lines[-1].ends_at, zone)[1]
        await repo.flush()
        if moved:
            await _stop_waiting(session, ctx, plan)
            await promote(session, ctx, left)
        await repo.record_events(
            [
                NewEvent(
                    appointment.id,
                    "rescheduled",
                    ctx.now,
                    ctx.actor,
                    {"from": before, "to": when(appointment)},
                    instants(appointment),
                )
            ],
            session_notices(plan, decisions, appointment.id, ctx.now) if moved else [],
        )

    await repo.locked(decide_and_write, staff_ids=plan.staff_ids, appointment_ids=[appointment.id])
    return await get_appointment(session, ctx, appointment.id)


def _require_open(appointment: Appointment, action: str) -> None:
    if appointment.status not in rules.OPEN_STATUSES:
        raise InvalidTransition(f"Cannot {action} an appointment that is {appointment.status}")


ACTIONS = {
    rules.Status.CANCELLED: "cancel",
    rules.Status.NO_SHOW: "mark as no-show",
    rules.Status.CONFIRMED: "confirm",
    rules.Status.COMPLETED: "complete",
}


# The moves that free the appointment's places (and so promote waiting customers).
FREEING = frozenset({rules.Status.CANCELLED, rules.Status.NO_SHOW})


async def transition(
    session: AsyncSession,
    ctx: BookingContext,
    appointment_id: str,
    target: rules.Status,
    reason: str | None = None,
) -> AppointmentOut:
    """Move an appointment to another status; a repeat of the same move changes nothing.

    The appointment's own lock orders the move against a concurrent reschedule or status
    change. A cancel or no-show frees places, which go to waiting customers in this
    transaction: it also takes the staff locks of the appointment's sessions, the locks
    booking takes, so no booking sees those places free first. Confirm and complete
    free nothing and take no staff lock.
    """
    repo = AppointmentRepository(session, ctx.tenant_id)
    # Staff of a line never change, so they can be read before the locks.
    rows = await repo.line_rows(appointment_id) if target in FREEING else []

    async def decide_and_write() -> None:
        appointment = await repo.get_or_404(appointment_id)
        allowed = rules.can_transition(appointment.status, target)
        if allowed is False:
            raise InvalidTransition(
                f"Cannot {ACTIONS[target]} an appointment that is {appointment.status}"
            )
        if allowed is None:
            return
        previous = appointment.status
        appointment.status = target
        if target == rules.Status.CANCELLED:
            appointment.cancelled_at = ctx.now
            appointment.cancel_reason = reason
        await repo.set_line_status(appointment.id, target)
        data: dict[str, Any] = {"from_status": previous}
        if reason:
            data["reason"] = reason
        await repo.flush()
        if target in FREEING:
            await promote(session, ctx, sessions_held(rows))
        await repo.record_events([NewEvent(appointment.id, target.value, ctx.now, ctx.actor, data)])

    await repo.locked(
        decide_and_write,
        staff_ids=sorted({row.staff_id for row in rows}),
        appointment_ids=[appointment_id],
    )
    return await get_appointment(session, ctx, appointment_id)


async def change_party_size(
    session: AsyncSession, ctx: BookingContext, appointment_id: str, data: PartySizeIn
) -> AppointmentOut:
    """Seat more or fewer people on an open appointment before it starts.

    A smaller party always fits and frees spots for waiting customers; a larger one is
    decided like a booking of the new party, not counting the appointment itself. Locks
    the appointment and the staff of its sessions, as a reschedule does.
    """
    repo = AppointmentRepository(session, ctx.tenant_id)
    appointment = await repo.get_or_404(appointment_id)
    rows = await repo.line_rows(appointment.id)
    services = await ServiceRepository(session, ctx.tenant_id).views([r.service_id for r in rows])
    for row in rows:
        check_party_fits(services[row.service_id], data.party_size)
    outlet = (await OutletRepository(session, ctx.tenant_id).views([appointment.outlet_id]))[
        appointment.outlet_id
    ]

    async def decide_and_write() -> None:
        await repo.refresh(appointment)
        _require_open(appointment, "change the party of")
        if rules.has_started(appointment.starts_at, ctx.now):
            raise InvalidTransition("Cannot change the party of an appointment that has started")
        previous = appointment.party_size
        if data.party_size == previous:
            return
        if data.party_size > previous:
            plan = await plan_move(
                session,
                ctx.tenant_id,
                outlet,
                rows,
                appointment.starts_at,
                appointment.customer_id,
                data.party_size,
            )
            await check_plan(session, repo, plan, ctx.now, exclude_appointment_id=appointment.id)
        appointment.party_size = data.party_size
        await repo.set_party_size(appointment.id, data.party_size)
        await repo.flush()
        if data.party_size < previous:
            await promote(session, ctx, sessions_held(rows))
        await repo.record_events(
            [
                NewEvent(
                    appointment.id,
                    "party_size_changed",
                    ctx.now,
                    ctx.actor,
                    {"from": previous, "to": data.party_size},
                )
            ]
        )

    await repo.locked(
        decide_and_write,
        staff_ids=sorted({row.staff_id for row in rows}),
        appointment_ids=[appointment.id],
    )
    return await get_appointment(session, ctx, appointment.id)


async def service_changed(
    session: AsyncSession, principal: Principal, service: ServiceView, now: datetime
) -> list[str]:
    """A service was changed (``catalog.service.ServiceChanged``): waiting customers get
    the spots a raised capacity opened (or leave a waitlist turned off), then rule 8's
    warnings name the future sessions now holding more spots than the capacity."""
    await waitlist_service_changed(session, principal.tenant_id, principal.user_id, service, now)
    return await capacity_warnings(session, principal.tenant_id, service.id, service.capacity, now)
