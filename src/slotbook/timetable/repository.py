"""Class schedules and sessions: a statement goes in, rows come out, scoped to a tenant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.outbox import INSERT_NOTICES, Notice, notice_rows
from slotbook.repository import TenantRepository
from slotbook.scheduling.rules import SCHEDULED
from slotbook.storage import Query, storage_of
from slotbook.timetable.models import ClassSchedule, ClassSession, ClassSessionEvent
from slotbook.timetable.schemas import SessionFilters

_INSERT_SESSION = Query(sa.insert(ClassSession))
_INSERT_EVENT = Query(sa.insert(ClassSessionEvent))


class ScheduleRepository(TenantRepository[ClassSchedule]):
    model = ClassSchedule
    label = "Class schedule"

    def listing(
        self, outlet_id: str | None, service_id: str | None, staff_id: str | None
    ) -> sa.Select[ClassSchedule]:
        stmt = self.base_query().order_by(ClassSchedule.created_at, ClassSchedule.id)
        if outlet_id:
            stmt = stmt.where(ClassSchedule.outlet_id == outlet_id)
        if service_id:
            stmt = stmt.where(ClassSchedule.service_id == service_id)
        if staff_id:
            stmt = stmt.where(ClassSchedule.staff_id == staff_id)
        return stmt

    async def has_future_sessions(self, service_id: str, now: datetime) -> bool:
        stmt = (
            sa.select(ClassSession.id)
            .where(
                ClassSession.tenant_id == self.tenant_id,
                ClassSession.service_id == service_id,
                ClassSession.status == SCHEDULED,
                ClassSession.starts_at > now,
            )
            .limit(1)
        )
        return (await self.execute(stmt)).first() is not None


async def schedules_to_extend(
    session: AsyncSession, through: date, limit: int
) -> list[tuple[str, str]]:
    """(tenant, schedule) of schedules across every tenant whose sessions are laid out
    short of ``through`` and that have dates left: the worker's daily horizon move."""
    stmt = (
        sa.select(ClassSchedule.tenant_id, ClassSchedule.id)
        .where(
            ClassSchedule.sessions_until < through,
            sa.or_(
                ClassSchedule.last_date.is_(None),
                ClassSchedule.last_date > ClassSchedule.sessions_until,
            ),
        )
        .order_by(ClassSchedule.sessions_until, ClassSchedule.id)
        .limit(limit)
    )
    rows: Sequence[Any] = (await storage_of(session).execute(session, stmt)).all()
    return [(tenant_id, schedule_id) for tenant_id, schedule_id in rows]


class SessionRepository(TenantRepository[ClassSession]):
    model = ClassSession
    label = "Class session"

    def listing(self, filters: SessionFilters) -> sa.Select[ClassSession]:
        stmt = self.base_query().order_by(
            ClassSession.starts_at, ClassSession.staff_id, ClassSession.id
        )
        for column, value in (
            (ClassSession.outlet_id, filters.outlet_id),
            (ClassSession.service_id, filters.service_id),
            (ClassSession.staff_id, filters.staff_id),
            (ClassSession.schedule_id, filters.schedule_id),
            (ClassSession.status, filters.status),
        ):
            if value:
                stmt = stmt.where(column == value)
        if filters.start_date:
            stmt = stmt.where(ClassSession.session_date >= filters.start_date)
        if filters.end_date:
            stmt = stmt.where(ClassSession.session_date <= filters.end_date)
        return stmt

    async def of_schedule(
        self,
        schedule_id: str,
        *,
        from_date: date,
        after: datetime,
        limit: int | None = None,
    ) -> list[ClassSession]:
        """A schedule's scheduled sessions on or after ``from_date`` that start after
        ``after``, in order."""
        stmt = (
            self.base_query()
            .where(
                ClassSession.schedule_id == schedule_id,
                ClassSession.status == SCHEDULED,
                ClassSession.session_date >= from_date,
                ClassSession.starts_at > after,
            )
            .order_by(ClassSession.starts_at)
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        return list((await self.execute(stmt)).scalars())

    async def at(self, service_id: str, staff_id: str, starts_at: datetime) -> ClassSession | None:
        """The scheduled session of a service with this instructor at this start."""
        stmt = self.base_query().where(
            ClassSession.service_id == service_id,
            ClassSession.staff_id == staff_id,
            ClassSession.starts_at == starts_at,
            ClassSession.status == SCHEDULED,
        )
        return (await self.execute(stmt)).scalars().first()

    async def laid_out_dates(self, schedule_id: str, start: date, end: date) -> set[date]:
        """Occurrence dates of a schedule that already have a session (any status)."""
        stmt = sa.select(ClassSession.occurrence_date).where(
            ClassSession.tenant_id == self.tenant_id,
            ClassSession.schedule_id == schedule_id,
            ClassSession.occurrence_date >= start,
            ClassSession.occurrence_date <= end,
        )
        return {row[0] for row in await self.execute(stmt)}

    async def insert_many(self, sessions: Sequence[ClassSession]) -> None:
        """New sessions in one insert (a year of a daily class is 366 rows)."""
        rows = []
        for item in sessions:
            item.tenant_id = self.tenant_id
            rows.append({c.key: getattr(item, c.key) for c in ClassSession.__table__.columns})
        await self.storage.insert_rows(self.session, _INSERT_SESSION, rows)

    async def delete_many(self, session_ids: Sequence[str]) -> None:
        if session_ids:
            await self.execute(
                sa.delete(ClassSession).where(
                    ClassSession.tenant_id == self.tenant_id,
                    ClassSession.id.in_(sorted(session_ids)),
                )
            )

    async def record(
        self, events: Sequence[dict[str, Any]], notices: Sequence[Notice] = ()
    ) -> None:
        """Session history rows (type, at, user_id, actor, data, session_id) and the
        change's outbox events, in its transaction."""
        rows = [{"tenant_id": self.tenant_id, **event} for event in events]
        await self.storage.insert_rows(self.session, _INSERT_EVENT, rows)
        if notices:
            await self.storage.insert_rows(
                self.session, INSERT_NOTICES, notice_rows(self.tenant_id, list(notices))
            )

    async def events_of(self, session_id: str) -> list[ClassSessionEvent]:
        stmt = (
            sa.select(ClassSessionEvent)
            .where(
                ClassSessionEvent.tenant_id == self.tenant_id,
                ClassSessionEvent.session_id == session_id,
            )
            .order_by(ClassSessionEvent.at, ClassSessionEvent.id)
        )
        return list((await self.execute(stmt)).scalars())
