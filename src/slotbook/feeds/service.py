"""Calendar feeds: who may make which, and how a feed reads as iCalendar (RFC 5545).

Tokens: ``secrets.token_urlsafe(32)`` (256 random bits), shown once; only their SHA-256
is stored, so a copy of the database opens no feed. Revoking a feed ends its URL at once.

Who: owners and admins manage every kind; the front desk (role ``staff``) manages
customer feeds only (it manages customers and their bookings, not staff or outlets).

What a feed holds, for the window ``now - 30 days`` to ``now + 180 days`` (by start):

- staff: one VEVENT per session (service and start) with its taken spots,
  "Group Yoga - 7/10 booked"; a session whose bookings are all cancelled is
  ``STATUS:CANCELLED``. Counts only: no customer's data (a feed URL ends up stored in
  third-party calendar services; rosters stay in the front desk).
- customer: one VEVENT per appointment, its services, staff and outlet; cancelled ones
  stay, ``STATUS:CANCELLED``, pending ones are ``TENTATIVE``.
- outlet: the class sessions holding at least one booking, with staff, taken spots and
  capacity; never a customer's name, email or phone.

Times are UTC (``...Z``); each description names the outlet's time zone and the local
times. UIDs are stable: ``appointment-<id>@slotbook`` and
``session-<staff>-<service>-<start epoch>@slotbook``. DTSTAMP is the last change of the
bookings behind an event, so the same data always renders the same bytes.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vDuration
from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.auth.security import MANAGERS, Principal
from slotbook.catalog.repository import CustomerRepository, OutletRepository, StaffRepository
from slotbook.errors import Forbidden, NotFound
from slotbook.feeds.models import CalendarFeed, FeedKind
from slotbook.feeds.repository import (
    CalendarFeedRepository,
    CustomerLine,
    FeedOutlet,
    LiveFeed,
    OutletSession,
    StaffSession,
    live_feed,
)
from slotbook.feeds.schemas import CalendarFeedCreate, CalendarFeedCreated
from slotbook.scheduling import rules
from slotbook.schemas import PageParams

WINDOW_BEFORE = timedelta(days=30)
WINDOW_AFTER = timedelta(days=180)
TOKEN_BYTES = 32
# How often calendar apps are asked to refetch (HTTP caching allows 5 minutes).
REFRESH = timedelta(hours=1)
PRODID = "-//Slotbook//Calendar feeds//EN"
UID_DOMAIN = "slotbook"
FRONT_DESK_KINDS = frozenset({FeedKind.CUSTOMER})
_STATUS = {
    rules.Status.PENDING: "TENTATIVE",
    rules.Status.CONFIRMED: "CONFIRMED",
    rules.Status.COMPLETED: "CONFIRMED",
    rules.Status.NO_SHOW: "CONFIRMED",
    rules.Status.CANCELLED: "CANCELLED",
}
_STATUS_TEXT = {
    rules.Status.PENDING: "pending",
    rules.Status.CONFIRMED: "confirmed",
    rules.Status.COMPLETED: "completed",
    rules.Status.NO_SHOW: "no-show",
    rules.Status.CANCELLED: "cancelled",
}


class FeedNotFound(NotFound):
    default_detail = "Calendar feed not found"


class FeedKindForbidden(Forbidden):
    default_detail = "Your role may manage customer feeds only"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def feed_path(token: str) -> str:
    return f"/feeds/{token}.ics"


def kinds_for(principal: Principal) -> frozenset[FeedKind]:
    """The kinds of feed a role may create, see and revoke."""
    return frozenset(FeedKind) if principal.role in MANAGERS else FRONT_DESK_KINDS


# Managing feeds


async def create_feed(
    session: AsyncSession, principal: Principal, data: CalendarFeedCreate, now: datetime
) -> CalendarFeedCreated:
    if data.kind not in kinds_for(principal):
        raise FeedKindForbidden()
    await _check_subject(session, principal.tenant_id, data.kind, data.subject_id)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    repo = CalendarFeedRepository(session, principal.tenant_id)
    feed = repo.add(
        CalendarFeed(
            kind=data.kind.value,
            subject_id=data.subject_id,
            token_hash=hash_token(token),
            created_by=principal.user_id,
            created_at=now,
        )
    )
    await repo.flush()
    return CalendarFeedCreated(
        id=feed.id,
        kind=data.kind,
        subject_id=feed.subject_id,
        created_at=feed.created_at,
        url=feed_path(token),
    )


async def _check_subject(
    session: AsyncSession, tenant_id: str, kind: FeedKind, subject_id: str
) -> None:
    """An unknown id, or another business's, is 422 naming ``subject_id``."""
    field = "subject_id"
    if kind is FeedKind.STAFF:
        await StaffRepository(session, tenant_id).view_for_field(subject_id, field)
    elif kind is FeedKind.CUSTOMER:
        await CustomerRepository(session, tenant_id).view_for_field(subject_id, field)
    else:
        await OutletRepository(session, tenant_id).view_for_field(subject_id, field)


async def list_feeds(
    session: AsyncSession,
    principal: Principal,
    kind: FeedKind | None,
    subject_id: str | None,
    page: PageParams,
) -> tuple[list[CalendarFeed], int]:
    """Live feeds the caller's role may manage (never their tokens)."""
    kinds = kinds_for(principal)
    if kind is not None:
        kinds = kinds & {kind}
    repo = CalendarFeedRepository(session, principal.tenant_id)
    return await repo.page(
        repo.listing({k.value for k in kinds}, subject_id), limit=page.limit, offset=page.offset
    )


async def revoke_feed(
    session: AsyncSession, principal: Principal, feed_id: str, now: datetime
) -> None:
    """Revoke at once; revoking a revoked feed changes nothing."""
    repo = CalendarFeedRepository(session, principal.tenant_id)
    feed = await repo.get(feed_id)
    if feed is None:
        raise FeedNotFound()
    if FeedKind(feed.kind) not in kinds_for(principal):
        raise FeedKindForbidden()
    if feed.revoked_at is None:
        feed.revoked_at = now
        await repo.flush()


# Reading a feed


async def feed_body(session: AsyncSession, token: str, now: datetime) -> bytes:
    """The iCalendar text of the live feed a token opens; 404 when unknown or revoked."""
    feed = await live_feed(session, hash_token(token))
    if feed is None:
        raise FeedNotFound()
    start, end = now - WINDOW_BEFORE, now + WINDOW_AFTER
    repo = CalendarFeedRepository(session, feed.tenant_id)
    kind = FeedKind(feed.kind)
    if kind is FeedKind.STAFF:
        return await _staff_feed(session, repo, feed, start, end)
    if kind is FeedKind.CUSTOMER:
        return await _customer_feed(session, repo, feed, start, end)
    return await _outlet_feed(repo, feed, start, end)


async def _staff_feed(
    session: AsyncSession,
    repo: CalendarFeedRepository,
    feed: LiveFeed,
    start: datetime,
    end: datetime,
) -> bytes:
    member = (await StaffRepository(session, feed.tenant_id).views([feed.subject_id])).get(
        feed.subject_id
    )
    if member is None:
        raise FeedNotFound()
    sessions = await repo.staff_sessions(member.id, start, end)
    outlets = await repo.outlets({item.outlet_id for item in sessions})
    calendar = _calendar(f"{member.name} - {feed.business_name}")
    for item in sessions:
        outlet = outlets.get(item.outlet_id)
        if outlet is not None:
            calendar.add_component(_staff_event(member.id, item, outlet))
    return _render(calendar)


async def _customer_feed(
    session: AsyncSession,
    repo: CalendarFeedRepository,
    feed: LiveFeed,
    start: datetime,
    end: datetime,
) -> bytes:
    customers = CustomerRepository(session, feed.tenant_id)
    if feed.subject_id not in await customers.views([feed.subject_id]):
        raise FeedNotFound()
    lines = await repo.customer_lines(feed.subject_id, start, end)
    calendar = _calendar(f"{feed.business_name} bookings")
    for appointment in _by_appointment(lines):
        calendar.add_component(_appointment_event(appointment))
    return _render(calendar)


async def _outlet_feed(
    repo: CalendarFeedRepository, feed: LiveFeed, start: datetime, end: datetime
) -> bytes:
    outlet = (await repo.outlets([feed.subject_id])).get(feed.subject_id)
    if outlet is None:
        raise FeedNotFound()
    sessions = await repo.outlet_sessions(outlet.id, start, end)
    calendar = _calendar(f"{outlet.name} classes - {feed.business_name}")
    for item in sessions:
        calendar.add_component(_outlet_event(item, outlet))
    return _render(calendar)


# iCalendar


def _calendar(name: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("name", name)
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH))
    return calendar


def _render(calendar: Calendar) -> bytes:
    body: bytes = calendar.to_ical()
    return body


def session_uid(staff_id: str, service_id: str, starts_at: datetime) -> str:
    return f"session-{staff_id}-{service_id}-{int(starts_at.timestamp())}@{UID_DOMAIN}"


def appointment_uid(appointment_id: str) -> str:
    return f"appointment-{appointment_id}@{UID_DOMAIN}"


def _capacity(allow_parallel_bookings: bool, max_parallel_bookings: int) -> int:
    return rules.ServicePolicy("", allow_parallel_bookings, max_parallel_bookings).capacity


def _event(
    uid: str,
    changed: datetime,
    starts_at: datetime,
    ends_at: datetime,
    summary: str,
    outlet_name: str,
    address: str | None,
    description: Iterable[str],
    status: str,
) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", changed)
    event.add("dtstart", starts_at)
    event.add("dtend", ends_at)
    event.add("summary", summary)
    event.add("location", f"{outlet_name}, {address}" if address else outlet_name)
    event.add("description", "\n".join(description))
    event.add("status", status)
    event.add("transp", "TRANSPARENT" if status == "CANCELLED" else "OPAQUE")
    return event


def _local_span(starts_at: datetime, ends_at: datetime, timezone: str) -> str:
    """ "2026-12-07 10:00-11:00 (Europe/London)": the outlet's wall clock, its zone named."""
    zone = ZoneInfo(timezone)
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    until = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M}"
    return f"{start:%Y-%m-%d %H:%M}-{until} ({timezone})"


def _staff_event(staff_id: str, item: StaffSession, outlet: FeedOutlet) -> Event:
    capacity = _capacity(item.allow_parallel_bookings, item.max_parallel_bookings)
    counts = f"{item.taken}/{capacity} booked"
    all_cancelled = item.taken == 0 and item.cancelled == item.bookings
    notes = [
        f"{item.service_name} at {outlet.name}",
        counts + (" (all bookings cancelled)" if all_cancelled else ""),
        _local_span(item.starts_at, item.ends_at, outlet.timezone),
    ]
    return _event(
        session_uid(staff_id, item.service_id, item.starts_at),
        item.changed,
        item.starts_at,
        item.ends_at,
        f"{item.service_name} - {counts}",
        outlet.name,
        outlet.address,
        notes,
        "CANCELLED" if all_cancelled else "CONFIRMED",
    )


def _outlet_event(item: OutletSession, outlet: FeedOutlet) -> Event:
    capacity = _capacity(item.allow_parallel_bookings, item.max_parallel_bookings)
    counts = f"{item.taken}/{capacity} booked"
    notes = [
        f"{item.service_name} with {item.staff_name} at {outlet.name}",
        counts,
        _local_span(item.starts_at, item.ends_at, outlet.timezone),
    ]
    return _event(
        session_uid(item.staff_id, item.service_id, item.starts_at),
        item.changed,
        item.starts_at,
        item.ends_at,
        f"{item.service_name} with {item.staff_name} - {counts}",
        outlet.name,
        outlet.address,
        notes,
        "CONFIRMED",
    )


@dataclass(frozen=True)
class _Appointment:
    first: CustomerLine
    lines: Sequence[CustomerLine]


def _by_appointment(lines: Sequence[CustomerLine]) -> list[_Appointment]:
    """Rows are ordered by appointment, then line: group them without reordering."""
    grouped: dict[str, list[CustomerLine]] = {}
    for line in lines:
        grouped.setdefault(line.appointment_id, []).append(line)
    return [_Appointment(group[0], group) for group in grouped.values()]


def _appointment_event(appointment: _Appointment) -> Event:
    first = appointment.first
    status = rules.Status(first.status)
    zone = ZoneInfo(first.timezone)
    services = list(dict.fromkeys(line.service_name for line in appointment.lines))
    notes = [
        f"{line.starts_at.astimezone(zone):%H:%M}-{line.ends_at.astimezone(zone):%H:%M} "
        f"{line.service_name} with {line.staff_name}"
        for line in appointment.lines
    ]
    notes.append(
        _local_span(first.appointment_starts_at, first.appointment_ends_at, first.timezone)
    )
    notes.append(f"Status: {_STATUS_TEXT[status]}")
    event = _event(
        appointment_uid(first.appointment_id),
        first.changed,
        first.appointment_starts_at,
        first.appointment_ends_at,
        f"{' + '.join(services)} at {first.outlet_name}",
        first.outlet_name,
        first.address,
        notes,
        _STATUS[status],
    )
    # Each change of the appointment is a revision (created is 0).
    event.add("sequence", max(0, first.revisions - 1))
    return event
