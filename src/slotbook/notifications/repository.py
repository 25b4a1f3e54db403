"""The worker's queries: claim outbox events, settle them, record deliveries, find
reminders that are due, expire waitlist entries whose session has started, and read what
a message says about a booking or a waitlist entry; the webhook queue
(``WebhookQueue``: fan an event out to its endpoints, claim and settle deliveries); and
the webhook API's tenant-scoped repositories.

The worker's queries run in short transactions of its own (``Database.transaction``),
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
from slotbook.booking.models import Appointment, WaitlistEntry
from slotbook.booking.repository import AppointmentRepository, LineView
from slotbook.catalog.models import Customer, Outlet, Service, Staff
from slotbook.ids import new_id
from slotbook.notifications.models import (
    NotificationDelivery,
    NotificationReminder,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookStatus,
)
from slotbook.notifications.schemas import ClaimedDelivery, ClaimedEvent, Outcome
from slotbook.outbox import (
    INSERT_NOTICES,
    Notice,
    OutboxEvent,
    OutboxStatus,
    appointment_stream,
    notice_rows,
)
from slotbook.repository import TenantRepository
from slotbook.scheduling.rules import OPEN_STATUSES, WaitlistStatus
from slotbook.storage import Query, Storage, storage_of

PENDING = OutboxStatus.PENDING.value
_OPEN = sorted(status.value for status in OPEN_STATUSES)
_WAITING = WaitlistStatus.WAITING.value
_EXPIRED = WaitlistStatus.EXPIRED.value
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
        Appointment.party_size,
    )
    .join(Tenant, Tenant.id == Appointment.tenant_id)
    .join(Outlet, Outlet.id == Appointment.outlet_id)
    .join(Customer, Customer.id == Appointment.customer_id)
    .where(Appointment.id.in_(sa.bindparam("ids", expanding=True)))
)


# The same for waitlist entries: the entry with its customer, business, outlet, service
# and staff member, in one statement.
_ENTRY_CONTEXTS = Query(
    sa.select(
        WaitlistEntry.id,
        WaitlistEntry.tenant_id,
        Tenant.name,
        Outlet.name,
        Outlet.address,
        Outlet.timezone,
        Customer.name,
        Customer.email,
        Service.name,
        Staff.name,
        WaitlistEntry.status,
        WaitlistEntry.starts_at,
        WaitlistEntry.ends_at,
        WaitlistEntry.party_size,
    )
    .join(Tenant, Tenant.id == WaitlistEntry.tenant_id)
    .join(Outlet, Outlet.id == WaitlistEntry.outlet_id)
    .join(Customer, Customer.id == WaitlistEntry.customer_id)
    .join(Service, Service.id == WaitlistEntry.service_id)
    .join(Staff, Staff.id == WaitlistEntry.staff_id)
    .where(WaitlistEntry.id.in_(sa.bindparam("ids", expanding=True)))
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
    # The spots the booking holds in each of its sessions.
    party_size: int = 1


@dataclass(frozen=True)
class EntryContext:
    """What a message about one waitlist entry says, read in one statement."""

    tenant_id: str
    entry_id: str
    business_name: str
    outlet_name: str
    outlet_address: str | None
    timezone: str
    customer_name: str
    customer_email: str | None
    service_name: str
    staff_name: str
    # As stored: a waiting entry of a started session is "waiting" until swept.
    status: str
    starts_at: datetime
    ends_at: datetime
    party_size: int


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
        # Two statements, as for the waitlist sweep (``expire_waiting``): a locking
        # ``IN (subquery)`` may run once per outer row and claim past its LIMIT.
        seqs = list((await self._execute(candidates)).scalars())
        if not seqs:
            return []
        claimed = await self._execute(
            sa.update(OutboxEvent)
            .where(OutboxEvent.seq.in_(seqs))
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

    # The waitlist

    async def expire_waiting(self, now: datetime, limit: int) -> list[WaitlistEntry]:
        """Mark up to ``limit`` waiting entries whose session has started (``starts_at <
        now``) as expired, across tenants, oldest session first; the entries as now
        stored.

        The candidates are claimed first, on PostgreSQL with ``FOR UPDATE SKIP LOCKED``
        (``Storage.skip_locked``), so workers sweeping at once take disjoint entries and
        none waits for another; then updated by id, on condition that they still wait,
        so an entry a concurrent change closed first is left as that change wrote it.
        Two statements, not an ``IN (subquery)``: PostgreSQL may run a locking subquery
        once per row of the outer scan (a nested-loop semi-join), each run skipping
        the rows already taken and locking more, so its LIMIT would bound nothing.
        """
        claimed = await self._execute(
            self.storage.skip_locked(
                sa.select(WaitlistEntry.id)
                .where(WaitlistEntry.status == _WAITING, WaitlistEntry.starts_at < now)
                .order_by(WaitlistEntry.starts_at, WaitlistEntry.id)
                .limit(limit)
            )
        )
        ids = [str(entry_id) for entry_id in claimed.scalars()]
        if not ids:
            return []
        expired = await self._execute(
            sa.update(WaitlistEntry)
            .where(WaitlistEntry.id.in_(ids), WaitlistEntry.status == _WAITING)
            .values(status=_EXPIRED, closed_at=now)
            .returning(WaitlistEntry)
            .execution_options(synchronize_session=False)
        )
        entries: list[WaitlistEntry] = list(expired.scalars())
        return sorted(entries, key=lambda entry: (entry.starts_at, entry.id))

    async def add_notices(self, notices: Sequence[tuple[str, Notice]]) -> None:
        """Write outbox events, each of its tenant, in one insert."""
        rows = [row for tenant_id, notice in notices for row in notice_rows(tenant_id, [notice])]
        await self.storage.insert_rows(self.session, INSERT_NOTICES, rows)

    async def entry_contexts(
        self, entries: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], EntryContext]:
        """Waitlist entries, by (tenant, entry), as messages describe them now, in one
        statement; gone ones are left out."""
        if not entries:
            return {}
        ids = sorted({entry_id for _, entry_id in entries})
        contexts = {}
        for row in await self.storage.fetch(self.session, _ENTRY_CONTEXTS, {"ids": ids}):
            entry_id, tenant_id, *described = tuple(row)
            contexts[(tenant_id, entry_id)] = EntryContext(tenant_id, entry_id, *described)
        return {key: contexts[key] for key in set(entries) if key in contexts}

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
                found[key][:11]
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
                found[key][11],
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


# Webhooks

HOOK_PENDING = WebhookStatus.PENDING.value
_EARLIER_DELIVERY = aliased(WebhookDelivery)
_GAVE_UP = "the worker stopped during the last attempt"


@dataclass(frozen=True)
class Subscriber:
    """An active endpoint of a tenant and the event types it takes."""

    endpoint_id: str
    event_types: list[str]


class WebhookQueue:
    """The worker's webhook queries, across tenants, in its own short transactions: the
    same lease protocol as the outbox (``OutboxRepository``), per delivery."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def storage(self) -> Storage:
        return storage_of(self.session)

    async def _execute(self, statement: sa.Executable) -> sa.Result[Any]:
        return await self.storage.execute(self.session, statement)

    # Fan-out (in the transaction that settles the outbox event)

    async def subscribers(self, tenant_id: str, since: datetime) -> list[Subscriber]:
        """The tenant's active endpoints registered by ``since`` (an event goes to the
        endpoints that existed when it happened)."""
        rows = await self._execute(
            sa.select(WebhookEndpoint.id, WebhookEndpoint.event_types)
            .where(
                WebhookEndpoint.tenant_id == tenant_id,
                WebhookEndpoint.active.is_(True),
                WebhookEndpoint.created_at <= since,
            )
            .order_by(WebhookEndpoint.id)
        )
        pairs = (tuple(row) for row in rows)
        return [Subscriber(str(endpoint_id), list(types)) for endpoint_id, types in pairs]

    async def add_deliveries(
        self, event: ClaimedEvent, endpoint_ids: Sequence[str], body: str, now: datetime
    ) -> None:
        """One delivery of ``event`` per endpoint; one already written (an earlier attempt
        at the event) is left as it is."""
        for endpoint_id in endpoint_ids:
            values = {
                "id": new_id(),
                "tenant_id": event.tenant_id,
                "endpoint_id": endpoint_id,
                "event_id": event.id,
                "event_seq": event.seq,
                "event_type": event.type,
                "stream": event.stream,
                "body": body,
                "status": HOOK_PENDING,
                "attempts": 0,
                "available_at": now,
                "created_at": now,
                "updated_at": now,
            }
            await self.storage.insert_or_ignore(self.session, WebhookDelivery, values)

    # Claims

    async def claim(
        self, now: datetime, worker: str, lease: timedelta, batch: int, max_attempts: int
    ) -> list[ClaimedDelivery]:
        """Lease up to ``batch`` due deliveries of active endpoints, oldest event first.

        As for the outbox: an earlier pending delivery of the same stream (appointment)
        to the same endpoint holds back the later ones, so an endpoint receives a
        stream's events one at a time and in order; the claim counts the attempt.
        """
        earlier_pending = sa.exists().where(
            _EARLIER_DELIVERY.endpoint_id == WebhookDelivery.endpoint_id,
            _EARLIER_DELIVERY.stream == WebhookDelivery.stream,
            _EARLIER_DELIVERY.event_seq < WebhookDelivery.event_seq,
            _EARLIER_DELIVERY.status == HOOK_PENDING,
        )
        endpoint_active = sa.exists().where(
            WebhookEndpoint.id == WebhookDelivery.endpoint_id,
            WebhookEndpoint.active.is_(True),
        )
        candidates = self.storage.skip_locked(
            sa.select(WebhookDelivery.id)
            .where(
                WebhookDelivery.status == HOOK_PENDING,
                WebhookDelivery.available_at <= now,
                sa.or_(
                    WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until <= now
                ),
                WebhookDelivery.attempts < max_attempts,
                endpoint_active,
                ~earlier_pending,
            )
            .order_by(WebhookDelivery.event_seq, WebhookDelivery.id)
            .limit(batch)
        )
        # Two statements, as for the outbox claim.
        ids = [str(i) for i in (await self._execute(candidates)).scalars()]
        if not ids:
            return []
        claimed = await self._execute(
            sa.update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids))
            .values(
                claimed_by=worker,
                claimed_until=now + lease,
                attempts=WebhookDelivery.attempts + 1,
                updated_at=now,
            )
            .returning(
                WebhookDelivery.id,
                WebhookDelivery.tenant_id,
                WebhookDelivery.endpoint_id,
                WebhookDelivery.event_id,
                WebhookDelivery.event_type,
                WebhookDelivery.body,
                WebhookDelivery.attempts,
                WebhookDelivery.event_seq,
            )
        )
        rows: list[tuple[Any, ...]] = [tuple(row) for row in claimed]
        if not rows:
            return []
        found = await self._execute(
            sa.select(WebhookEndpoint.id, WebhookEndpoint.url, WebhookEndpoint.secret).where(
                WebhookEndpoint.id.in_(sorted({row[2] for row in rows}))
            )
        )
        triples = (tuple(row) for row in found)
        endpoints = {
            str(endpoint_id): (str(url), str(secret)) for endpoint_id, url, secret in triples
        }
        rows.sort(key=lambda row: (row[7], row[0]))
        return [
            ClaimedDelivery(
                id,
                tenant_id,
                endpoint_id,
                event_id,
                event_type,
                body,
                attempts,
                *endpoints[endpoint_id],
            )
            for id, tenant_id, endpoint_id, event_id, event_type, body, attempts, _ in rows
        ]

    async def give_up_abandoned(self, now: datetime, max_attempts: int) -> list[str]:
        """Deliveries whose last allowed attempt died with its worker: failed, and their
        endpoints disabled (as after any last attempt). The endpoints' ids."""
        failed = await self._execute(
            sa.update(WebhookDelivery)
            .where(
                WebhookDelivery.status == HOOK_PENDING,
                WebhookDelivery.attempts >= max_attempts,
                sa.or_(
                    WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until <= now
                ),
            )
            .values(
                status=WebhookStatus.FAILED.value,
                claimed_until=None,
                last_error=sa.func.coalesce(WebhookDelivery.last_error, _GAVE_UP),
                updated_at=now,
            )
            .returning(WebhookDelivery.endpoint_id)
        )
        return sorted({str(row[0]) for row in failed})

    async def release(self, ids: Sequence[str], worker: str) -> None:
        """Hand back claims this worker will not get to, with the attempt they counted."""
        if not ids:
            return
        await self._execute(
            sa.update(WebhookDelivery)
            .where(
                WebhookDelivery.id.in_(list(ids)),
                WebhookDelivery.claimed_by == worker,
                WebhookDelivery.status == HOOK_PENDING,
            )
            .values(claimed_until=None, claimed_by=None, attempts=WebhookDelivery.attempts - 1)
        )

    # Settling

    async def delivered(
        self, delivery: ClaimedDelivery, now: datetime, status: int | None, excerpt: str | None
    ) -> None:
        await self._execute(
            sa.update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery.id, WebhookDelivery.status == HOOK_PENDING)
            .values(
                status=WebhookStatus.DELIVERED.value,
                delivered_at=now,
                claimed_until=None,
                last_response_status=status,
                last_response_body=excerpt,
                last_error=None,
                updated_at=now,
            )
        )

    async def retry_later(
        self,
        delivery: ClaimedDelivery,
        worker: str,
        at: datetime,
        now: datetime,
        status: int | None,
        excerpt: str | None,
        error: str,
    ) -> None:
        """Back off until ``at``, while this worker still holds the claim."""
        await self._execute(
            sa.update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery.id,
                WebhookDelivery.status == HOOK_PENDING,
                WebhookDelivery.claimed_by == worker,
            )
            .values(
                available_at=at,
                claimed_until=None,
                last_response_status=status,
                last_response_body=excerpt,
                last_error=error[:1000],
                updated_at=now,
            )
        )

    async def failed(
        self,
        delivery: ClaimedDelivery,
        worker: str,
        now: datetime,
        status: int | None,
        excerpt: str | None,
        error: str,
    ) -> bool:
        """Give up on the delivery, while this worker still holds the claim; whether it
        did (another worker may have taken the claim over, or a manager requeued it)."""
        result = await self._execute(
            sa.update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery.id,
                WebhookDelivery.status == HOOK_PENDING,
                WebhookDelivery.claimed_by == worker,
            )
            .values(
                status=WebhookStatus.FAILED.value,
                claimed_until=None,
                last_response_status=status,
                last_response_body=excerpt,
                last_error=error[:1000],
                updated_at=now,
            )
            .returning(WebhookDelivery.id)
        )
        return result.first() is not None

    async def disable_endpoint(self, endpoint_id: str, reason: str, now: datetime) -> None:
        """Disable an active endpoint and say why (a disabled one keeps its first reason).
        Its pending deliveries stay, unclaimed, until it is re-activated."""
        await self._execute(
            sa.update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.active.is_(True))
            .values(active=False, disabled_reason=reason[:1000], disabled_at=now, updated_at=now)
        )


class WebhookRepository(TenantRepository[WebhookEndpoint]):
    model = WebhookEndpoint
    label = "Webhook endpoint"

    def listing(self) -> sa.Select[WebhookEndpoint]:
        """The tenant's endpoints, oldest first."""
        return self.base_query().order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)

    async def delete(self, endpoint_id: str) -> None:
        """The endpoint and its delivery log."""
        await self.execute(
            sa.delete(WebhookDelivery).where(
                WebhookDelivery.tenant_id == self.tenant_id,
                WebhookDelivery.endpoint_id == endpoint_id,
            )
        )
        await self.execute(
            sa.delete(WebhookEndpoint).where(
                WebhookEndpoint.tenant_id == self.tenant_id, WebhookEndpoint.id == endpoint_id
            )
        )


class WebhookDeliveryRepository(TenantRepository[WebhookDelivery]):
    model = WebhookDelivery
    label = "Webhook delivery"

    def log(self, endpoint_id: str, status: str | None) -> sa.Select[WebhookDelivery]:
        """An endpoint's deliveries, newest event first."""
        stmt = (
            self.base_query()
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.event_seq.desc(), WebhookDelivery.id.desc())
        )
        if status is not None:
            stmt = stmt.where(WebhookDelivery.status == status)
        return stmt


class EmailLogRepository(TenantRepository[NotificationDelivery]):
    """The emails sent (or being retried) about appointments, for the people who look."""

    model = NotificationDelivery
    label = "Email"

    async def for_appointments(self, appointment_ids: Sequence[str]) -> list[NotificationDelivery]:
        """Every email about these appointments, oldest first, in one query."""
        if not appointment_ids:
            return []
        stmt = (
            self.base_query()
            .where(NotificationDelivery.appointment_id.in_(sorted(set(appointment_ids))))
            .where(NotificationDelivery.channel == "email")
            .order_by(NotificationDelivery.created_at, NotificationDelivery.id)
        )
        return list((await self.execute(stmt)).scalars())
