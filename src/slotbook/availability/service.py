"""The availability grid: every start offered to customers, judged by the booking rules.

The inputs are read in a fixed handful of queries (see ``repository``); the rest is
computed in memory. Each slot is judged by the parts of ``rules.decide``, the function
booking uses, so ``is_available`` is true exactly when booking that slot now would
succeed.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.availability import schemas
from slotbook.availability.repository import BookedSession, GridRepository
from slotbook.availability.schemas import (
    DaySlots,
    Grid,
    SlotStaff,
    SlotTimes,
    SlotVerdict,
    StartSlots,
)
from slotbook.errors import InvalidInput
from slotbook.scheduling import rules

# (service id, start, end, spots taken, capacity of a scheduled class session or None),
# start and end in epoch seconds
SessionSignature = tuple[str, int, int, int, int | None]
# (start minute, signatures of the sessions around the slot, waiting entries of its
# session), within one day
Situation = tuple[int, tuple[SessionSignature, ...], int | None]
# The slots of one start while a day is computed: its times, then its staff and their
# verdicts, in two columns (see ``schemas.StartSlots``)
StartColumns = tuple[SlotTimes, list[SlotStaff], list[SlotVerdict]]
# Far enough from date.min and date.max that the day arithmetic around a range never
# overflows (which would be a 500), and wider than any booking anyone makes.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(9998, 12, 31)


@dataclass(frozen=True, slots=True)
class SlotTiming:
    """One wall-clock start of one day: its instants and its slot times.

    The instants also come in epoch seconds, the unit sessions are searched in.
    ``reach_back`` is the start minus the longest booked session: a session starting at
    or before it has ended by the slot's start, so only later ones can overlap the slot.
    """

    starts_at: datetime
    ends_at: datetime
    starts_epoch: int
    ends_epoch: int
    reach_back_epoch: int
    times: SlotTimes


class StaffSessions:
    """One staff member's booked sessions, sorted by start, searched by bisection.

    Times are epoch seconds: integers compare and hash faster than datetimes, and only
    the few sessions that reach the rules become datetimes again.
    """

    def __init__(self, sessions_by_start: Sequence[BookedSession]) -> None:
        self.starts = [session[2] for session in sessions_by_start]
        # A tuple, so that a slice of it is already the hashable key of a situation.
        self.signatures: tuple[SessionSignature, ...] = tuple(
            (service_id, starts_at, ends_at, bookings, capacity)
            for _staff, service_id, starts_at, ends_at, bookings, capacity in sessions_by_start
        )

    @property
    def longest(self) -> int:
        """The longest session's length in seconds."""
        return max((ends - starts for _, starts, ends, _, _ in self.signatures), default=0)

    def lines(self, low: int, high: int) -> list[rules.ActiveLine]:
        """Sessions ``low:high`` as the rules take them: one line holding the session's
        spots (a scheduled class session is a line of its own, holding none).

        Appointment ids only matter to the rules when one is excluded (a reschedule),
        and customers when one asks; the grid excludes none and asks for nobody.
        """
        return [
            rules.ActiveLine(
                "",
                service_id,
                datetime.fromtimestamp(starts_epoch, UTC),
                datetime.fromtimestamp(ends_epoch, UTC),
                spots,
                None,
                capacity,
            )
            for service_id, starts_epoch, ends_epoch, spots, capacity in self.signatures[low:high]
        ]


NO_SESSIONS = StaffSessions(())


@dataclass(frozen=True, slots=True)
class GridMember:
    """A staff member as the grid needs them: plain values, read once per request.

    ``schedule_group`` is shared by staff whose hours and time off are equal;
    ``waiting`` counts the waiting entries of their sessions by start (epoch seconds),
    None when the service keeps no waitlist."""

    staff: SlotStaff
    schedule: rules.Schedule
    schedule_group: int
    sessions: StaffSessions
    waiting: Mapping[int, int] | None = None


class SlotClock:
    """Turns a day's wall-clock starts into instants, once per distinct start.

    Staff usually share hours, so most starts reuse a conversion done for a colleague.
    Durations are elapsed minutes, so on a DST change day the local end can differ from
    start + duration on the wall clock.
    """

    def __init__(self, zone: ZoneInfo, duration: timedelta, longest_session: int) -> None:
        self.zone = zone
        self.duration = duration
        self.longest_session = longest_session
        self._known: dict[date, dict[int, SlotTiming | None]] = {}

    def listed_starts(
        self, schedule: rules.Schedule, day: date, interval: int
    ) -> list[tuple[int, SlotTiming]]:
        """A schedule's slots that day, as (minute after midnight, timing): those inside
        its working hours and clear of its time off, by the rules' ``within_schedule``.
        Local times that do not exist that day (clocks spring forward) are left out."""
        known = self._known.setdefault(day, {})
        found = []
        for minute in wall_clock_starts(schedule, day, interval):
            if minute not in known:
                known[minute] = self._convert(day, minute)
            timing = known[minute]
            if timing is not None and rules.within_schedule(
                schedule, timing.starts_at, timing.ends_at
            ):
                found.append((minute, timing))
        return found

    def _convert(self, day: date, minute: int) -> SlotTiming | None:
        clock = time(minute // 60, minute % 60)
        instant = rules.local_instant(day, clock, self.zone)
        if instant is None:
            return None
        # The same tzinfo object as stored lines and the clock: comparing datetimes that
        # share it skips two utcoffset() calls, and the grid compares thousands of times.
        starts_at = instant.replace(tzinfo=UTC)
        ends_at = starts_at + self.duration
        end_clock = ends_at.astimezone(self.zone)
        starts_epoch = int(starts_at.timestamp())
        return SlotTiming(
            starts_at,
            ends_at,
            starts_epoch,
            int(ends_at.timestamp()),
            starts_epoch - self.longest_session,
            schemas.slot_times(clock, end_clock.time()),
        )


def dates_in_range(start_date: date, end_date: date) -> list[date]:
    for field, value in (("start_date", start_date), ("end_date", end_date)):
        if not EARLIEST_DATE <= value <= LATEST_DATE:
            raise InvalidInput(
                f"{field}: must lie between {EARLIEST_DATE} and {LATEST_DATE}", field=field
            )
    if end_date < start_date:
        raise InvalidInput("end_date: must not be before start_date", field="end_date")
    count = (end_date - start_date).days + 1
    if count > schemas.MAX_GRID_DAYS:
        raise InvalidInput(
            f"end_date: the range may span at most {schemas.MAX_GRID_DAYS} days, not {count}",
            field="end_date",
        )
    return [start_date + timedelta(days=offset) for offset in range(count)]


def wall_clock_starts(schedule: rules.Schedule, day: date, interval: int) -> Iterator[int]:
    """Minutes after midnight: from each working interval's start, every ``interval``
    minutes of wall-clock time. Whether the slot fits is for the rules to say."""
    for begin, finish in schedule.working_hours.get(rules.WEEKDAYS[day.weekday()], ()):
        yield from range(begin.hour * 60 + begin.minute, finish.hour * 60 + finish.minute, interval)


def compute_grid(
    days: Sequence[date],
    members: Sequence[GridMember],
    policy: rules.ServicePolicy,
    slot_clock: SlotClock,
    interval: int,
    now: datetime,
) -> Grid:
    """Every listed start judged by the booking rules, in memory, ordered by start time,
    then staff name.

    Staff with equal hours share their listed starts. A slot's verdict depends only on
    its start and the sessions around it, and most sessions look alike (empty, or
    holding the same number of bookings), so each distinct situation of a day is judged
    once and reused for every staff member in it. This loop runs once per slot (13,000
    times for a month of 30 staff), so it keeps to local names and allocates nothing
    per slot: it appends the slot's staff and verdict to its start's two columns.
    """
    judge = SlotJudge(policy, now)
    grid: Grid = {}
    for day in days:
        by_minute: dict[int, StartColumns] = {}
        starts_of_group: dict[int, list[tuple[int, SlotTiming]]] = {}
        verdicts: dict[Situation, SlotVerdict] = {}
        for member in members:  # in name order, which each minute's list keeps
            group = member.schedule_group
            day_starts = starts_of_group.get(group)
            if day_starts is None:
                day_starts = starts_of_group[group] = slot_clock.listed_starts(
                    member.schedule, day, interval
                )
                for minute, timing in day_starts:
                    by_minute.setdefault(minute, (timing.times, [], []))
            session_starts = member.sessions.starts
            signatures = member.sessions.signatures
            staff = member.staff
            waiting = member.waiting
            for minute, timing in day_starts:
                low = bisect_right(session_starts, timing.reach_back_epoch)
                high = bisect_left(session_starts, timing.ends_epoch, low)
                in_line = None if waiting is None else waiting.get(timing.starts_epoch, 0)
                situation = (minute, signatures[low:high], in_line)
                verdict = verdicts.get(situation)
                if verdict is None:
                    verdict = verdicts[situation] = judge(
                        member.sessions, timing, low, high, in_line
                    )
                _times, staff_column, verdict_column = by_minute[minute]
                staff_column.append(staff)
                verdict_column.append(verdict)
        grid[day] = DaySlots([StartSlots(*by_minute[minute]) for minute in sorted(by_minute)])
    return grid


class SlotJudge:
    """A listed slot through the booking rules: its verdict.

    ``rules.decide`` is ``rules.judge`` over ``occupancy``, ``within_schedule`` and the
    clock. Listed slots are within schedule already. ``occupancy`` depends only on where
    the sessions lie relative to the slot, so its verdict is kept per layout relative
    to the slot's start and reused across days and staff: a month has thousands of
    situations but a few dozen layouts.
    """

    def __init__(self, policy: rules.ServicePolicy, now: datetime) -> None:
        self.policy = policy
        self.now = now
        self._verdicts: dict[
            tuple[tuple[SessionSignature, ...], bool, int | None], SlotVerdict
        ] = {}

    def __call__(
        self,
        sessions: StaffSessions,
        timing: SlotTiming,
        low: int,
        high: int,
        waiting: int | None,
    ) -> SlotVerdict:
        origin = timing.starts_epoch
        layout = tuple(
            (service_id, starts_epoch - origin, ends_epoch - origin, spots, capacity)
            for service_id, starts_epoch, ends_epoch, spots, capacity in sessions.signatures[
                low:high
            ]
        )
        in_past = rules.has_started(timing.starts_at, self.now)
        key = (layout, in_past, waiting)
        verdict = self._verdicts.get(key)
        if verdict is None:
            held = rules.occupancy(
                rules.Candidate(self.policy, timing.starts_at, timing.ends_at),
                sessions.lines(low, high),
            )
            decision = rules.judge(self.policy, held, within_hours=True, in_past=in_past)
            parallel = self.policy.allow_parallel_bookings
            verdict = self._verdicts[key] = schemas.slot_verdict(
                decision.allowed,
                parallel,
                decision.available_capacity if parallel else None,
                decision.max_capacity if parallel else None,
                waiting,
            )
        return verdict


def compute_timetable(
    days: Sequence[date],
    members: Sequence[GridMember],
    policy: rules.ServicePolicy,
    zone: ZoneInfo,
    now: datetime,
) -> Grid:
    """A timetable service's grid: exactly its scheduled sessions in the range (nothing
    else books), each judged as booking it now would be, with its own capacity.

    Each session is judged through ``rules.occupancy`` and ``rules.judge``, with working
    hours and time off checked by ``within_schedule`` as booking checks them. A month of
    a busy studio has hundreds of sessions but few distinct situations, so, as in
    ``compute_grid``, the work is shared: the instants and local clocks of a start and
    end once per request (instructors teaching at the same time share them), the
    schedule check once per schedule group and times, and the verdict once per layout
    of the lines around the session relative to its start (``occupancy`` compares
    instants only with each other), whether it has started, whether it lies within
    schedule and its waiting entries.
    """
    wanted = set(days)
    by_day: dict[date, dict[tuple[time, time], StartColumns]] = {day: {} for day in days}
    parallel = policy.allow_parallel_bookings
    service_id = policy.service_id
    # (start, end) in epoch seconds -> its instants, local day and clocks, or None when
    # the session starts outside the range
    timings: dict[tuple[int, int], tuple[datetime, datetime, date, tuple[time, time]] | None] = {}
    within: dict[tuple[int, int, int], bool] = {}
    verdicts: dict[tuple[tuple[SessionSignature, ...], bool, bool, int | None], SlotVerdict] = {}
    for member in members:  # in name order, which each start's list keeps
        sessions = member.sessions
        signatures = sessions.signatures
        if not signatures:
            continue
        session_starts = sessions.starts
        reach = sessions.longest
        group = member.schedule_group
        waiting_of = member.waiting
        for signature in signatures:
            if signature[4] is None or signature[0] != service_id:
                continue
            starts_epoch, ends_epoch = signature[1], signature[2]
            instants = (starts_epoch, ends_epoch)
            if instants in timings:
                timing = timings[instants]
            else:
                starts_at = datetime.fromtimestamp(starts_epoch, UTC)
                ends_at = datetime.fromtimestamp(ends_epoch, UTC)
                local_start = starts_at.astimezone(zone)
                day = local_start.date()
                timing = timings[instants] = (
                    (
                        starts_at,
                        ends_at,
                        day,
                        (local_start.time().replace(tzinfo=None), ends_at.astimezone(zone).time()),
                    )
                    if day in wanted
                    else None
                )
            if timing is None:
                continue
            starts_at, ends_at, day, clocks = timing
            schedule_key = (group, starts_epoch, ends_epoch)
            within_hours = within.get(schedule_key)
            if within_hours is None:
                within_hours = within[schedule_key] = rules.within_schedule(
                    member.schedule, starts_at, ends_at
                )
            low = bisect_right(session_starts, starts_epoch - reach)
            high = bisect_left(session_starts, ends_epoch, low)
            waiting = None if waiting_of is None else waiting_of.get(starts_epoch, 0)
            in_past = rules.has_started(starts_at, now)
            layout = tuple(
                (line_service, line_start - starts_epoch, line_end - starts_epoch, spots, cap)
                for line_service, line_start, line_end, spots, cap in signatures[low:high]
            )
            key = (layout, in_past, within_hours, waiting)
            verdict = verdicts.get(key)
            if verdict is None:
                held = rules.occupancy(
                    rules.Candidate(policy, starts_at, ends_at), sessions.lines(low, high)
                )
                decision = rules.judge(policy, held, within_hours=within_hours, in_past=in_past)
                verdict = verdicts[key] = schemas.slot_verdict(
                    decision.allowed,
                    parallel,
                    decision.available_capacity if parallel else None,
                    decision.max_capacity if parallel else None,
                    waiting,
                )
            starts = by_day[day]
            columns = starts.get(clocks)
            if columns is None:
                columns = starts[clocks] = (schemas.slot_times(*clocks), [], [])
            columns[1].append(member.staff)
            columns[2].append(verdict)
    return {
        day: DaySlots([StartSlots(*starts[clocks]) for clocks in sorted(starts)])
        for day, starts in by_day.items()
    }


def schedule_groups(schedules: Mapping[str, rules.Schedule]) -> dict[str, int]:
    """Number the distinct schedules: staff with equal hours and time off share one."""
    numbers: dict[Hashable, int] = {}
    groups: dict[str, int] = {}
    for staff_id, schedule in schedules.items():
        hours = tuple(sorted((day, tuple(spans)) for day, spans in schedule.working_hours.items()))
        key = (schedule.timezone.key, hours, tuple(schedule.time_off))
        groups[staff_id] = numbers.setdefault(key, len(numbers))
    return groups


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(UTC)


async def availability_grid(
    session: AsyncSession,
    tenant_id: str,
    *,
    outlet_id: str,
    service_id: str,
    start_date: date,
    end_date: date,
    staff_id: str | None,
    now: datetime,
) -> Grid:
    """The grid: a key for every date, each with its slots (``schemas.GridSlot``) ordered
    by start time, then staff name. The endpoint writes it as JSON (``grid_json``); the
    public booking pages read its values."""
    days = dates_in_range(start_date, end_date)
    repo = GridRepository(session, tenant_id)
    subject = await repo.subject(outlet_id, service_id, staff_id)
    if not subject.staff:
        return {day: DaySlots() for day in days}
    zone, service = subject.zone, subject.service
    duration = timedelta(minutes=service.duration)
    # Every slot starts on or after the first local midnight and ends before the
    # midnight after the last day plus one duration.
    window_start = _day_start(days[0], zone)
    window_end = _day_start(days[-1] + timedelta(days=1), zone) + duration
    schedules = await repo.schedules(subject, window_start, window_end)
    groups = schedule_groups(schedules)
    staff_ids = [m.id for m in subject.staff]
    sessions = await repo.sessions(staff_ids, window_start, window_end)
    waiting = (
        await repo.waiting(service.id, staff_ids, window_start, window_end, now)
        if service.waitlist_enabled
        else None
    )
    members = [
        GridMember(
            SlotStaff(member.id, member.name),
            schedules[member.id],
            groups[member.id],
            StaffSessions(sessions[member.id]) if member.id in sessions else NO_SESSIONS,
            None if waiting is None else waiting.get(member.id, {}),
        )
        for member in subject.staff
    ]
    if service.timetable:
        return compute_timetable(days, members, subject.policy, zone, now.astimezone(UTC))
    longest_session = max((member.sessions.longest for member in members), default=0)
    return compute_grid(
        days,
        members,
        subject.policy,
        SlotClock(zone, duration, longest_session),
        service.slot_interval,
        now.astimezone(UTC),
    )


async def availability_grid_json(
    session: AsyncSession,
    tenant_id: str,
    *,
    outlet_id: str,
    service_id: str,
    start_date: date,
    end_date: date,
    staff_id: str | None,
    now: datetime,
) -> str:
    """The grid as the endpoint answers it: JSON in the shape of ``schemas.AvailabilityGrid``,
    joined from the slots' pre-rendered parts."""
    grid = await availability_grid(
        session,
        tenant_id,
        outlet_id=outlet_id,
        service_id=service_id,
        start_date=start_date,
        end_date=end_date,
        staff_id=staff_id,
        now=now,
    )
    return schemas.grid_json(grid)
