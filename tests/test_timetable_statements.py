"""Speed by design on the timetable: a class's week or its year, a series of two or
eight sessions, a class of one booking or ten - each costs the same statements."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from tests.scenarios import Studio, open_studio
from tests.support import Api, Json, counted_statements


async def weekly_class(api: Api, last_date: str | None = None) -> tuple[Studio, Json]:
    """Vinyasa (12 spots) Mon/Wed/Fri 18:00 with Maya from 7 December."""
    studio = await open_studio(api)
    vinyasa = await studio.offer(
        "Vinyasa", key="vinyasa", parallel=True, capacity=12, booking_mode="timetable"
    )
    await studio.hire("Maya", [vinyasa], key="maya")
    await studio.hire("Leo", [vinyasa], key="leo")
    body: dict[str, Any] = {
        "service_id": vinyasa["id"],
        "outlet_id": studio.outlet["id"],
        "staff_id": studio.maya["id"],
        "start_time": "18:00",
        "days": ["monday", "wednesday", "friday"],
        "first_date": "2026-12-07",
    }
    if last_date is not None:
        body["last_date"] = last_date
    plan = await api.post("/class-schedules", body)
    return studio, dict(plan)


async def statements_of_schedule(app: FastAPI, api: Api, last_date: str) -> list[str]:
    studio = await open_studio(api)
    vinyasa = await studio.offer(
        "Vinyasa", key="vinyasa", parallel=True, capacity=12, booking_mode="timetable"
    )
    maya = await studio.hire("Maya", [vinyasa], key="maya")
    async with counted_statements(app) as statements:
        await api.post(
            "/class-schedules",
            {
                "service_id": vinyasa["id"],
                "outlet_id": studio.outlet["id"],
                "staff_id": maya["id"],
                "start_time": "18:00",
                "days": ["monday", "wednesday", "friday"],
                "first_date": "2026-12-07",
                "last_date": last_date,
            },
        )
    return statements


async def test_laying_out_a_year_costs_what_a_week_does(api: Api, app: FastAPI) -> None:
    week = await statements_of_schedule(app, api, "2026-12-13")
    year = await statements_of_schedule(app, api, "2027-12-01")
    assert len(year) == len(week), (week, year)


async def statements_of_series(app: FastAPI, api: Api, count: int) -> list[str]:
    studio, plan = await weekly_class(api)
    customer = await studio.customer("Ada")
    async with counted_statements(app) as statements:
        answer = await api.post(
            f"/class-schedules/{plan['id']}/bookings",
            {"customer_id": customer["id"], "count": count},
        )
    assert answer["booked"] == count
    return statements


async def test_a_series_of_eight_costs_what_a_series_of_two_does(api: Api, app: FastAPI) -> None:
    two = await statements_of_series(app, api, 2)
    eight = await statements_of_series(app, api, 8)
    assert len(eight) == len(two), (two, eight)


async def statements_of_cancelling_a_class(app: FastAPI, api: Api, bookings: int) -> list[str]:
    studio, plan = await weekly_class(api)
    for _ in range(bookings):
        await studio.book(studio.vinyasa, studio.maya, start="18:00")
    first = (await api.get("/class-sessions", params={"schedule_id": plan["id"], "limit": 1}))[
        "items"
    ][0]
    async with counted_statements(app) as statements:
        answer = await api.put(f"/class-sessions/{first['id']}/cancel", {"reason": "Ill"})
    assert len(answer["appointments"]) == bookings
    return statements


async def test_cancelling_a_class_of_ten_costs_what_a_class_of_one_does(
    api: Api, app: FastAPI
) -> None:
    one = await statements_of_cancelling_a_class(app, api, 1)
    ten = await statements_of_cancelling_a_class(app, api, 10)
    assert len(ten) == len(one), (one, ten)


async def statements_of_moving_evenings(app: FastAPI, api: Api, weeks: int) -> list[str]:
    """Bookings in each evening class for ``weeks`` weeks; then the class moves to 17:30
    from the first Monday on."""
    last = {1: "2026-12-13", 4: "2027-01-03"}[weeks]
    studio, plan = await weekly_class(api, last_date=last)
    customer = await studio.customer("Ada")
    await api.post(f"/class-schedules/{plan['id']}/bookings", {"customer_id": customer["id"]})
    async with counted_statements(app) as statements:
        answer = await api.patch(
            f"/class-schedules/{plan['id']}", {"from_date": "2026-12-07", "start_time": "17:30"}
        )
    assert len(answer["moved_appointments"]) == 3 * weeks
    return statements


async def test_moving_a_month_of_classes_costs_what_a_week_does(api: Api, app: FastAPI) -> None:
    week = await statements_of_moving_evenings(app, api, 1)
    month = await statements_of_moving_evenings(app, api, 4)
    assert len(month) == len(week), (week, month)


async def statements_of_grid(app: FastAPI, studio: Studio, end_date: str) -> list[str]:
    async with counted_statements(app) as statements:
        await studio.api.get(
            "/availability/availability-grid",
            params={
                "outlet_id": studio.outlet["id"],
                "service_id": studio.vinyasa["id"],
                "start_date": "2026-12-07",
                "end_date": end_date,
            },
        )
    return statements


async def test_a_month_of_classes_in_the_grid_costs_what_a_day_does(api: Api, app: FastAPI) -> None:
    studio, _plan = await weekly_class(api)
    for _ in range(3):
        await studio.book(studio.vinyasa, studio.maya, start="18:00")
    day = await statements_of_grid(app, studio, "2026-12-07")
    month = await statements_of_grid(app, studio, "2027-01-06")
    assert len(month) == len(day), (day, month)
