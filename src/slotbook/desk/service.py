"""The front desk's day view: read once, grouped into blocks, judged by the rules.

A block is a session in the rules' sense (one staff member, one service, the same start
and end): a class session with its roster and its waitlist, or a one-to-one appointment.
A scheduled session of a timetable class is a block whether or not anyone booked it,
and its capacity is the session's own (which may differ from the service's).
Its counts come from ``rules.judge`` over the spots the session's place-holding bookings
take (their party sizes), the verdict a new booking of that session would get; its
roster entries carry what each status allows (``rules.can_transition``), so the page
never decides either.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.desk.repository import DayClass, DayLine, DayWaiting, DeskRepository, LineService
from slotbook.desk.schemas import (
    DeskBlock,
    DeskDay,
    DeskInterval,
    DeskOutlet,
    DeskRosterEntry,
    DeskStaffColumn,
    DeskTimeOff,
    DeskWaitlistEntry,
)
from slotbook.errors import InvalidInput
from slotbook.scheduling import rules
from slotbook.scheduling.local import local_clock, policy_of, zone_of

# Far enough from date.min and date.max that the day's bounds never overflow (a 500).
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(9998, 12, 31)
SessionKey = tuple[str, str, datetime, datetime]


async def day_view(
    session: AsyncSession, tenant_id: str, outlet_id: str, day: date, now: datetime
) -> DeskDay:
    """The outlet's local day: a column per staff member, their blocks, rosters and
    waitlists (of the sessions that have not started at ``now``)."""
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise InvalidInput(
            f"date: must lie between {EARLIEST_DATE} and {LATEST_DATE}", field="date"
        )
    repo = DeskRepository(session, tenant_id)
    outlet = await repo.outlet(outlet_id)
    zone = zone_of(outlet)
    start, end = _local_midnight(day, zone), _local_midnight(day + timedelta(days=1), zone)
    lines = await repo.lines(outlet.id, start, end)
    waiting = await repo.waiting(outlet.id, max(start, now), end)
    classes = await repo.classes(outlet.id, start, end)
    named = (
        {line.staff_id for line in lines}
        | {entry.staff_id for entry in waiting}
        | {item.staff_id for item in classes}
    )
    staff = await repo.staff(outlet.id, named)
    schedules = await repo.schedules(staff, zone, start, end)

    sessions: dict[SessionKey, list[DayLine]] = defaultdict(list)
    services: dict[SessionKey, LineService] = {}
    scheduled: dict[SessionKey, DayClass] = {}
    for item in classes:  # a scheduled class shows before anyone books it
        key = (item.staff_id, item.service.id, item.starts_at, item.ends_at)
        scheduled[key] = item
        services[key] = item.service
    for line in lines:  # by start already
        key = (line.staff_id, line.service.id, line.starts_at, line.ends_at)
        sessions[key].append(line)
        services[key] = line.service
    lines_up: dict[SessionKey, list[DayWaiting]] = defaultdict(list)
    for entry in waiting:  # in joining order within each session
        key = (entry.staff_id, entry.service.id, entry.starts_at, entry.ends_at)
        lines_up[key].append(entry)
        services.setdefault(key, entry.service)
    blocks: dict[str, list[DeskBlock]] = defaultdict(list)
    # By start: a session whose bookings all left may still have customers waiting.
    for key in sorted(services, key=lambda k: (k[2], k[3], k[1])):
        blocks[key[0]].append(
            _block(
                key,
                services[key],
                sessions.get(key, []),
                lines_up.get(key, []),
                scheduled.get(key),
                zone,
                now,
            )
        )

    day_start = datetime.combine(day, time())
    day_end = day_start + timedelta(days=1)
    columns = []
    for member in staff:
        schedule = schedules[member.id]
        hours = sorted(schedule.working_hours.get(rules.WEEKDAYS[day.weekday()], ()))
        columns.append(
            DeskStaffColumn(
                id=member.id,
                name=member.name,
                active=member.active,
                working_hours=[DeskInterval(start=begin, end=finish) for begin, finish in hours],
                time_off=[
                    DeskTimeOff(start=off_start, end=off_end)
                    for off_start, off_end in sorted(schedule.time_off)
                    if off_start < day_end and day_start < off_end
                ],
                blocks=blocks.get(member.id, []),
            )
        )
    return DeskDay(
        date=day,
        outlet=DeskOutlet(id=outlet.id, name=outlet.name, timezone=outlet.timezone),
        staff=columns,
    )


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant the outlet's day begins (where midnight is skipped, the skip's start)."""
    return datetime.combine(day, time(), zone).astimezone(UTC)


def _block(
    key: SessionKey,
    service: LineService,
    booked: Sequence[DayLine],
    waiting: Sequence[DayWaiting],
    scheduled: DayClass | None,
    zone: ZoneInfo,
    now: datetime,
) -> DeskBlock:
    staff_id, service_id, starts_at, ends_at = key
    policy = policy_of(service)
    is_class = policy.allow_parallel_bookings
    roster = sorted(
        (_entry(line, zone, is_class) for line in booked),
        key=lambda e: (not e.holds_place, e.customer_name.casefold(), e.appointment_id),
    )
    taken = sum(entry.party_size for entry in roster if entry.holds_place)
    # What a further booking of this very session would be told: the rules' own count,
    # against the scheduled session's own capacity for a timetable class. (A timetable
    # block with no scheduled session - its session was cancelled - takes nobody more.)
    session_capacity = scheduled.capacity if scheduled is not None else None
    held = rules.Occupancy(taken, False, False, session_capacity=session_capacity)
    verdict = rules.judge(policy, held, True, False)
    bookable = not (policy.timetable and scheduled is None)
    start_clock, end_clock = local_clock(starts_at, zone)[1], local_clock(ends_at, zone)[1]
    when = f"{start_clock:%H:%M}-{end_clock:%H:%M}"
    if is_class:
        label = f"{service.name} {when} - {taken}/{verdict.max_capacity}"
    else:
        label = f"{service.name} {when} - " + (roster[0].customer_name if roster else "free")
    waitlist_enabled = is_class and service.waitlist_enabled
    limit = service.waitlist_limit
    return DeskBlock(
        key=f"{staff_id}|{service_id}|{starts_at:%Y-%m-%dT%H:%M:%SZ}|{ends_at:%Y-%m-%dT%H:%M:%SZ}",
        kind="class" if policy.allow_parallel_bookings else "appointment",
        service_id=service_id,
        service_name=service.name,
        session_id=scheduled.session_id if scheduled is not None else None,
        start_time=start_clock,
        end_time=end_clock,
        taken=taken,
        capacity=verdict.max_capacity,
        spots_left=verdict.available_capacity,
        almost_full=rules.almost_full(taken, verdict.max_capacity),
        full=verdict.capacity_reached,
        label=label,
        roster=roster,
        waitlist_enabled=waitlist_enabled,
        can_add_to_waitlist=waitlist_enabled
        and bookable
        and not rules.has_started(starts_at, now)
        and (limit is None or len(waiting) < limit),
        waitlist=[
            DeskWaitlistEntry(
                entry_id=entry.entry_id,
                customer_id=entry.customer_id,
                customer_name=entry.customer_name,
                email=entry.customer_email,
                phone=entry.customer_phone,
                party_size=entry.party_size,
                position=position,
                joined_at=entry.joined_at,
            )
            for position, entry in enumerate(waiting, start=1)
        ],
    )


def _entry(line: DayLine, zone: ZoneInfo, is_class: bool) -> DeskRosterEntry:
    status = rules.Status(line.status)
    appointment_day, appointment_start = local_clock(line.appointment_starts_at, zone)
    return DeskRosterEntry(
        appointment_id=line.appointment_id,
        customer_id=line.customer_id,
        customer_name=line.customer_name,
        email=line.customer_email,
        phone=line.customer_phone,
        status=status,
        party_size=line.party_size,
        holds_place=status in rules.ACTIVE_STATUSES,
        can_cancel=rules.can_transition(status, rules.Status.CANCELLED) is True,
        can_no_show=rules.can_transition(status, rules.Status.NO_SHOW) is True,
        # Booking moves only open appointments (``booking.service.commands.reschedule``).
        can_move=status in rules.OPEN_STATUSES,
        can_complete=rules.can_transition(status, rules.Status.COMPLETED) is True,
        # Booking changes the party of open appointments (``commands.change_party_size``);
        # a one-to-one service seats one.
        can_change_party_size=is_class and status in rules.OPEN_STATUSES,
        appointment_date=appointment_day,
        appointment_start_time=appointment_start,
        notes=line.notes,
    )
