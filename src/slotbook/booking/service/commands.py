"""The commands that change appointments: book, book once per key, move, change status.

Each reads and plans what it can before any lock, then runs its decision and its writes
as one locked section (``AppointmentRepository.locked``), and records what it did in the
appointment's history in the same transaction.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.booking.models import Appointment, AppointmentLine
from slotbook.booking.repository import AppointmentRepository, LineView, NewEvent
from slotbook.booking.schemas import AppointmentCreate, AppointmentOut, RescheduleIn
from slotbook.booking.service.context import BookingContext
from slotbook.booking.service.decisions import check_plan, session_notices
from slotbook.booking.service.errors import InvalidTransition
from slotbook.booking.service.planning import Plan, plan_move, plan_new
from slotbook.booking.service.queries import appointment_out, get_appointment, when
from slotbook.catalog.repository import OutletRepository
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
        await repo.insert_new(appointment, lines)
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
        )
        for line in lines
    ]
    return appointment, rows


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
    plan = await plan_move(session, ctx.tenant_id, outlet, rows, start)

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
        for row, line in zip(rows, plan.lines, strict=True):
            row.starts_at, row.ends_at = line.starts_at, line.ends_at
        appointment.starts_at, appointment.ends_at = plan.lines[0].starts_at, plan.lines[-1].ends_at
        appointment.appointment_date, appointment.start_time = local_clock(
            plan.lines[0].starts_at, zone
        )
        appointment.end_time = local_clock(plan.lines[-1].ends_at, zone)[1]
        await repo.flush()
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


def instants(appointment: Appointment) -> dict[str, str]:
    """The appointment's interval as UTC instants, for the outbox event (the history
    keeps the local times)."""
    return {
        "starts_at": appointment.starts_at.isoformat(),
        "ends_at": appointment.ends_at.isoformat(),
    }


def _require_open(appointment: Appointment, action: str) -> None:
    if appointment.status not in rules.OPEN_STATUSES:
        raise InvalidTransition(f"Cannot {action} an appointment that is {appointment.status}")


ACTIONS = {
    rules.Status.CANCELLED: "cancel",
    rules.Status.NO_SHOW: "mark as no-show",
    rules.Status.CONFIRMED: "confirm",
    rules.Status.COMPLETED: "complete",
}


async def transition(
    session: AsyncSession,
    ctx: BookingContext,
    appointment_id: str,
    target: rules.Status,
    reason: str | None = None,
) -> AppointmentOut:
    """Move an appointment to another status; a repeat of the same move changes nothing.

    No staff lock: none of these moves takes a place that was not already held. The
    appointment's own lock orders it against a concurrent reschedule or status change.
    """
    repo = AppointmentRepository(session, ctx.tenant_id)

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
        await repo.record_events([NewEvent(appointment.id, target.value, ctx.now, ctx.actor, data)])

    await repo.locked(decide_and_write, appointment_ids=[appointment_id])
    return await get_appointment(session, ctx, appointment_id)
