"""Property: the grid offers a start exactly when booking it succeeds.

For random working hours, time off, existing bookings, clock-change days and moments
"now", every slot_interval-aligned start inside working hours is booked for real
(and cancelled again, which gives its capacity back): it must succeed exactly when
the grid lists it as available, and the grid must list nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from slotbook.clock import FixedClock
from slotbook.scheduling import rules
from tests.scenarios import Studio, open_studio
from tests.support import Api

GRID = "/availability/availability-grid"
DAYS = [
    date(2026, 12, 7),
    date(2027, 3, 14),  # New York springs forward
    date(2027, 3, 28),  # London springs forward
    date(2027, 10, 31),  # London falls back
    date(2027, 11, 7),  # New York falls back
]
Json = dict[str, Any]


@dataclass(frozen=True)
class Member:
    intervals: tuple[tuple[int, int], ...]  # local minutes after midnight, [start, end)
    time_off: tuple[int, int] | None


@dataclass(frozen=True)
class Booking:
    member: int
    other_service: bool
    minute: int
    count: int


@dataclass(frozen=True)
class Scenario:
    zone: str
    day: date
    duration: int
    slot_interval: int | None
    parallel: bool
    capacity: int
    members: tuple[Member, ...]
    bookings: tuple[Booking, ...]
    now_minute: int  # minutes after the day's local midnight; negative is the day before


@st.composite
def members(draw: st.DrawFn) -> Member:
    first_start = draw(st.integers(0, 80)) * 15
    first_end = first_start + draw(st.integers(4, 12)) * 15
    intervals = [(first_start, first_end)]
    if draw(st.booleans()):
        second_start = first_end + draw(st.integers(1, 8)) * 15
        intervals.append((second_start, second_start + draw(st.integers(4, 12)) * 15))
    intervals = [(s, e) for s, e in intervals if e <= 23 * 60 + 45]
    if not intervals:
        intervals = [(9 * 60, 12 * 60)]
    time_off = None
    if draw(st.booleans()):
        off_start = draw(st.integers(intervals[0][0] // 15, intervals[-1][1] // 15)) * 15
        time_off = (off_start, off_start + draw(st.integers(1, 8)) * 15)
    return Member(tuple(intervals), time_off)


@st.composite
def bookings_for(draw: st.DrawFn, staff: tuple[Member, ...], step: int) -> Booking:
    """Inside working hours, often on a grid start (to fill sessions), else on any quarter."""
    member = draw(st.integers(0, len(staff) - 1))
    begin, end = draw(st.sampled_from(staff[member].intervals))
    on_grid = st.integers(0, (end - begin) // step).map(lambda k: begin + k * step)
    any_quarter = st.integers(begin // 15, end // 15).map(lambda quarter: quarter * 15)
    return Booking(
        member=member,
        other_service=draw(st.booleans()),
        minute=draw(st.one_of(on_grid, any_quarter)),
        count=draw(st.integers(1, 3)),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    staff = tuple(draw(st.lists(members(), min_size=1, max_size=2)))
    if len(staff) == 2 and draw(st.booleans()):
        # Colleagues on the same hours: the grid shares work between them.
        staff = (staff[0], replace(staff[1], intervals=staff[0].intervals))
    duration = draw(st.sampled_from([20, 30, 45, 60, 90]))
    slot_interval = draw(st.sampled_from([None, 30, 60]))
    step = slot_interval or duration
    return Scenario(
        zone=draw(st.sampled_from(["UTC", "America/New_York", "Europe/London"])),
        day=draw(st.sampled_from(DAYS)),
        duration=duration,
        slot_interval=slot_interval,
        parallel=draw(st.booleans()),
        capacity=draw(st.integers(1, 2)),
        members=staff,
        bookings=tuple(draw(st.lists(bookings_for(staff, step), max_size=5))),
        now_minute=draw(st.one_of(st.integers(-12 * 60, -1), st.integers(0, 24 * 60))),
    )


def clock_text(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def local_midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(), ZoneInfo(zone)).astimezone(UTC)


async def open_scenario(client: httpx.AsyncClient, scenario: Scenario) -> Studio:
    """The scenario's business on a tenant of its own: the class (``studio.session``) and
    personal training (``studio.other``), its staff with their hours and time off, and
    the bookings already made, each by a customer of its own."""
    s = scenario
    studio = await open_studio(Api(client), timezone=s.zone, day=s.day.isoformat())
    extra = {} if s.slot_interval is None else {"slot_interval": s.slot_interval}
    session = await studio.offer(
        "Class",
        key="session",
        parallel=s.parallel,
        capacity=s.capacity,
        duration=s.duration,
        **extra,
    )
    other = await studio.offer("Personal Training", key="other", duration=45)
    weekday = s.day.strftime("%A").lower()
    midnight = datetime.combine(s.day, time())
    for number, member in enumerate(s.members):
        hours = {
            weekday: [{"start": clock_text(a), "end": clock_text(b)} for a, b in member.intervals]
        }
        hired = await studio.hire(f"Staff {number}", [session, other], working_hours=hours)
        if member.time_off is not None:
            start, end = member.time_off
            await studio.give_time_off(
                hired,
                (midnight + timedelta(minutes=start)).isoformat(),
                (midnight + timedelta(minutes=end)).isoformat(),
            )
    staff = list(studio.staff.values())
    for booking in s.bookings:
        for _ in range(booking.count):
            await try_booking(
                studio,
                other if booking.other_service else session,
                staff[booking.member],
                booking.minute,
            )
    return studio


async def try_booking(studio: Studio, service: Json, staff: Json, minute: int) -> httpx.Response:
    """A new customer each time: one customer holds one place per session."""
    return await studio.book_response(service, staff, start=clock_text(minute))


async def grid(studio: Studio) -> list[Json]:
    params = {
        "outlet_id": studio.outlet["id"],
        "service_id": studio.session["id"],
        "start_date": studio.day,
        "end_date": studio.day,
    }
    slots: list[Json] = (await studio.api.get(GRID, params=params))[studio.day]
    return slots


def aligned_starts(studio: Studio, scenario: Scenario) -> list[tuple[Json, int]]:
    step = studio.session["slot_interval"]
    return [
        (staff, minute)
        for staff, member in zip(studio.staff.values(), scenario.members, strict=True)
        for begin, end in member.intervals
        for minute in range(begin, end, step)
    ]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
async def test_grid_offers_exactly_the_starts_that_book(
    client: httpx.AsyncClient, clock: FixedClock, scenario: Scenario
) -> None:
    now = local_midnight(scenario.day, scenario.zone) + timedelta(minutes=scenario.now_minute)
    # Set up a little earlier, so some bookings now lie in the past (within the token's life).
    clock.at = now - timedelta(hours=11)
    studio = await open_scenario(client, scenario)
    clock.at = now

    listed = {(slot["staff_id"], slot["start_time"][:5]): slot for slot in await grid(studio)}
    probed = set()
    for staff, minute in aligned_starts(studio, scenario):
        key = (staff["id"], clock_text(minute))
        probed.add(key)
        response = await try_booking(studio, studio.session, staff, minute)
        assert response.status_code in (201, 409, 422), response.text
        slot = listed.get(key)
        booked = response.status_code == 201
        event(f"probe answered {response.status_code} {response.json().get('code', '')}".strip())
        assert booked == (slot is not None and slot["is_available"]), (key, slot, response.text)
        if booked:
            await studio.api.cancel(response.json())
        if slot is not None and scenario.parallel:
            assert_capacity_agrees(slot, response)
    assert set(listed) <= probed, set(listed) - probed


def assert_capacity_agrees(slot: Json, response: httpx.Response) -> None:
    """A spot booked means one was left; a full session or a busy teacher means none."""
    if response.status_code == 201:
        assert slot["available_capacity"] >= 1, slot
    elif response.status_code == 409:
        assert response.json()["code"] in ("capacity_reached", "staff_busy"), response.text
        assert slot["available_capacity"] == 0, (slot, response.text)


# A timetable service: the grid lists exactly its sessions, each available exactly
# when booking it succeeds, and no other start books.

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


@dataclass(frozen=True)
class ClassPlan:
    """A class schedule: ``member`` teaches at ``minute`` on ``weekdays`` (None: daily)."""

    member: int
    minute: int
    weekdays: tuple[int, ...] | None
    capacity: int | None  # the schedule's own capacity (classes only)


@dataclass(frozen=True)
class SessionChange:
    """A change to the ``session``-th scheduled session (modulo their number)."""

    kind: str  # "cancel", "move", "substitute", "capacity" (of its schedule, from its date on)
    session: int
    minute: int  # move: the new start
    member: int  # substitute: the new instructor
    capacity: int  # capacity: the schedule's new capacity


@dataclass(frozen=True)
class Elsewhere:
    """A start ``day`` days into the range: another service's booking, or a probe."""

    member: int
    day: int
    minute: int


@dataclass(frozen=True)
class TimetableScenario:
    zone: str
    day: date
    days: int  # the grid's range: ``day`` and the days after it
    duration: int
    parallel: bool
    capacity: int
    members: tuple[Member, ...]
    time_off_day: int  # the day of the range each member's time off falls on
    plans: tuple[ClassPlan, ...]
    changes: tuple[SessionChange, ...]
    session_bookings: tuple[tuple[int, int], ...]  # (session index, bookings)
    other_bookings: tuple[Elsewhere, ...]  # another service of the same staff
    probes: tuple[Elsewhere, ...]  # starts tried that need not be sessions
    now_minute: int


def quarter_in(member: Member, duration: int) -> st.SearchStrategy[int]:
    """A start inside one of the member's working intervals (where one fits), else any."""

    def starts(interval: tuple[int, int]) -> st.SearchStrategy[int]:
        begin, end = interval
        last = max(begin, end - duration)
        return st.integers(begin // 15, last // 15).map(lambda quarter: quarter * 15)

    inside = st.sampled_from(member.intervals).flatmap(starts)
    return st.one_of(inside, inside, st.integers(0, 95).map(lambda quarter: quarter * 15))


@st.composite
def timetable_scenarios(draw: st.DrawFn) -> TimetableScenario:
    staff = tuple(draw(st.lists(members(), min_size=1, max_size=2)))
    duration = draw(st.sampled_from([30, 45, 60, 90]))
    parallel = draw(st.booleans())
    days = draw(st.integers(1, 3))
    plans = []
    for _ in range(draw(st.integers(1, 2))):
        member = draw(st.integers(0, len(staff) - 1))
        some_days = st.sets(st.integers(0, 6), min_size=1).map(sorted).map(tuple)
        weekdays = draw(st.one_of(st.none(), st.none(), some_days))
        plans.append(
            ClassPlan(
                member,
                draw(quarter_in(staff[member], duration)),
                weekdays,
                draw(st.one_of(st.none(), st.integers(1, 3))) if parallel else None,
            )
        )

    def elsewhere() -> st.SearchStrategy[Elsewhere]:
        return st.integers(0, len(staff) - 1).flatmap(
            lambda m: st.builds(
                Elsewhere,
                st.just(m),
                st.integers(0, days - 1),
                quarter_in(staff[m], duration),
            )
        )

    changes = st.integers(0, len(staff) - 1).flatmap(
        lambda m: st.builds(
            SessionChange,
            st.sampled_from(["cancel", "move", "substitute", "capacity"]),
            st.integers(0, 20),
            quarter_in(staff[m], duration),
            st.just(m),
            st.integers(1, 3),
        )
    )
    return TimetableScenario(
        zone=draw(st.sampled_from(["UTC", "America/New_York", "Europe/London"])),
        day=draw(st.sampled_from(DAYS)),
        days=days,
        duration=duration,
        parallel=parallel,
        capacity=draw(st.integers(1, 3)) if parallel else 1,
        members=staff,
        time_off_day=draw(st.integers(0, days - 1)),
        plans=tuple(plans),
        changes=tuple(draw(st.lists(changes, max_size=2))),
        session_bookings=tuple(
            draw(st.lists(st.tuples(st.integers(0, 20), st.integers(1, 3)), max_size=4))
        ),
        other_bookings=tuple(draw(st.lists(elsewhere(), max_size=3))),
        probes=tuple(draw(st.lists(elsewhere(), min_size=1, max_size=3))),
        now_minute=draw(st.one_of(st.integers(-12 * 60, -1), st.integers(0, 24 * 60))),
    )


def date_after(scenario: TimetableScenario, offset: int) -> date:
    return scenario.day + timedelta(days=offset)


async def open_timetable(client: httpx.AsyncClient, scenario: TimetableScenario) -> Studio:
    """The scenario's business: the timetable class (``studio.session``) and personal
    training (``studio.other``), its staff (the same hours every day), the class
    schedules (one refused for a conflict is left out), then the other service's
    bookings, time off, changes to single sessions and bookings of sessions."""
    s = scenario
    last = date_after(s, s.days - 1)
    studio = await open_studio(Api(client), timezone=s.zone, day=s.day.isoformat())
    session = await studio.offer(
        "Class",
        key="session",
        parallel=s.parallel,
        capacity=s.capacity,
        duration=s.duration,
        booking_mode="timetable",
    )
    other = await studio.offer("Personal Training", key="other", duration=45)
    staff = []
    for number, member in enumerate(s.members):
        spans = [{"start": clock_text(a), "end": clock_text(b)} for a, b in member.intervals]
        hours = {weekday: spans for weekday in WEEKDAYS}
        staff.append(await studio.hire(f"Staff {number}", [session, other], working_hours=hours))
    schedules = []
    for plan in s.plans:
        body: Json = {
            "service_id": session["id"],
            "outlet_id": studio.outlet["id"],
            "staff_id": staff[plan.member]["id"],
            "start_time": clock_text(plan.minute),
            "days": WEEKDAYS if plan.weekdays is None else [WEEKDAYS[d] for d in plan.weekdays],
            "first_date": s.day.isoformat(),
            "last_date": last.isoformat(),
        }
        if plan.capacity is not None:
            body["capacity"] = plan.capacity
        response = await studio.api.request("POST", "/class-schedules", body)
        assert response.status_code in (201, 409), response.text
        event(f"schedule answered {response.status_code}")
        if response.status_code == 201:
            schedules.append(response.json())
    for booking in s.other_bookings:
        await studio.book_response(
            other,
            staff[booking.member],
            start=clock_text(booking.minute),
            date=date_after(s, booking.day).isoformat(),
        )
    midnight = datetime.combine(date_after(s, s.time_off_day), time())
    for member, hired in zip(s.members, staff, strict=True):
        if member.time_off is not None:
            start, end = member.time_off
            await studio.give_time_off(
                hired,
                (midnight + timedelta(minutes=start)).isoformat(),
                (midnight + timedelta(minutes=end)).isoformat(),
            )
    for change in s.changes:
        sessions = await scheduled_sessions(studio, s)
        if not sessions:
            break
        target = sessions[change.session % len(sessions)]
        response = await change_session(studio, staff, target, change)
        assert response.status_code in (200, 409, 422), response.text
        event(f"{change.kind} answered {response.status_code}")
    sessions = await scheduled_sessions(studio, s)
    for index, count in s.session_bookings:
        if not sessions:
            break
        target = sessions[index % len(sessions)]
        for _ in range(count):
            await book_session(studio, target)
    return studio


async def change_session(
    studio: Studio, staff: list[Json], target: Json, change: SessionChange
) -> httpx.Response:
    if change.kind == "cancel":
        return await studio.api.request("PUT", f"/class-sessions/{target['id']}/cancel", {})
    if change.kind == "move":
        body = {"new_start_time": clock_text(change.minute)}
        return await studio.api.request("PUT", f"/class-sessions/{target['id']}/move", body)
    if change.kind == "substitute":
        body = {"staff_id": staff[change.member]["id"]}
        return await studio.api.request("PUT", f"/class-sessions/{target['id']}/substitute", body)
    body = {"from_date": target["date"], "capacity": change.capacity}
    return await studio.api.request("PATCH", f"/class-schedules/{target['schedule_id']}", body)


async def scheduled_sessions(studio: Studio, scenario: TimetableScenario) -> list[Json]:
    """The class's scheduled sessions in the scenario's range, by date, start, staff."""
    page = await studio.api.get(
        "/class-sessions",
        params={
            "service_id": studio.session["id"],
            "start_date": scenario.day.isoformat(),
            "end_date": date_after(scenario, scenario.days - 1).isoformat(),
            "status": "scheduled",
            "limit": 500,
        },
    )
    assert page["total"] == len(page["items"])
    return sorted(page["items"], key=lambda s: (s["date"], s["start_time"], s["staff_name"]))


async def book_session(studio: Studio, target: Json) -> httpx.Response:
    """A new customer books the session (by its staff member, date and start)."""
    staff = {"id": target["staff_id"], "name": target["staff_name"]}
    return await studio.book_response(
        studio.session, staff, start=target["start_time"][:5], date=target["date"]
    )


async def timetable_grid(studio: Studio, scenario: TimetableScenario) -> dict[str, list[Json]]:
    params = {
        "outlet_id": studio.outlet["id"],
        "service_id": studio.session["id"],
        "start_date": scenario.day.isoformat(),
        "end_date": date_after(scenario, scenario.days - 1).isoformat(),
    }
    days: dict[str, list[Json]] = await studio.api.get(GRID, params=params)
    return days


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=timetable_scenarios())
async def test_a_timetable_grid_lists_its_sessions_and_offers_exactly_those_that_book(
    client: httpx.AsyncClient, clock: FixedClock, scenario: TimetableScenario
) -> None:
    now = local_midnight(scenario.day, scenario.zone) + timedelta(minutes=scenario.now_minute)
    # Set up a little earlier, so some sessions and bookings now lie in the past.
    clock.at = now - timedelta(hours=11)
    studio = await open_timetable(client, scenario)
    clock.at = now

    sessions = await scheduled_sessions(studio, scenario)
    days = await timetable_grid(studio, scenario)
    assert list(days) == [date_after(scenario, n).isoformat() for n in range(scenario.days)]
    listed = {
        (day, slot["staff_id"], slot["start_time"]): slot
        for day, slots in days.items()
        for slot in slots
    }
    assert sum(len(slots) for slots in days.values()) == len(listed)
    # The grid lists exactly the scheduled sessions, at their times.
    assert set(listed) == {(s["date"], s["staff_id"], s["start_time"]) for s in sessions}
    event(f"{len(sessions)} sessions listed")
    for target in sessions:
        slot = listed[(target["date"], target["staff_id"], target["start_time"])]
        assert slot["end_time"] == target["end_time"], (slot, target)
        response = await book_session(studio, target)
        assert response.status_code in (201, 409, 422), response.text
        booked = response.status_code == 201
        event(f"session answered {response.status_code} {response.json().get('code', '')}".strip())
        assert booked == slot["is_available"], (target, slot, response.text)
        if scenario.parallel:
            assert_session_capacity_agrees(slot, target, response)
        if booked:
            await studio.api.cancel(response.json())

    # Any other start of the class is refused: not a session (or in the past, or no
    # such time on a clock-change day).
    staff = list(studio.staff.values())
    starts = {(s["date"], s["staff_id"], s["start_time"][:5]) for s in sessions}
    zone = ZoneInfo(scenario.zone)
    for probe in scenario.probes:
        day, member = date_after(scenario, probe.day), staff[probe.member]
        at = clock_text(probe.minute)
        if (day.isoformat(), member["id"], at) in starts:
            continue
        response = await studio.book_response(studio.session, member, start=at, date=str(day))
        starts_at = rules.local_instant(day, time.fromisoformat(at), zone)
        refused = starts_at is None or rules.has_started(starts_at, now)
        expected = (422, "invalid_input") if refused else (409, "not_scheduled")
        event(f"other start answered {response.status_code}")
        assert (response.status_code, response.json().get("code")) == expected, (
            day,
            at,
            member["name"],
            response.text,
        )


def assert_session_capacity_agrees(slot: Json, target: Json, response: httpx.Response) -> None:
    """The slot carries its session's own capacity; a spot booked means the spots the
    session lists as left were there; a refusal for the teacher's time or a full
    session means none."""
    assert slot["max_capacity"] == target["capacity"], (slot, target)
    if response.status_code == 201:
        assert slot["available_capacity"] == target["capacity"] - target["booked"] >= 1, (
            slot,
            target,
        )
        assert target["available"] == slot["available_capacity"], (slot, target)
    elif response.status_code == 409:
        code = response.json()["code"]
        assert code in ("capacity_reached", "staff_busy", "staff_unavailable"), response.text
        assert slot["available_capacity"] == 0, (slot, response.text)
