"""The waitlist: customers wait for a place in a full class, and every freed spot goes
to them first, in the transaction that frees it.

Joining, leaving and promotion all run under the locks of the session's staff member,
the lock every booking of that session takes, so a spot freed while someone who fits
is waiting is never seen free by anyone else: the freeing change promotes before it
commits. Promotion decides each entry through ``rules.promotions``, which asks
``rules.decide`` - the rules booking itself uses.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.booking.models import Appointment, AppointmentLine, WaitlistEntry
from slotbook.booking.repository import (
    Actor,
    AppointmentRepository,
    NewEvent,
    SessionKey,
    WaitlistRepository,
    session_of,
)
from slotbook.booking.schemas import WaitlistEntryOut, WaitlistFilters, WaitlistJoin
from slotbook.booking.service.context import BookingContext
from slotbook.booking.service.errors import REFUSALS, InvalidTransition
from slotbook.booking.service.planning import check_party_fits, check_staff_can_serve
from slotbook.booking.service.queries import instants, when
from slotbook.catalog.models import ServiceView
from slotbook.catalog.repository import (
    CustomerRepository,
    OutletRepository,
    ServiceRepository,
    StaffRepository,
)
from slotbook.errors import InvalidInput
from slotbook.ids import new_id
from slotbook.outbox import Notice
from slotbook.scheduling import rules
from slotbook.scheduling.local import local_clock, policy_of, start_instant, zone_of
from slotbook.scheduling.schedules import load_schedules
from slotbook.schemas import Page, PageParams

WAITING = rules.WaitlistStatus.WAITING.value
SYSTEM = Actor("system")


def waitlist_stream(entry_id: str) -> str:
    return f"waitlist:{entry_id}"


def entry_notice(
    kind: str, entry: WaitlistEntry, at: datetime, actor: Actor, **extra: Any
) -> Notice:
    """A "waitlist.<kind>" outbox event about one entry."""
    payload: dict[str, Any] = {
        "entry_id": entry.id,
        "customer_id": entry.customer_id,
        "outlet_id": entry.outlet_id,
        "service_id": entry.service_id,
        "staff_id": entry.staff_id,
        "date": entry.session_date.isoformat(),
        "start_time": entry.start_time.strftime("%H:%M:%S"),
        "end_time": entry.end_time.strftime("%H:%M:%S"),
        "starts_at": entry.starts_at.isoformat(),
        "ends_at": entry.ends_at.isoformat(),
        "party_size": entry.party_size,
        "appointment_id": entry.appointment_id,
        "actor": actor.kind,
        "user_id": actor.user_id,
        **extra,
    }
    return Notice(new_id(), f"waitlist.{kind}", waitlist_stream(entry.id), at, payload)


def reads_as(entry: WaitlistEntry, now: datetime) -> rules.WaitlistStatus:
    """The entry's status as answered: waiting for a session that started is expired."""
    if entry.status == WAITING and rules.has_started(entry.starts_at, now):
        return rules.WaitlistStatus.EXPIRED
    return rules.WaitlistStatus(entry.status)


def entry_out(entry: WaitlistEntry, ahead: int | None, now: datetime) -> WaitlistEntryOut:
    status = reads_as(entry, now)
    return WaitlistEntryOut(
        id=entry.id,
        status=status,
        position=ahead + 1
        if ahead is not None and status is rules.WaitlistStatus.WAITING
        else None,
        outlet_id=entry.outlet_id,
        customer_id=entry.customer_id,
        service_id=entry.service_id,
        staff_id=entry.staff_id,
        date=entry.session_date,
        start_time=entry.start_time,
        end_time=entry.end_time,
        party_size=entry.party_size,
        appointment_id=entry.appointment_id,
        created_at=entry.created_at,
    )


async def render_entries(
    session: AsyncSession, ctx: BookingContext, entries: Sequence[WaitlistEntry]
) -> list[WaitlistEntryOut]:
    """Entries as answered, with their positions, in one query."""
    ahead = await WaitlistRepository(session, ctx.tenant_id).ahead_of(entries)
    return [entry_out(e, ahead.get(e.id), ctx.now) for e in entries]


# Joining and leaving


async def join_waitlist(
    session: AsyncSession, ctx: BookingContext, data: WaitlistJoin
) -> WaitlistEntryOut:
    """Put a customer in line for a full session.

    Checked in the contract's order: the input (422), the staff member's time and the
    customer's own place (as booking checks them), an entry they already have, then
    the session's spots - a party that fits now books instead - and the waitlist limit.
    """
    outlet = await OutletRepository(session, ctx.tenant_id).view_for_field(
        data.outlet_id, "outlet_id"
    )
    await CustomerRepository(session, ctx.tenant_id).view_for_field(data.customer_id, "customer_id")
    service = await ServiceRepository(session, ctx.tenant_id).view_for_field(
        data.service_id, "service_id"
    )
    if not service.active:
        raise InvalidInput("service_id: the service is inactive", field="service_id")
    if not service.waitlist_enabled:
        raise InvalidInput("service_id: this service keeps no waitlist", field="service_id")
    staff, offered = await StaffRepository(session, ctx.tenant_id).with_offered(
        [data.staff_id], [service.id]
    )
    member = staff.get(data.staff_id)
    if member is None:
        raise InvalidInput("staff_id: unknown staff member", field="staff_id")
    check_staff_can_serve(member, service, outlet, offered.get(member.id, []), "")
    check_party_fits(service, data.party_size)
    zone = zone_of(outlet)
    starts_at = start_instant(data.date, data.start_time, zone, "start_time")
    ends_at = starts_at + timedelta(minutes=service.duration)
    key = SessionKey(member.id, service.id, starts_at, ends_at)
    repo = WaitlistRepository(session, ctx.tenant_id)
    bookings = AppointmentRepository(session, ctx.tenant_id)

    async def decide_and_write() -> WaitlistEntry:
        schedules = await load_schedules(session, ctx.tenant_id, [member], zone, starts_at, ends_at)
        lines = await bookings.active_lines([member.id], starts_at, ends_at)
        candidate = rules.Candidate(
            policy_of(service),
            starts_at,
            ends_at,
            party_size=data.party_size,
            customer_id=data.customer_id,
        )
        decision = rules.decide(candidate, lines.get(member.id, ()), schedules[member.id], ctx.now)
        entries = await repo.of_session(key)
        waiting = [e for e in entries if e.status == WAITING]
        verdict = rules.may_join(
            decision,
            already_waiting=any(e.customer_id == data.customer_id for e in waiting),
            waiting=len(waiting),
            limit=service.waitlist_limit,
        )
        if verdict is rules.Reason.IN_PAST:
            raise InvalidInput(
                "start_time: the session would start in the past", field="start_time"
            )
        if verdict is not rules.Reason.OK:
            raise REFUSALS[verdict]()
        local_day, start_clock = local_clock(starts_at, zone)
        entry = WaitlistEntry(
            id=new_id(),
            outlet_id=outlet.id,
            customer_id=data.customer_id,
            service_id=service.id,
            staff_id=member.id,
            session_date=local_day,
            start_time=start_clock,
            end_time=local_clock(ends_at, zone)[1],
            starts_at=starts_at,
            ends_at=ends_at,
            party_size=data.party_size,
            seq=max((e.seq for e in entries), default=0) + 1,
            status=WAITING,
            appointment_id=None,
            created_by=ctx.actor.user_id,
            created_via=ctx.created_via,
            created_at=ctx.now,
            closed_at=None,
        )
        repo.add(entry)
        await repo.flush()
        notice = entry_notice(
            "joined",
            entry,
            ctx.now,
            ctx.actor,
            position=len(waiting) + 1,
            service_name=service.name,
            staff_name=member.name,
        )
        await repo.record([notice])
        return entry

    # The staff member's lock: the one every booking, cancel and promotion of this
    # session takes, so a join never sees a spot that a concurrent change frees.
    entry = await bookings.locked(decide_and_write, staff_ids=[member.id])
    return (await render_entries(session, ctx, [entry]))[0]


async def cancel_entry(
    session: AsyncSession, ctx: BookingContext, entry_id: str
) -> WaitlistEntryOut:
    """Leave the line; a repeat is harmless, a promoted or expired entry cannot leave."""
    repo = WaitlistRepository(session, ctx.tenant_id)
    entry = await repo.get_or_404(entry_id)

    async def decide_and_write() -> None:
        # Re-read under the lock: a promotion may have taken the entry meanwhile.
        await repo.refresh(entry)
        status = reads_as(entry, ctx.now)
        if status is rules.WaitlistStatus.CANCELLED:
            return
        if status is not rules.WaitlistStatus.WAITING:
            raise InvalidTransition(f"Cannot cancel a waitlist entry that is {status.value}")
        entry.status = rules.WaitlistStatus.CANCELLED.value
        entry.closed_at = ctx.now
        await repo.flush()
        await repo.record([entry_notice("cancelled", entry, ctx.now, ctx.actor, reason="left")])

    # The session's staff lock orders the cancel against a promotion of the same entry.
    await AppointmentRepository(session, ctx.tenant_id).locked(
        decide_and_write, staff_ids=[entry.staff_id]
    )
    return (await render_entries(session, ctx, [entry]))[0]


async def get_entry(session: AsyncSession, ctx: BookingContext, entry_id: str) -> WaitlistEntryOut:
    entry = await WaitlistRepository(session, ctx.tenant_id).get_or_404(entry_id)
    return (await render_entries(session, ctx, [entry]))[0]


async def find_entry(session: AsyncSession, tenant_id: str, entry_id: str) -> WaitlistEntry | None:
    """An entry, or None: for readers that answer a miss their own way (a private link)."""
    return await WaitlistRepository(session, tenant_id).get(entry_id)


async def list_entries(
    session: AsyncSession, ctx: BookingContext, filters: WaitlistFilters, page: PageParams
) -> Page[WaitlistEntryOut]:
    repo = WaitlistRepository(session, ctx.tenant_id)
    items, total = await repo.page(
        repo.listing(filters, ctx.now), limit=page.limit, offset=page.offset
    )
    return Page(items=await render_entries(session, ctx, items), total=total)


# Changes that free spots or take a customer's place


async def close_for_booked_customer(
    session: AsyncSession, ctx: BookingContext, customer_id: str, sessions: Sequence[SessionKey]
) -> None:
    """A customer who got a place another way (booked, rescheduled in) stops waiting for
    it. Call under the sessions' staff locks, in the change's transaction."""
    repo = WaitlistRepository(session, ctx.tenant_id)
    entries = await repo.waiting_of_customer(customer_id, sessions)
    if not entries:
        return
    for entry in entries:
        entry.status = rules.WaitlistStatus.CANCELLED.value
        entry.closed_at = ctx.now
    await repo.flush()
    await repo.record(
        [entry_notice("cancelled", e, ctx.now, ctx.actor, reason="booked") for e in entries]
    )


async def promote(
    session: AsyncSession, ctx: BookingContext, freed: Sequence[SessionKey]
) -> list[str]:
    """Book waiting customers into the spots of ``freed`` sessions, in joining order.

    Sessions of the same staff member that overlap a freed one are tried too: the staff
    member's freed time may let a class run that they could not teach before. Call
    under the staff locks of those sessions, after the freeing write, in its
    transaction. Each promoted entry becomes a confirmed appointment of its party
    (its "created" history event names the entry) and reads ``promoted``. Answers the
    new appointments' ids.
    """
    repo = WaitlistRepository(session, ctx.tenant_id)
    waiting = await repo.waiting_around(freed, ctx.now)
    if not waiting:
        return []
    entries = [e for group in waiting.values() for e in group]
    services = await ServiceRepository(session, ctx.tenant_id).views(
        [e.service_id for e in entries]
    )
    staff, offered = await StaffRepository(session, ctx.tenant_id).with_offered(
        [e.staff_id for e in entries], list(services)
    )
    outlets = await OutletRepository(session, ctx.tenant_id).views([e.outlet_id for e in entries])
    bookings = AppointmentRepository(session, ctx.tenant_id)
    start = min(key.starts_at for key in waiting)
    end = max(key.ends_at for key in waiting)
    lines = await bookings.active_lines(sorted(staff), start, end)
    by_outlet: dict[str, list[SessionKey]] = defaultdict(list)
    # Sessions in the order their lines began: when two overlapping sessions of one
    # staff member could both run now, the one whose customers waited longest does.
    for key, group in sorted(waiting.items(), key=_longest_waiting_first):
        by_outlet[group[0].outlet_id].append(key)
    appointments: list[Appointment] = []
    new_lines: list[AppointmentLine] = []
    promoted: list[tuple[WaitlistEntry, str]] = []
    events: list[NewEvent] = []
    notices: list[Notice] = []
    for outlet_id, keys in by_outlet.items():
        zone = zone_of(outlets[outlet_id])
        members = [staff[k.staff_id] for k in keys if k.staff_id in staff]
        schedules = await load_schedules(session, ctx.tenant_id, members, zone, start, end)
        for key in keys:
            service, member = services.get(key.service_id), staff.get(key.staff_id)
            if service is None or member is None or not _bookable(service, member, offered):
                continue
            in_line = {e.id: e for e in waiting[key]}
            chosen = rules.promotions(
                policy_of(service),
                key.starts_at,
                key.ends_at,
                [rules.WaitingEntry(e.id, e.customer_id, e.party_size) for e in in_line.values()],
                lines[key.staff_id],
                schedules[key.staff_id],
                ctx.now,
            )
            for picked in chosen:
                entry = in_line[picked.entry_id]
                # What this promotion holds counts for the staff member's next session.
                lines[key.staff_id].append(
                    rules.ActiveLine(
                        "",
                        key.service_id,
                        key.starts_at,
                        key.ends_at,
                        entry.party_size,
                        entry.customer_id,
                    )
                )
                appointment, line = _booking_of(entry, ctx.now)
                appointments.append(appointment)
                new_lines.append(line)
                promoted.append((entry, appointment.id))
                events.append(
                    NewEvent(
                        appointment.id,
                        "created",
                        ctx.now,
                        SYSTEM,
                        {
                            "status": appointment.status,
                            **when(appointment),
                            "waitlist_entry_id": entry.id,
                        },
                        instants(appointment),
                    )
                )
                notices.append(
                    entry_notice(
                        "promoted",
                        entry,
                        ctx.now,
                        SYSTEM,
                        appointment_id=appointment.id,
                        service_name=service.name,
                    )
                )
    if not appointments:
        return []
    await bookings.insert_new(appointments, new_lines)
    # Only now: an entry naming its appointment must not reach the database before the
    # appointment does (a flush may run before any statement).
    for entry, appointment_id in promoted:
        entry.status = rules.WaitlistStatus.PROMOTED.value
        entry.appointment_id = appointment_id
        entry.closed_at = ctx.now
    await repo.flush()
    await bookings.record_events(events, notices)
    return [a.id for a in appointments]


def _longest_waiting_first(item: tuple[SessionKey, list[WaitlistEntry]]) -> tuple[Any, ...]:
    key, entries = item
    return (entries[0].created_at, entries[0].seq, key.starts_at, key.staff_id, key.service_id)


def _bookable(service: ServiceView, member: Any, offered: dict[str, list[str]]) -> bool:
    """Rule 2 for a promotion: a waiting customer is booked only where booking would be
    allowed at all (the service active with its waitlist, the staff member active and
    offering it)."""
    return (
        service.active
        and service.waitlist_enabled
        and member.active
        and service.id in offered.get(member.id, [])
    )


def _booking_of(entry: WaitlistEntry, now: datetime) -> tuple[Appointment, AppointmentLine]:
    appointment = Appointment(
        id=new_id(),
        outlet_id=entry.outlet_id,
        customer_id=entry.customer_id,
        status=rules.Status.CONFIRMED.value,
        appointment_date=entry.session_date,
        start_time=entry.start_time,
        end_time=entry.end_time,
        starts_at=entry.starts_at,
        ends_at=entry.ends_at,
        notes=None,
        party_size=entry.party_size,
        created_by=None,
        created_via="waitlist",
        created_at=now,
        cancelled_at=None,
        cancel_reason=None,
    )
    line = AppointmentLine(
        id=new_id(),
        appointment_id=appointment.id,
        position=0,
        staff_id=entry.staff_id,
        service_id=entry.service_id,
        status=appointment.status,
        starts_at=entry.starts_at,
        ends_at=entry.ends_at,
        party_size=entry.party_size,
        customer_id=entry.customer_id,
    )
    return appointment, line


# A changed service


async def service_changed(
    session: AsyncSession, tenant_id: str, user_id: str, service: ServiceView, now: datetime
) -> None:
    """After a service's capacity or waitlist changed: a raised capacity promotes waiting
    customers into the new spots; a waitlist turned off cancels its waiting entries."""
    repo = WaitlistRepository(session, tenant_id)
    pending = await repo.waiting_for_service(service.id, now)
    if not pending:
        return
    ctx = BookingContext(tenant_id, Actor("user", user_id), now)

    locked = sorted({e.staff_id for e in pending})

    async def decide_and_write() -> None:
        # Re-read under the locks: a join or promotion may have landed meanwhile (one
        # for a staff member not locked here is left to that staff member's next change).
        entries = [
            e for e in await repo.waiting_for_service(service.id, now) if e.staff_id in locked
        ]
        if service.waitlist_enabled:
            await promote(session, ctx, sorted({session_of(e) for e in entries}, key=_order))
            return
        for entry in entries:
            entry.status = rules.WaitlistStatus.CANCELLED.value
            entry.closed_at = now
        await repo.flush()
        await repo.record(
            [
                entry_notice("cancelled", e, now, ctx.actor, reason="waitlist_closed")
                for e in entries
            ]
        )

    # The staff locks of every session with someone waiting: the locks booking and
    # promotion take, so no booking takes a spot the new capacity frees before the
    # waiting customers get it.
    await AppointmentRepository(session, tenant_id).locked(decide_and_write, staff_ids=locked)


def _order(key: SessionKey) -> tuple[datetime, str]:
    return key.starts_at, key.staff_id
