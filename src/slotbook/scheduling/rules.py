"""The booking rules, as pure functions over plain data.

Booking decides through ``decide``, which is ``judge`` over ``occupancy``,
``within_schedule`` and the clock; the availability grid calls the same three parts
(so that it can reuse their answers across its thousands of slots). Neither has a
second copy of these rules, so a slot the grid offers is a slot that books.
Times are aware UTC instants; working hours and time off are the outlet's
wall-clock times, compared in the outlet's zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class Status(StrEnum):
    """An appointment's status (the contract's five)."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    COMPLETED = "completed"


class Weekday(StrEnum):
    """Day names as working hours are keyed, Monday first (``date.weekday()`` order)."""

    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"


# Statuses that hold a place (and the staff member's time), are still open, are final.
ACTIVE_STATUSES = frozenset({Status.PENDING, Status.CONFIRMED, Status.COMPLETED})
OPEN_STATUSES = frozenset({Status.PENDING, Status.CONFIRMED})
FINAL_STATUSES = frozenset({Status.CANCELLED, Status.NO_SHOW, Status.COMPLETED})
WEEKDAYS = tuple(day.value for day in Weekday)
LONGEST_LINE = timedelta(minutes=1440)
# "Almost full": more than this share of a class's spots taken.
ALMOST_FULL_SHARE = 0.8


def almost_full(taken: int, capacity: int) -> bool:
    """More than 80% of a class's spots taken, and not yet full."""
    return taken < capacity and taken > capacity * ALMOST_FULL_SHARE


class Reason(StrEnum):
    OK = "ok"
    IN_PAST = "in_past"
    STAFF_UNAVAILABLE = "staff_unavailable"
    STAFF_BUSY = "staff_busy"
    SLOT_TAKEN = "slot_taken"
    CAPACITY_REACHED = "capacity_reached"


@dataclass(frozen=True)
class ServicePolicy:
    service_id: str
    allow_parallel_bookings: bool
    max_parallel_bookings: int

    @property
    def capacity(self) -> int:
        return self.max_parallel_bookings if self.allow_parallel_bookings else 1


@dataclass(frozen=True)
class ActiveLine:
    """A line of an open or completed appointment, holding the staff member's time."""

    appointment_id: str
    service_id: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Schedule:
    """A staff member's week and time off, in the outlet's wall-clock time."""

    timezone: ZoneInfo
    working_hours: Mapping[str, Sequence[tuple[time, time]]]
    time_off: Sequence[tuple[datetime, datetime]] = field(default_factory=tuple)


@dataclass(frozen=True)
class Candidate:
    service: ServicePolicy
    starts_at: datetime
    ends_at: datetime
    exclude_appointment_id: str | None = None


@dataclass(frozen=True)
class Decision:
    reason: Reason
    current_bookings: int
    max_capacity: int
    staff_free: bool = True

    @property
    def allowed(self) -> bool:
        return self.reason is Reason.OK

    @property
    def capacity_reached(self) -> bool:
        return self.current_bookings >= self.max_capacity

    @property
    def available_capacity(self) -> int:
        """Spots left in the session; none when the staff member is taken otherwise."""
        if not self.staff_free:
            return 0
        return max(0, self.max_capacity - self.current_bookings)


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Half-open intervals: back to back is not an overlap."""
    return a_start < b_end and b_start < a_end


def parse_working_hours(
    raw: Mapping[str, Iterable[Mapping[str, str]]],
) -> dict[str, list[tuple[time, time]]]:
    return {
        day: [(time.fromisoformat(i["start"]), time.fromisoformat(i["end"])) for i in intervals]
        for day, intervals in raw.items()
    }


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime | None:
    """The instant of a wall-clock time; None when that time does not exist (DST gap).

    An ambiguous time (DST fold) means its first occurrence.
    """
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=zone, fold=0)
    round_trip = aware.astimezone(ZoneInfo("UTC")).astimezone(zone).replace(tzinfo=None)
    if round_trip != naive:
        return None
    return aware.astimezone(ZoneInfo("UTC"))


def within_schedule(schedule: Schedule, starts_at: datetime, ends_at: datetime) -> bool:
    """Inside one working interval of the local day, and clear of all time off."""
    local_start = starts_at.astimezone(schedule.timezone)
    local_end = ends_at.astimezone(schedule.timezone)
    if local_end.date() != local_start.date():
        return False
    start_clock, end_clock = local_start.time(), local_end.time()
    intervals = schedule.working_hours.get(WEEKDAYS[local_start.weekday()], ())
    if not any(begin <= start_clock and end_clock <= finish for begin, finish in intervals):
        return False
    if not schedule.time_off:
        return True
    naive_start, naive_end = local_start.replace(tzinfo=None), local_end.replace(tzinfo=None)
    return not any(
        off_start < naive_end and naive_start < off_end for off_start, off_end in schedule.time_off
    )


@dataclass(frozen=True, slots=True)
class Occupancy:
    """What a staff member's lines hold during a candidate's time.

    It compares the lines' instants only with the candidate's and each other's, so it
    is the same for any slot and lines shifted together by the same amount of time.
    """

    same_session: int
    busy_elsewhere: bool
    staggered: bool


def occupancy(candidate: Candidate, staff_lines: Iterable[ActiveLine]) -> Occupancy:
    """The lines overlapping the candidate: bookings of its very session, lines of another
    service, or lines of this service at another start or end.

    Lines of ``candidate.exclude_appointment_id`` are ignored.
    """
    policy = candidate.service
    same_session = 0
    busy_elsewhere = False
    staggered = False
    for line in staff_lines:
        if line.appointment_id == candidate.exclude_appointment_id:
            continue
        if not overlaps(line.starts_at, line.ends_at, candidate.starts_at, candidate.ends_at):
            continue
        if line.service_id != policy.service_id:
            busy_elsewhere = True
        elif line.starts_at == candidate.starts_at and line.ends_at == candidate.ends_at:
            same_session += 1
        elif policy.allow_parallel_bookings:
            staggered = True
        else:
            same_session += 1
    return Occupancy(same_session, busy_elsewhere, staggered)


def judge(
    policy: ServicePolicy, held: Occupancy, within_hours: bool, in_past: bool
) -> Decision:
    """The decision from its parts: what the lines hold, whether the slot lies inside
    working hours and clear of time off, and whether it has already started."""
    if not within_hours:
        reason = Reason.STAFF_UNAVAILABLE
    elif held.busy_elsewhere or held.staggered:
        reason = Reason.STAFF_BUSY
    elif not policy.allow_parallel_bookings:
        reason = Reason.SLOT_TAKEN if held.same_session else Reason.OK
    else:
        reason = Reason.CAPACITY_REACHED if held.same_session >= policy.capacity else Reason.OK
    staff_free = reason not in (Reason.STAFF_UNAVAILABLE, Reason.STAFF_BUSY)
    if in_past:
        reason = Reason.IN_PAST
    return Decision(reason, held.same_session, policy.capacity, staff_free)


def decide(
    candidate: Candidate,
    staff_lines: Iterable[ActiveLine],
    schedule: Schedule,
    now: datetime,
) -> Decision:
    """Whether one service line may be booked for a staff member, and why not.

    ``staff_lines`` are that staff member's active lines (any service) around the
    candidate; lines of ``candidate.exclude_appointment_id`` are ignored.
    """
    return judge(
        candidate.service,
        occupancy(candidate, staff_lines),
        within_schedule(schedule, candidate.starts_at, candidate.ends_at),
        candidate.starts_at < now,
    )


def can_transition(current: str, target: str) -> bool | None:
    """True: allowed; None: a repeat of what already happened (harmless); False: refused."""
    if current == target:
        return None
    if target == Status.CONFIRMED:
        return current == Status.PENDING
    if target in FINAL_STATUSES:
        return current in OPEN_STATUSES
    return False
