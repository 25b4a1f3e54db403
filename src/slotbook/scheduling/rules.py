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


class WaitlistStatus(StrEnum):
    """A waitlist entry's status; a waiting entry of a started session reads expired."""

    WAITING = "waiting"
    PROMOTED = "promoted"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


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
# A class session's statuses: a cancelled one is no longer offered and holds no time.
SCHEDULED = "scheduled"
SESSION_CANCELLED = "cancelled"
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
    ALREADY_BOOKED = "already_booked"
    # A timetable service runs only at its scheduled sessions.
    NOT_SCHEDULED = "not_scheduled"
    SLOT_TAKEN = "slot_taken"
    CAPACITY_REACHED = "capacity_reached"
    # A waitlist join's own outcomes (``may_join``).
    ALREADY_WAITING = "already_waiting"
    SPOTS_AVAILABLE = "spots_available"
    WAITLIST_FULL = "waitlist_full"


@dataclass(frozen=True)
class ServicePolicy:
    """A service's capacity, and whether it is booked only at its scheduled sessions
    (``timetable``) or at any start inside working hours."""

    service_id: str
    allow_parallel_bookings: bool
    max_parallel_bookings: int
    timetable: bool = False

    @property
    def capacity(self) -> int:
        return self.max_parallel_bookings if self.allow_parallel_bookings else 1


@dataclass(frozen=True)
class ActiveLine:
    """A line of an open or completed appointment, holding the staff member's time and
    ``party_size`` spots of its session.

    A scheduled class session of a timetable is a line too: it holds its instructor's
    time whether or not anyone booked, takes no spot itself (``party_size`` 0) and
    carries the session's ``capacity`` (None for a booking's line)."""

    appointment_id: str
    service_id: str
    starts_at: datetime
    ends_at: datetime
    party_size: int = 1
    customer_id: str | None = None
    capacity: int | None = None

    @property
    def scheduled(self) -> bool:
        return self.capacity is not None


def scheduled_session(
    service_id: str, starts_at: datetime, ends_at: datetime, capacity: int
) -> ActiveLine:
    """A timetable's session as the rules take it: a line holding no spot."""
    return ActiveLine("", service_id, starts_at, ends_at, 0, None, capacity)


@dataclass(frozen=True)
class Schedule:
    """A staff member's week and time off, in the outlet's wall-clock time."""

    timezone: ZoneInfo
    working_hours: Mapping[str, Sequence[tuple[time, time]]]
    time_off: Sequence[tuple[datetime, datetime]] = field(default_factory=tuple)


@dataclass(frozen=True)
class Candidate:
    """A service line someone wants: ``party_size`` spots for ``customer_id`` (None when
    no customer is asking, as for the grid's slots)."""

    service: ServicePolicy
    starts_at: datetime
    ends_at: datetime
    exclude_appointment_id: str | None = None
    party_size: int = 1
    customer_id: str | None = None


@dataclass(frozen=True)
class Decision:
    """A verdict on a line, with the session's spots taken by others
    (``current_bookings``), its capacity and the party asking."""

    reason: Reason
    current_bookings: int
    max_capacity: int
    staff_free: bool = True
    party_size: int = 1

    @property
    def allowed(self) -> bool:
        return self.reason is Reason.OK

    @property
    def capacity_reached(self) -> bool:
        """The party does not fit in the spots left (for a party of one: no spot left)."""
        return self.current_bookings + self.party_size > self.max_capacity

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
    """What a staff member's lines hold during a candidate's time: the spots taken in
    its very session, whether the staff member is taken otherwise, and whether the
    candidate's customer already holds a place in the session.

    It compares the lines' instants only with the candidate's and each other's, so it
    is the same for any slot and lines shifted together by the same amount of time.
    """

    same_session: int
    busy_elsewhere: bool
    staggered: bool
    customer_holds: bool = False
    # The capacity of the scheduled session at exactly the candidate's times, if any.
    session_capacity: int | None = None


def occupancy(candidate: Candidate, staff_lines: Iterable[ActiveLine]) -> Occupancy:
    """The lines overlapping the candidate: spots of its very session, lines of another
    service, or lines of this service at another start or end.

    Lines of ``candidate.exclude_appointment_id`` are ignored.
    """
    policy = candidate.service
    customer = candidate.customer_id
    same_session = 0
    busy_elsewhere = False
    staggered = False
    customer_holds = False
    session_capacity: int | None = None
    for line in staff_lines:
        if line.appointment_id == candidate.exclude_appointment_id:
            continue
        if not overlaps(line.starts_at, line.ends_at, candidate.starts_at, candidate.ends_at):
            continue
        if line.service_id != policy.service_id:
            busy_elsewhere = True
        elif line.starts_at == candidate.starts_at and line.ends_at == candidate.ends_at:
            if line.capacity is not None:
                session_capacity = line.capacity
            same_session += line.party_size
            if customer is not None and line.customer_id == customer:
                customer_holds = True
        elif policy.allow_parallel_bookings or line.capacity is not None:
            # A scheduled session holds its instructor's whole time, whatever the service.
            staggered = True
        else:
            same_session += line.party_size
    return Occupancy(same_session, busy_elsewhere, staggered, customer_holds, session_capacity)


def judge(
    policy: ServicePolicy,
    held: Occupancy,
    within_hours: bool,
    in_past: bool,
    party_size: int = 1,
) -> Decision:
    """The decision from its parts: what the lines hold, whether the slot lies inside
    working hours and clear of time off, whether it has already started, and how many
    spots the party needs. The refusals come in the contract's order: the staff member's
    time, then the customer's own place, then the session's spots.

    A timetable service is booked only at a scheduled session (first of all, else
    ``not_scheduled``), whose own capacity replaces the service's."""
    capacity = session_capacity(policy, held)
    if policy.timetable and held.session_capacity is None:
        reason = Reason.NOT_SCHEDULED
    elif not within_hours:
        reason = Reason.STAFF_UNAVAILABLE
    elif held.busy_elsewhere or held.staggered:
        reason = Reason.STAFF_BUSY
    elif held.customer_holds:
        reason = Reason.ALREADY_BOOKED
    elif not policy.allow_parallel_bookings:
        reason = Reason.SLOT_TAKEN if held.same_session else Reason.OK
    else:
        fits = held.same_session + party_size <= capacity
        reason = Reason.OK if fits else Reason.CAPACITY_REACHED
    staff_free = reason not in (
        Reason.STAFF_UNAVAILABLE,
        Reason.STAFF_BUSY,
        Reason.NOT_SCHEDULED,
    )
    if in_past:
        reason = Reason.IN_PAST
    return Decision(reason, held.same_session, capacity, staff_free, party_size)


def session_capacity(policy: ServicePolicy, held: Occupancy) -> int:
    """The spots of the candidate's session: a scheduled session's own capacity for a
    class, the service's otherwise (a one-to-one service seats one)."""
    if policy.timetable and policy.allow_parallel_bookings and held.session_capacity is not None:
        return held.session_capacity
    return policy.capacity


def placement(
    policy: ServicePolicy,
    starts_at: datetime,
    ends_at: datetime,
    staff_lines: Iterable[ActiveLine],
    schedule: Schedule,
    now: datetime,
) -> Reason:
    """Whether a class session may be placed (scheduled, moved, given a substitute):
    inside the instructor's working hours and clear of time off (``staff_unavailable``),
    clear of their other bookings and sessions (``staff_busy``: no instructor in two
    places), and not yet started (``in_past``). Bookings already at exactly its times
    join it; ``staff_lines`` must not hold the session itself."""
    open_policy = ServicePolicy(
        policy.service_id, policy.allow_parallel_bookings, policy.max_parallel_bookings
    )
    held = occupancy(Candidate(open_policy, starts_at, ends_at), staff_lines)
    if has_started(starts_at, now):
        return Reason.IN_PAST
    if not within_schedule(schedule, starts_at, ends_at):
        return Reason.STAFF_UNAVAILABLE
    if held.busy_elsewhere or held.staggered or held.session_capacity is not None:
        return Reason.STAFF_BUSY
    if not policy.allow_parallel_bookings and held.same_session:
        return Reason.STAFF_BUSY
    return Reason.OK


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
        has_started(candidate.starts_at, now),
        candidate.party_size,
    )


def has_started(starts_at: datetime, now: datetime) -> bool:
    """A session that has started takes no bookings, promotes nobody, and its waiting
    entries read as expired."""
    return starts_at < now


def party_fits_service(policy: ServicePolicy, party_size: int) -> bool:
    """A single-booking service seats one; a class seats a party up to its capacity."""
    if not policy.allow_parallel_bookings:
        return party_size == 1
    return party_size <= policy.capacity


# The waitlist


@dataclass(frozen=True)
class WaitingEntry:
    """A customer waiting for ``party_size`` spots of a session, in joining order."""

    entry_id: str
    customer_id: str
    party_size: int


def may_join(decision: Decision, already_waiting: bool, waiting: int, limit: int | None) -> Reason:
    """Whether a customer may join a session's waitlist, from the booking decision for
    their party: in the contract's order, the staff member's time and the customer's own
    place first, then an entry they already have, then the session's spots (a party
    that fits now books instead) and the waitlist's limit."""
    if decision.reason in (
        Reason.IN_PAST,
        Reason.STAFF_UNAVAILABLE,
        Reason.STAFF_BUSY,
        Reason.ALREADY_BOOKED,
    ):
        return decision.reason
    if already_waiting:
        return Reason.ALREADY_WAITING
    if decision.reason is Reason.OK:
        return Reason.SPOTS_AVAILABLE
    if decision.reason is not Reason.CAPACITY_REACHED:
        return decision.reason
    if limit is not None and waiting >= limit:
        return Reason.WAITLIST_FULL
    return Reason.OK


def promotions(
    policy: ServicePolicy,
    starts_at: datetime,
    ends_at: datetime,
    waiting: Sequence[WaitingEntry],
    staff_lines: Iterable[ActiveLine],
    schedule: Schedule,
    now: datetime,
) -> list[WaitingEntry]:
    """The waiting entries of one session that get its free spots, in joining order.

    Each entry is decided as its own booking would be, against the lines plus those
    promoted before it: one whose party does not fit, or that the rules refuse, keeps
    its place and the next is tried. An over-full session (grandfathered) and a started
    one promote nobody, as ``decide`` refuses every party there.
    """
    lines = list(staff_lines)
    chosen: list[WaitingEntry] = []
    for entry in waiting:
        candidate = Candidate(
            policy, starts_at, ends_at, party_size=entry.party_size, customer_id=entry.customer_id
        )
        if decide(candidate, lines, schedule, now).allowed:
            chosen.append(entry)
            lines.append(
                ActiveLine(
                    "", policy.service_id, starts_at, ends_at, entry.party_size, entry.customer_id
                )
            )
    return chosen


def can_transition(current: str, target: str) -> bool | None:
    """True: allowed; None: a repeat of what already happened (harmless); False: refused."""
    if current == target:
        return None
    if target == Status.CONFIRMED:
        return current == Status.PENDING
    if target in FINAL_STATUSES:
        return current in OPEN_STATUSES
    return False
