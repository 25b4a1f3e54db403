"""The availability grid as the API contract describes it, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from slotbook.clock import FixedClock
from tests.support import MONDAY, Api

GRID = "/availability/availability-grid"
SLOT_FIELDS = {
    "start_time",
    "end_time",
    "staff_id",
    "staff_name",
    "is_available",
    "allows_parallel_bookings",
    "available_capacity",
    "max_capacity",
    "waitlist_length",
}
Json = dict[str, Any]


async def grid(
    api: Api,
    outlet: Json,
    service: Json,
    start: str = MONDAY,
    end: str | None = None,
    *,
    staff: Json | None = None,
    expect: int = 200,
) -> Any:
    params = {
        "outlet_id": outlet["id"],
        "service_id": service["id"],
        "start_date": start,
        "end_date": end or start,
    }
    if staff is not None:
        params["staff_id"] = staff["id"]
    return await api.get(GRID, params=params, expect=expect)


def slot_at(slots: list[Json], start: str, staff: Json | None = None) -> Json:
    found = [
        s
        for s in slots
        if s["start_time"] == start and (staff is None or s["staff_id"] == staff["id"])
    ]
    assert len(found) == 1, f"expected one slot at {start}, got {found}"
    return found[0]


def starts(slots: list[Json]) -> list[str]:
    return [s["start_time"][:5] for s in slots]


async def book_many(
    api: Api, outlet: Json, service: Json, staff: Json, start: str, n: int
) -> list[Json]:
    return [await api.book(outlet, service, staff, start=start) for _ in range(n)]


async def log_in_again(api: Api, owner: Json) -> None:
    """After moving the clock forward, the signup token has expired."""
    login = {"email": owner["user"]["email"], "password": "correct-horse-1"}
    api.token = (await api.post("/auth/login", login, expect=200))["access_token"]


# The brief's Test Case 4: capacity shown in the grid


async def test_cooking_class_capacity_display(api: Api) -> None:
    await api.signup()
    outlet = await api.outlet()
    cooking = await api.service("Cooking Class", parallel=True, capacity=8)
    marie = await api.staff("Chef Marie", outlet, [cooking])

    day = (await grid(api, outlet, cooking))[MONDAY]
    assert starts(day) == [f"{hour:02d}:00" for hour in range(8, 22)]
    for slot in day:
        assert slot["allows_parallel_bookings"] is True
        assert (slot["available_capacity"], slot["max_capacity"]) == (8, 8)
        assert slot["is_available"] is True

    await book_many(api, outlet, cooking, marie, "10:00", 3)
    await book_many(api, outlet, cooking, marie, "14:00", 7)
    await book_many(api, outlet, cooking, marie, "18:00", 8)
    response = await api.request(
        "GET",
        GRID,
        expect=200,
        params={
            "outlet_id": outlet["id"],
            "service_id": cooking["id"],
            "start_date": MONDAY,
            "end_date": MONDAY,
        },
    )
    day = response.json()[MONDAY]

    partial, almost_full, full = (slot_at(day, t) for t in ("10:00:00", "14:00:00", "18:00:00"))
    assert (partial["available_capacity"], partial["is_available"]) == (5, True)
    assert (almost_full["available_capacity"], almost_full["is_available"]) == (1, True)
    assert (full["available_capacity"], full["is_available"]) == (0, False)
    assert full["max_capacity"] == 8
    assert slot_at(day, "11:00:00")["available_capacity"] == 8

    # Scenario 5: plain JSON with every field, of the documented types.
    assert response.headers["content-type"].startswith("application/json")
    assert json.loads(response.content) == response.json()
    assert partial == {
        "start_time": "10:00:00",
        "end_time": "11:00:00",
        "staff_id": marie["id"],
        "staff_name": "Chef Marie",
        "is_available": True,
        "allows_parallel_bookings": True,
        "available_capacity": 5,
        "max_capacity": 8,
        "waitlist_length": None,  # the class keeps no waitlist
    }
    assert all(set(slot) == SLOT_FIELDS for slot in day)


async def test_full_yoga_class_shows_as_full(api: Api) -> None:
    """Test Case 2, Scenario 2."""
    await api.signup()
    outlet = await api.outlet()
    yoga = await api.service("Group Yoga Class", parallel=True, capacity=5)
    john = await api.staff("John Smith", outlet, [yoga])
    await book_many(api, outlet, yoga, john, "10:00", 5)

    slot = slot_at((await grid(api, outlet, yoga))[MONDAY], "10:00:00")
    assert (slot["is_available"], slot["available_capacity"], slot["max_capacity"]) == (False, 0, 5)


async def test_cancellations_and_no_shows_free_spots(api: Api) -> None:
    """Test Case 7, Scenarios 2-4 and 7 (3 of 6 spots free after the no-show, per contract)."""
    await api.signup()
    outlet = await api.outlet()
    art = await api.service("Art Workshop", parallel=True, capacity=6, duration=120)
    emma = await api.staff("Artist Emma", outlet, [art])
    students = await book_many(api, outlet, art, emma, "14:00", 6)

    async def workshop() -> Json:
        return slot_at((await grid(api, outlet, art))[MONDAY], "14:00:00")

    slot = await workshop()
    assert (slot["end_time"], slot["available_capacity"], slot["is_available"]) == (
        "16:00:00",
        0,
        False,
    )
    await api.cancel(students[2])
    slot = await workshop()
    assert (slot["available_capacity"], slot["is_available"]) == (1, True)
    await api.cancel(students[1])
    await api.cancel(students[4])
    assert (await workshop())["available_capacity"] == 3
    await api.book(outlet, art, emma, start="14:00")  # Scenario 5: student 7
    assert (await workshop())["available_capacity"] == 2
    await api.put(f"/appointments/{students[3]['id']}/no-show")
    slot = await workshop()
    assert (slot["available_capacity"], slot["is_available"]) == (3, True)


# Filters, ranges and service kinds


async def test_slots_ordered_by_start_then_staff_name_and_filtered_by_staff(api: Api) -> None:
    await api.signup()
    outlet = await api.outlet()
    yoga = await api.service("Group Yoga Class", parallel=True, capacity=10)
    zoe = await api.staff("Zoe", outlet, [yoga])
    anna = await api.staff("Anna", outlet, [yoga], {"monday": [{"start": "09:00", "end": "11:00"}]})

    day = (await grid(api, outlet, yoga))[MONDAY]
    assert [(s["start_time"][:5], s["staff_name"]) for s in day[:4]] == [
        ("08:00", "Zoe"),
        ("09:00", "Anna"),
        ("09:00", "Zoe"),
        ("10:00", "Anna"),
    ]
    assert len(day) == 14 + 2

    only_anna = (await grid(api, outlet, yoga, staff=anna))[MONDAY]
    assert starts(only_anna) == ["09:00", "10:00"]
    assert {s["staff_id"] for s in only_anna} == {anna["id"]}
    assert len((await grid(api, outlet, yoga, staff=zoe))[MONDAY]) == 14


async def test_colleagues_on_the_same_hours_keep_their_own_bookings(api: Api) -> None:
    await api.signup()
    outlet = await api.outlet()
    yoga = await api.service("Group Yoga Class", parallel=True, capacity=10)
    training = await api.service("Personal Training")
    ann, ben, cat = [await api.staff(name, outlet, [yoga, training]) for name in "ABC"]
    await book_many(api, outlet, yoga, ann, "10:00", 2)
    await book_many(api, outlet, yoga, cat, "10:00", 2)
    await api.book(outlet, training, ben, start="10:00")
    await api.book(outlet, yoga, cat, start="11:00")

    day = (await grid(api, outlet, yoga))[MONDAY]
    at_ten = [
        (s["staff_name"], s["available_capacity"], s["is_available"])
        for s in day
        if s["start_time"] == "10:00:00"
    ]
    assert at_ten == [("A", 8, True), ("B", 0, False), ("C", 8, True)]
    at_eleven = [s["available_capacity"] for s in day if s["start_time"] == "11:00:00"]
    assert at_eleven == [10, 10, 9]


async def test_week_has_a_key_for_every_date(api: Api) -> None:
    await api.signup()
    outlet = await api.outlet()
    yoga = await api.service("Group Yoga Class", parallel=True, capacity=10)
    hours = {
        "monday": [{"start": "09:00", "end": "12:00"}],
        "wednesday": [{"start": "18:00", "end": "20:00"}],
    }
    await api.staff("John Smith", outlet, [yoga], hours)

    week = await grid(api, outlet, yoga, MONDAY, "2026-12-13")
    assert list(week) == [(date(2026, 12, 7) + timedelta(days=i)).isoformat() for i in range(7)]
    assert starts(week["2026-12-07"]) == ["09:00", "10:00", "11:00"]
    assert starts(week["2026-12-09"]) == ["18:00", "19:00"]
    assert all(week[d] == [] for d in week if d not in ("2026-12-07", "2026-12-09"))


async def test_slot_interval_spaces_the_starts(api: Api) -> None:
    await api.signup()
    outlet = await api.outlet()
    yoga = await api.service("Yoga", parallel=True, capacity=3, duration=60, slot_interval=30)
    await api.staff("John Smith", outlet, [yoga], {"monday": [{"start": "09:00", "end": "11:15"}]})

    day = (await grid(api, outlet, yoga))[MONDAY]
    assert [(s["start_time"], s["end_time"]) for s in day] == [
        ("09:00:00", "10:00:00"),
        ("09:30:00", "10:30:00"),
        ("10:00:00", "11:00:00"),
    ]


async def test_single_booking_service_has_no_capacity_figures(api: Api) -> None:
    await api.signup()
    outlet = await api.outlet()
    haircut = await api.service("Haircut", duration=45)
    sarah = await api.staff(
        "Sarah", outlet, [haircut], {"monday": [{"start": "14:00", "end": "16:00"}]}
    )
    await api.book(outlet, haircut, sarah, start="14:00")

    day = (await grid(api, outlet, haircut))[MONDAY]
    assert [(s["start_time"], s["end_time"], s["is_available"]) for s in day] == [
        ("14:00:00", "14:45:00", False),
        ("14:45:00", "15:30:00", True),
    ]
    for slot in day:
        assert slot["allows_parallel_bookings"] is False
        assert slot["available_capacity"] is None
        assert slot["max_capacity"] is None


async def test_staff_busy_with_another_service_has_no_capacity(api: Api) -> None:
    await api.signup()
    outlet = await api.outlet()
    yoga = await api.service("Group Yoga Class", parallel=True, capacity=10, slot_interval=30)
    training = await api.service("Personal Training")
    john = await api.staff("John Smith", outlet, [yoga, training])
    await api.book(outlet, training, john, start="10:30")
    await api.book(outlet, yoga, john, start="14:00")

    day = (await grid(api, outlet, yoga))[MONDAY]
    for start in ("10:00:00", "10:30:00", "11:00:00"):
        slot = slot_at(day, start)
        assert (slot["available_capacity"], slot["is_available"]) == (0, False), start
    assert slot_at(day, "11:30:00")["available_capacity"] == 10
    # A staggered start would put John in two classes at once.
    assert slot_at(day, "14:00:00")["available_capacity"] == 9
    for start in ("13:30:00", "14:30:00"):
        assert slot_at(day, start)["available_capacity"] == 0


async def test_time_off_removes_the_slots_it_touches(api: Api) -> None:
    await api.signup()
    outlet = await api.outlet()
    yoga = await api.service("Group Yoga Class", parallel=True, capacity=10)
    john = await api.staff("John Smith", outlet, [yoga])
    await api.post(
        f"/staff/{john['id']}/time-off", {"start": f"{MONDAY}T12:30", "end": f"{MONDAY}T14:00"}
    )

    assert "12:00" not in starts((await grid(api, outlet, yoga))[MONDAY])
    assert "13:00" not in starts((await grid(api, outlet, yoga))[MONDAY])
    day = starts((await grid(api, outlet, yoga))[MONDAY])
    assert day[:6] == ["08:00", "09:00", "10:00", "11:00", "14:00", "15:00"]


async def test_past_slots_are_listed_unavailable_with_real_capacity(
    api: Api, clock: FixedClock
) -> None:
    owner = await api.signup()
    outlet = await api.outlet()
    yoga = await api.service("Group Yoga Class", parallel=True, capacity=8)
    john = await api.staff("John Smith", outlet, [yoga])
    await book_many(api, outlet, yoga, john, "09:00", 2)
    clock.at = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)  # London is on UTC in December
    await log_in_again(api, owner)

    day = (await grid(api, outlet, yoga))[MONDAY]
    assert starts(day)[:4] == ["08:00", "09:00", "10:00", "11:00"]
    past = [s for s in day if s["start_time"] <= "10:00:00"]
    assert [s["is_available"] for s in past] == [False, False, False]
    assert [s["available_capacity"] for s in past] == [8, 6, 8]
    assert slot_at(day, "11:00:00")["is_available"] is True


async def test_inactive_and_foreign_staff_are_not_offered(api: Api) -> None:
    await api.signup()
    outlet = await api.outlet()
    other_outlet = await api.outlet("Annex")
    yoga = await api.service("Group Yoga Class", parallel=True, capacity=10)
    pilates = await api.service("Pilates", parallel=True, capacity=10)
    john = await api.staff("John Smith", outlet, [yoga])
    idle = await api.staff("Idle", outlet, [yoga])
    await api.patch(f"/staff/{idle['id']}", {"active": False})
    await api.staff("Elsewhere", other_outlet, [yoga])
    await api.staff("Pilates Only", outlet, [pilates])

    day = (await grid(api, outlet, yoga))[MONDAY]
    assert {s["staff_id"] for s in day} == {john["id"]}
    body = await grid(api, outlet, yoga, staff=idle, expect=422)
    assert body["field"] == "staff_id"


# Errors


async def test_range_and_id_errors(api: Api) -> None:
    await api.signup()
    outlet = await api.outlet()
    yoga = await api.service("Group Yoga Class", parallel=True, capacity=10)
    await api.staff("John Smith", outlet, [yoga])

    backwards = await grid(api, outlet, yoga, "2026-12-08", "2026-12-07", expect=422)
    assert backwards["field"] == "end_date"
    too_long = await grid(api, outlet, yoga, "2026-12-01", "2027-01-01", expect=422)
    assert too_long["field"] == "end_date"
    month = await grid(api, outlet, yoga, "2026-12-01", "2026-12-31")
    assert len(month) == 31 and all(month.values())
    await grid(api, outlet, yoga, "2026-12-1", "2026-12-07", expect=422)
    assert (await grid(api, outlet, yoga, "0001-01-01", expect=422))["field"] == "start_date"
    assert (await grid(api, outlet, yoga, "9999-12-31", expect=422))["field"] == "start_date"
    assert len(await grid(api, outlet, yoga, "9998-12-31")) == 1
    await api.get(GRID, params={"outlet_id": outlet["id"]}, expect=422)

    assert (await grid(api, {"id": "nope"}, yoga, expect=422))["field"] == "outlet_id"
    assert (await grid(api, outlet, {"id": "nope"}, expect=422))["field"] == "service_id"
    assert (await grid(api, outlet, yoga, staff={"id": "nope"}, expect=422))["field"] == "staff_id"
    for malformed in ("a\x00b", "'; --"):
        assert (await grid(api, {"id": malformed}, yoga, expect=422))["field"] == "outlet_id"
        assert (await grid(api, outlet, {"id": malformed}, expect=422))["field"] == "service_id"
        staff_error = await grid(api, outlet, yoga, staff={"id": malformed}, expect=422)
        assert staff_error["field"] == "staff_id"

    other = Api(api.client)
    await other.signup("Other Studio")
    foreign_outlet = await other.outlet()
    foreign_service = await other.service("Theirs", parallel=True, capacity=3)
    assert (await grid(api, foreign_outlet, yoga, expect=422))["field"] == "outlet_id"
    assert (await grid(api, outlet, foreign_service, expect=422))["field"] == "service_id"

    await api.patch(f"/services/{yoga['id']}", {"active": False})
    assert (await grid(api, outlet, yoga, expect=422))["field"] == "service_id"
    await grid(Api(api.client), outlet, yoga, expect=401)


# Clock changes: durations are elapsed minutes; missing local times are never offered

DST_HOURS = {"sunday": [{"start": "00:00", "end": "06:00"}, {"start": "09:00", "end": "12:00"}]}

# (zone, day, first six slots as "start-end", local starts that do not exist that day)
DST_DAYS = [
    pytest.param(
        "America/New_York",
        "2027-03-14",
        "00:00-01:00 00:30-01:30 01:00-03:00 01:30-03:30 03:00-04:00 03:30-04:30",
        ["02:00", "02:30"],
        id="new-york-spring",
    ),
    pytest.param(
        "America/New_York",
        "2027-11-07",
        "00:00-01:00 00:30-01:30 01:00-01:00 01:30-01:30 02:00-03:00 02:30-03:30",
        [],
        id="new-york-autumn",
    ),
    pytest.param(
        "Europe/London",
        "2027-03-28",
        "00:00-02:00 00:30-02:30 02:00-03:00 02:30-03:30 03:00-04:00 03:30-04:30",
        ["01:00", "01:30"],
        id="london-spring",
    ),
    pytest.param(
        "Europe/London",
        "2027-10-31",
        "00:00-01:00 00:30-01:30 01:00-01:00 01:30-01:30 02:00-03:00 02:30-03:30",
        [],
        id="london-autumn",
    ),
]


@pytest.mark.parametrize(("zone", "day", "first_slots", "missing"), DST_DAYS)
async def test_clock_change_days(
    api: Api, zone: str, day: str, first_slots: str, missing: list[str]
) -> None:
    await api.signup()
    outlet = await api.outlet(timezone=zone)
    yoga = await api.service("Yoga", parallel=True, capacity=4, duration=60, slot_interval=30)
    john = await api.staff("John Smith", outlet, [yoga], DST_HOURS)

    slots = (await grid(api, outlet, yoga, day))[day]
    shown = [f"{s['start_time'][:5]}-{s['end_time'][:5]}" for s in slots]
    assert shown[:6] == first_slots.split()
    assert not set(missing) & set(starts(slots))
    assert starts(slots)[-6:] == ["05:00", "09:00", "09:30", "10:00", "10:30", "11:00"]
    assert all(s["is_available"] for s in slots)

    # Booking agrees: an ordinary hour books, and so does the hour the clocks change in.
    booked = await api.book(outlet, yoga, john, date=day, start="10:00")
    assert (booked["start_time"], booked["end_time"]) == ("10:00:00", "11:00:00")
    third_start, third_end = first_slots.split()[2].split("-")
    across = await api.book(outlet, yoga, john, date=day, start=third_start)
    assert across["end_time"][:5] == third_end
    for absent in missing:
        response = await api.book_response(
            outlet, await api.customer(), [(yoga, john)], date=day, start=absent
        )
        assert response.status_code == 422
    slots = (await grid(api, outlet, yoga, day))[day]
    assert slot_at(slots, "10:00:00")["available_capacity"] == 3
    assert slot_at(slots, f"{third_start}:00")["available_capacity"] == 3


# Speed by design: the number of queries does not grow with the range


@contextmanager
def counted_queries(app: FastAPI) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = app.state.database.engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


async def test_query_count_does_not_grow_with_range_or_bookings(api: Api, app: FastAPI) -> None:
    await api.signup()
    outlet = await api.outlet()
    yoga = await api.service("Group Yoga Class", parallel=True, capacity=10)
    team = [await api.staff(f"Teacher {n}", outlet, [yoga]) for n in range(3)]
    for member in team:
        await api.book(outlet, yoga, member, start="10:00")
        await api.book(outlet, yoga, member, date="2026-12-20", start="12:00")

    with counted_queries(app) as one_day:
        await grid(api, outlet, yoga)
    with counted_queries(app) as month:
        result = await grid(api, outlet, yoga, "2026-12-01", "2026-12-31")
    assert len(month) == len(one_day)
    assert slot_at(result["2026-12-20"], "12:00:00", team[1])["available_capacity"] == 9
    selects = [s for s in month if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) <= 7, selects


async def test_waiting_customers_cost_the_grid_one_query_whatever_the_range(
    api: Api, app: FastAPI
) -> None:
    """``waitlist_length`` comes from one grouped query, not one per slot or session."""
    await api.signup()
    outlet = await api.outlet()
    yoga = await api.service("Group Yoga Class", parallel=True, capacity=1, waitlist_enabled=True)
    plain = await api.service("Open Class", parallel=True, capacity=1)
    team = [await api.staff(f"Teacher {n}", outlet, [yoga, plain]) for n in range(3)]
    for member in team:
        for day, start in (("2026-12-07", "10:00"), ("2026-12-20", "12:00")):
            await api.book(outlet, yoga, member, date=day, start=start)
            for _ in range(2):
                waiting = await api.customer()
                await api.post(
                    "/waitlist",
                    {
                        "outlet_id": outlet["id"],
                        "customer_id": waiting["id"],
                        "service_id": yoga["id"],
                        "staff_id": member["id"],
                        "date": day,
                        "start_time": start,
                    },
                )

    with counted_queries(app) as without_waitlist:
        await grid(api, outlet, plain, "2026-12-01", "2026-12-31")
    with counted_queries(app) as one_day:
        await grid(api, outlet, yoga)
    with counted_queries(app) as month:
        result = await grid(api, outlet, yoga, "2026-12-01", "2026-12-31")
    assert len(month) == len(one_day) == len(without_waitlist) + 1
    full = slot_at(result["2026-12-20"], "12:00:00", team[1])
    assert (full["available_capacity"], full["waitlist_length"]) == (0, 2)
    assert slot_at(result["2026-12-20"], "13:00:00", team[1])["waitlist_length"] == 0
