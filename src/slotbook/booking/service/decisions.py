"""The decision under the locks: re-read the staff's lines and schedules, ask the rules."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.booking.repository import AppointmentRepository
from slotbook.booking.service.errors import REFUSALS
from slotbook.booking.service.planning import Plan, PlannedLine
from slotbook.errors import InvalidInput
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
) -> None:
    """Refuse the plan unless the rules allow every line; call with the staff locked."""
    lines = plan.lines
    start = min(line.starts_at for line in lines)
    end = max(line.ends_at for line in lines)
    active = await repo.active_lines(plan.staff_ids, start, end)
    schedules = await load_schedules(
        session, repo.tenant_id, [line.staff for line in lines], plan.zone, start, end
    )
    for line in lines:
        decision = rules.decide(
            rules.Candidate(
                policy_of(line.service), line.starts_at, line.ends_at, exclude_appointment_id
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
        max_capacity=decision.max_capacity,
        capacity_reached=decision.capacity_reached,
        decision=decision.reason.value,
    )
