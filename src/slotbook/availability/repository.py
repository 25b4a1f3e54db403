"""Everything the grid reads, in a fixed number of queries whatever the range.

Lookups of the outlet, the service and the staff, then one query for time off and
one for the active booking lines of all those staff; no query per day, slot or
staff member, so a month's grid costs the same round trips as a day's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.booking.repository import AppointmentRepository, WaitlistRepository
from slotbook.catalog.models import OutletView, ServiceView, StaffView
from slotbook.catalog.repository import OutletRepository, ServiceRepository, StaffRepository
from slotbook.errors import InvalidInput
from slotbook.scheduling import rules
from slotbook.scheduling.local import policy_of, zone_of
from slotbook.scheduling.schedules import load_schedules


@dataclass(frozen=True)
class GridSubject:
    """The outlet, service and staff a grid is asked for, already checked."""

    outlet: OutletView
    service: ServiceView
    staff: Sequence[StaffView]

    @property
    def zone(self) -> ZoneInfo:
        return zone_of(self.outlet)

    @property
    def policy(self) -> rules.ServicePolicy:
        return policy_of(self.service)


# One session of one staff member: (staff id, service id, start, end, spots taken,
# capacity of a scheduled class session or None), with start and end in epoch seconds.
# The driver's rows themselves, unwrapped: a month holds thousands of sessions and most
# are never looked at more closely.
BookedSession = tuple[str, str, int, int, int, int | None]


class GridRepository:
    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def subject(self, outlet_id: str, service_id: str, staff_id: str | None) -> GridSubject:
        """Ids arrive as query parameters, not path ids: unknown ones are 422 naming the field."""
        outlet = await OutletRepository(self.session, self.tenant_id).view_for_field(
            outlet_id, "outlet_id"
        )
        service = await ServiceRepository(self.session, self.tenant_id).view_for_field(
            service_id, "service_id"
        )
        if not service.active:
            raise InvalidInput("service_id: the service is inactive", field="service_id")
        staff_repo = StaffRepository(self.session, self.tenant_id)
        staff = await staff_repo.offering(outlet.id, service.id, staff_id)
        if staff_id is not None and not staff:
            await self._explain_missing_staff(staff_repo, staff_id)
        return GridSubject(outlet, service, staff)

    async def _explain_missing_staff(self, staff_repo: StaffRepository, staff_id: str) -> None:
        if await staff_repo.get(staff_id) is None:
            raise InvalidInput("staff_id: unknown staff member id", field="staff_id")
        raise InvalidInput(
            "staff_id: staff member is inactive, works at another outlet "
            "or does not offer this service",
            field="staff_id",
        )

    async def schedules(
        self, subject: GridSubject, start: datetime, end: datetime
    ) -> dict[str, rules.Schedule]:
        """Working hours and time off of every staff member, in one query."""
        return await load_schedules(
            self.session, self.tenant_id, subject.staff, subject.zone, start, end
        )

    async def sessions(
        self, staff_ids: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, list[BookedSession]]:
        """The active lines of every staff member overlapping [start, end), counted per
        session, in one query; each staff member's sessions sorted by start.

        The same rows as ``AppointmentRepository.active_lines``, grouped in the database:
        a busy month holds far more lines than sessions, and fetching rows is a large
        part of a month's grid.
        """
        by_staff: dict[str, list[BookedSession]] = defaultdict(list)
        if not staff_ids:
            return by_staff
        repo = AppointmentRepository(self.session, self.tenant_id)
        for booked in await repo.booked_sessions(staff_ids, start, end):
            by_staff[booked[0]].append(booked)
        return by_staff

    async def waiting(
        self,
        service_id: str,
        staff_ids: Sequence[str],
        start: datetime,
        end: datetime,
        now: datetime,
    ) -> dict[str, dict[int, int]]:
        """Waiting entries per staff member and session start (epoch seconds) of a
        service's sessions in [start, end) that have not started, in one query."""
        by_staff: dict[str, dict[int, int]] = defaultdict(dict)
        counts = await WaitlistRepository(self.session, self.tenant_id).waiting_counts(
            service_id, staff_ids, start, end, now
        )
        for (staff_id, starts_at), count in counts.items():
            by_staff[staff_id][int(starts_at.timestamp())] = count
        return by_staff
