"""The worker's queries: claim outbox events, settle them, record deliveries, find
reminders that are due, and read what a message says about a booking.

Everything here runs in short transactions of the worker's own (``Database.transaction``),
across tenants: an event names its tenant, and reads of a tenant's rows go through that
tenant's repositories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from slotbook.auth.models import Tenant
from slotbook.booking.models import Appointment
from slotbook.booking.repository import AppointmentRepository, LineView
from slotbook.catalog.models import Customer, Outlet
from slotbook.ids import new_id
from slotbook.notifications.models import NotificationDelivery, NotificationReminder
from slotbook.notifications.schemas import ClaimedEvent, Outcome
from slotbook.outbox import (
    INSERT_NOTICES,
    Notice,
    OutboxEvent,
    OutboxStatus,
    appointment_stream,
    notice_rows,
)
from slotbook.scheduling.rules import OPEN_STATUSES
from slotbook.storage import Query, Storage, storage_of

PENDING = OutboxStatus.PENDING.value
_OPEN = sorted(status.value for status in OPEN_STATUSES)
_EARLIER = aliased(OutboxEvent)
_CLAIMED_COLUMNS = (
    OutboxEvent.seq,
    OutboxEvent.id,
    OutboxEvent.tenant_id,
    OutboxEvent.type,
    OutboxEvent.stream,
    OutboxEvent.payload,
    OutboxEvent.attempts,
    OutboxEvent.created_at,
)

# Everything a message says about some bookings but their lines, in one statement.
_MAIL_CONTEXTS = Query(
    sa.select(
        Appointment.id,
        Appointment.tenant_id,
        Tenant.name,
        Outlet.name,
        Outlet.address,
        Outlet.timezone,
        Customer.name,
        Customer.email,
        Appointment.status,
        Appointment.starts_at,
        Appointment.ends_at,
    )
    .join(Tenant, Tenant.id == Appointment.tenant_id)
    .join(Outlet, Outlet.id == Appointment.outlet_id)
    .join(Customer, Customer.id == Appointment.customer_id)
    .where(Appointment.id.in_(sa.bindparam("ids", expanding=True)))
)


@dataclass(frozen=True)
class MailContext:
    """What a message about one appointment says, read in one transaction."""

    tenant_id: str
    business_name: str
    outlet_name: str
    outlet_address: str | None
    timezone: str
    customer_name: str
    customer_email: str | None
    status: str
    starts_at: datetime
    ends_at: datetime
    lines: Sequence[LineView]


@dataclass(frozen=True)
class DueReminder:
    tenant_id: str
    appointment_id: str
    starts_at: datetime
    ends_at: datetime
    created_at: datetime


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def storage(self) -> Storage:
        return storage_of(self.session)

    async def _execute(self, statement: sa.Executable) -> sa.Result[Any]:
        return await self.storage.execute(self.session, statement)

    # Claims

    async def claim(
        self, now: datetime, worker: str, lease: timedelta, batch: int, max_attempts: int
    ) -> list[ClaimedEvent]:
        """Lease up to ``batch`` events that are due, in ``seq`` order.

        An event is claimable when it is pending, due, not leased by a live claim, and no
        earlier event of its stream is still pending: so a stream's events go out one at a
        time and in order, and a batch holds at most one event of each stream. Counting
        the attempt here means a worker that dies mid-delivery used one up too.
        """
        earlier_pending = sa.exists().where(
            _EARLIER.stream == OutboxEvent.stream,
            _EARLIER.seq < OutboxEvent.seq,
            _EARLIER.status == PENDING,
        )
        candidates = self.storage.skip_locked(
            sa.select(OutboxEvent.seq)
            .where(
                OutboxEvent.status == PENDING,
                OutboxEvent.available_at <= now,
                sa.or_(OutboxEvent.claimed_until.is_(None), OutboxEvent.claimed_until <= now),
                OutboxEvent.attempts < max_attempts,
                ~earlier_pending,
            )
            .order_by(OutboxEvent.seq)
            .limit(batch)
        )
        claimed = await self._execute(
            sa.update(OutboxEvent)
            .where(OutboxEvent.seq.in_(candidates))
            .values(
                claimed_by=worker,
                claimed_until=now + lease,
                attempts=OutboxEvent.attempts + 1,
            )
            .returning(*_CLAIMED_COLUMNS)
        )
        events = [ClaimedEvent(*tuple(row)) for row in claimed]
        return sorted(events, key=lambda event: event.seq)

    async def give_up_abandoned(self, now: datetime, max_attempts: int) -> None:
        """Events whose last allowed attempt died with its worker: failed, so their
        stream moves on."""
        await self._execute(
            sa.update(OutboxEvent)
            .where(
                OutboxEvent.status == PENDING,
                OutboxEvent.attempts >= max_attempts,
                OutboxEvent.claimed_until <= now,
            )
            .values(
                status=OutboxStatus.FAILED.value,
                claimed_until=None,
                last_error=sa.func.coalesce(
                    OutboxEvent.last_error, "the worker stopped during the last attempt"
                ),
            )
        )

    async def release(self, seqs: Sequence[int], worker: str) -> None:
        """Hand back claims this worker will not get to (it is stopping, or their lease is
        running out); the attempt it counted is given back too. Claims another worker
        has taken over since are left alone."""
        if not seqs:
            return
        await self._execute(
            sa.update(OutboxEvent)
            .where(
                OutboxEvent.seq.in_(list(seqs)),
                OutboxEvent.claimed_by == worker,
                OutboxEvent.status == PENDING,
            )
            .values(claimed_until=None, claimed_by=None, attempts=OutboxEvent.attempts - 1)
        )

    # Settling

    async def delivered(self, event: ClaimedEvent, now: datetime) -> None:
        await self._execute(
            sa.update(OutboxEvent)
            .where(OutboxEvent.seq == event.seq, OutboxEvent.status == PENDING)
            .values(
                status=OutboxStatus.DELIVERED.value,
                delivered_at=now,
                claimed_until=None,
                last_error=None,
            )
        )

    async def retry_later(
        self, event: ClaimedEvent, worker: str, at: datetime, error: str, final: bool
    ) -> None:
        """Back off until ``at``; or, after the last attempt, give up (``final``). Only
        while this worker still holds the claim: otherwise another has taken it over."""
        status = OutboxStatus.FAILED if final else OutboxStatus.PENDING
        await self._execute(
            sa.update(OutboxEvent)
            .where(
                OutboxEvent.seq == event.seq,
                OutboxEvent.status == PENDING,
                OutboxEvent.claimed_by == worker,
            )
            .values(
                status=status.value,
                available_at=at,
                claimed_until=None,
                last_error=error[:1000],
            )
        )

    # Deliveries

    async def sent_recipients(self, event_ids: Sequence[str], channel: str) -> set[tuple[str, str]]:
        """(event, recipient) pairs these events already reached (on an earlier attempt)."""
        if not event_ids:
            return set()
        rows = await self._execute(
            sa.select(NotificationDelivery.event_id, NotificationDelivery.recipient).where(
                NotificationDelivery.event_id.in_(list(event_ids)),
                NotificationDelivery.channel == channel,
                NotificationDelivery.status == "sent",
            )
        )
        pairs = (tuple(row) for row in rows)
        return {(str(event_id), str(recipient)) for event_id, recipient in pairs}

    async def record(
        self, event: ClaimedEvent, channel: str, outcome: Outcome, now: datetime
    ) -> None:
        """Write or update the delivery row of one message of ``event``."""
        email = outcome.email
        sent_at = now if outcome.status == "sent" else None
        error = outcome.error[:1000] if outcome.error else None
        values = {
            "id": new_id(),
            "tenant_id": event.tenant_id,
            "event_id": event.id,
            "event_type": event.type,
            "appointment_id": email.appointment_id,
            "channel": channel,
            "kind": email.kind,
            "recipient": email.recipient,
            "status": outcome.status,
            "attempts": 1,
            "last_error": error,
            "sent_at": sent_at,
            "created_at": now,
            "updated_at": now,
        }
        if await self.storage.insert_or_ignore(self.session, NotificationDelivery, values):
            return
        await self._execute(
            sa.update(NotificationDelivery)
            .where(
                NotificationDelivery.event_id == event.id,
                NotificationDelivery.channel == channel,
                NotificationDelivery.recipient == email.recipient,
            )
            .values(
                status=outcome.status,
                attempts=NotificationDelivery.attempts + 1,
                last_error=error,
                sent_at=sent_at,
                updated_at=now,
            )
        )

    # Reminders

    async def due_reminders(self, now: datetime, lead: timedelta, limit: int) -> list[DueReminder]:
        """Open appointments starting within ``lead`` of ``now`` whose current start has
        no reminder decided yet."""
        decided = sa.exists().where(
            NotificationReminder.appointment_id == Appointment.id,
            NotificationReminder.starts_at == Appointment.starts_at,
        )
        rows = await self._execute(
            sa.select(
                Appointment.tenant_id,
                Appointment.id,
                Appointment.starts_at,
                Appointment.ends_at,
                Appointment.created_at,
            )
            .where(
                Appointment.starts_at > now,
                Appointment.starts_at <= now + lead,
                Appointment.status.in_(_OPEN),
                ~decided,
            )
            .order_by(Appointment.starts_at)
            .limit(limit)
        )
        return [DueReminder(*tuple(row)) for row in rows]

    async def decide_reminder(self, due: DueReminder, notice: Notice | None, now: datetime) -> None:
        """Record the reminder of this start, and its outbox event when one is sent; a
        concurrent worker that decided it first wins."""
        values = {
            "appointment_id": due.appointment_id,
            "starts_at": due.starts_at,
            "tenant_id": due.tenant_id,
            "event_id": notice.id if notice else None,
            "created_at": now,
        }
        if not await self.storage.insert_or_ignore(self.session, NotificationReminder, values):
            return
        if notice is not None:
            await self.storage.insert_rows(
                self.session, INSERT_NOTICES, notice_rows(due.tenant_id, [notice])
            )

    # What a message says

    async def mail_contexts(
        self, bookings: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], MailContext]:
        """The bookings, by (tenant, appointment), as messages describe them now, in two
        statements (plus one per further tenant); gone ones are left out."""
        if not bookings:
            return {}
        ids = sorted({appointment_id for _, appointment_id in bookings})
        found = {
            (row[1], row[0]): row
            for row in await self.storage.fetch(self.session, _MAIL_CONTEXTS, {"ids": ids})
        }
        wanted = [key for key in set(bookings) if key in found]
        lines: dict[str, list[LineView]] = {}
        for tenant_id in sorted({tenant_id for tenant_id, _ in wanted}):
            of_tenant = [appointment_id for tenant, appointment_id in wanted if tenant == tenant_id]
            lines.update(await AppointmentRepository(self.session, tenant_id).lines_of(of_tenant))
        contexts = {}
        for key in wanted:
            (_, _, business, outlet, address, timezone, name, email, status, starts_at, ends_at) = (
                found[key]
            )
            contexts[key] = MailContext(
                key[0],
                business,
                outlet,
                address,
                timezone,
                name,
                email,
                status,
                starts_at,
                ends_at,
                lines.get(key[1], []),
            )
        return contexts

    async def calendar_sequence(self, event: ClaimedEvent, versions: Sequence[str]) -> int:
        """The calendar entry's SEQUENCE as of ``event``: how many events of the
        ``versions`` types the booking had up to it (0 for the first version)."""
        count = await self._execute(
            sa.select(sa.func.count())
            .select_from(OutboxEvent)
            .where(
                OutboxEvent.stream == appointment_stream(event.payload["appointment_id"]),
                OutboxEvent.seq <= event.seq,
                OutboxEvent.type.in_(list(versions)),
            )
        )
        return int(count.scalar_one())
