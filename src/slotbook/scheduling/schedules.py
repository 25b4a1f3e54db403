"""Staff working hours and time off as the rules take them, read in one query."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.catalog.models import StaffView
from slotbook.catalog.repository import TimeOffRepository
from slotbook.scheduling import rules


async def load_schedules(
    session: AsyncSession,
    tenant_id: str,
    staff: Sequence[StaffView],
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
