"""The decision under the locks: re-read the staff's lines and schedules, ask the rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.booking.repository import AppointmentRepository
from slotbook.booking.service.errors import REFUSALS
from slotbook.booking.service.planning import Plan, PlannedLine
from slotbook.errors import InvalidInput
from slotbook.ids import new_id
from slotbook.outbox import Notice
from slotbook.scheduling import rules
from slotbook.scheduling.local import policy_of
from slotbook.scheduling.schedules import load_schedules

log = structlog.get_logger("slotbook.booking")


async def check_plan(
    session: AsyncSession,
    repo: AppointmentRepository,
    plan: Plan,
    now: Any,
    exclude_appointment_id: str | None = None,
) -> list[rules.Decision]:
    """Refuse the plan unless the rules allow every line; call with the staff locked.

    The decisions, one per line in the plan's order, say how full each line's session
    was before this booking (the session events are decided from them)."""
    lines = plan.lines
    decisions: list[rules.Decision] = []
    start = min(line.starts_at for line in lines)
    end = max(line.ends_at for line in lines)
    active = await repo.active_lines(plan.staff_ids, start, end)
    schedules = await load_schedules(
        session, repo.tenant_id, [line.staff for line in lines], plan.zone, start, end
    )
    for line in lines:
        decision = rules.decide(
            rules.Candidate(
                policy_of(line.service),
                line.starts_at,
                line.ends_at,
                exclude_appointment_id,
                plan.party_size,
                plan.customer_id,
            ),
            active.get(line.staff.id, ()),
            schedules[line.staff.id],
            now,
        )
        log_decision(repo.tenant_id, line, decision)
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
        decisions.append(decision)
    return decisions


def session_notices(
    plan: Plan, decisions: Sequence[rules.Decision], appointment_id: str, now: datetime
) -> list[Notice]:
    """ "session.almost_full" / "session.full" for each class session this booking takes
    across that line (more than 80% of its spots taken / all of them)."""
    notices: list[Notice] = []
    for line, decision in zip(plan.lines, decisions, strict=True):
        if not line.service.allow_parallel_bookings:
            continue
        before, capacity = decision.current_bookings, decision.max_capacity
        after = before + plan.party_size
        if after >= capacity > before:
            kind = "session.full"
        elif rules.almost_full(after, capacity) and not rules.almost_full(before, capacity):
            kind = "session.almost_full"
        else:
            continue
        payload = {
            "outlet_id": plan.outlet.id,
            "service_id": line.service.id,
            "service_name": line.service.name,
            "staff_id": line.staff.id,
            "starts_at": line.starts_at.isoformat(),
            "ends_at": line.ends_at.isoformat(),
            "bookings": after,
            "capacity": capacity,
            "appointment_id": appointment_id,
        }
        stream = f"session:{line.staff.id}:{line.service.id}:{int(line.starts_at.timestamp())}"
        notices.append(Notice(new_id(), kind, stream, now, payload))
    return notices


def log_decision(tenant_id: str, line: PlannedLine, decision: rules.Decision) -> None:
    """Rule 6: one line per decision on a service line, accepted or refused."""
    log.info(
        "parallel_booking_capacity_check",
        tenant_id=tenant_id,
        staff_id=line.staff.id,
        service_id=line.service.id,
        start=line.starts_at.isoformat(),
        allow_parallel_bookings=line.service.allow_parallel_bookings,
        current_bookings=decision.current_bookings,
        party_size=decision.party_size,
        max_capacity=decision.max_capacity,
        capacity_reached=decision.capacity_reached,
        decision=decision.reason.value,
    )
