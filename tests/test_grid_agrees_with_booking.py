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
