"""The class timetable: a studio publishes Vinyasa Mon/Wed/Fri 18:00 with Maya, and
customers book its sessions, never any other time."""

from __future__ import annotations

from typing import Any

import pytest

from tests.scenarios import Studio, open_studio
from tests.support import Api


Json = dict[str, Any]


async def timetable_studio(api: Api, capacity: int = 12) -> Studio:
    studio = await open_studio(api)
    vinyasa = await studio.offer(
        "Vinyasa", key="vinyasa", parallel=True, capacity=capacity, booking_mode="timetable"
    )
    massage = await studio.offer("Massage", key="massage")
    await studio.hire("Maya", [vinyasa, massage], key="maya")
    await studio.hire("Leo", [vinyasa], key="leo")
    return studio


async def schedule(studio: Studio, **extra: Any) -> Json:
    body = {
        "service_id": studio.vinyasa["id"],
        "outlet_id": studio.outlet["id"],
        "staff_id": studio.maya["id"],
        "start_time": "18:00",
        "days": ["monday", "wednesday", "friday"],
        "first_date": "2026-12-07",
        **extra,
    }
    return dict(await studio.api.post("/class-schedules", body))


async def sessions_of(studio: Studio, schedule_id: str, **params: Any) -> list[Json]:
    page = await studio.api.get(
        "/class-sessions", params={"schedule_id": schedule_id, "limit": 500, **params}
    )
    return list(page["items"])


async def test_a_timetable_class_books_only_at_its_sessions(backend: str, api: Api) -> None:
    studio = await timetable_studio(api)
    plan = await schedule(studio, last_date="2026-12-31")
    sessions = await sessions_of(studio, plan["id"])
    assert [s["date"] for s in sessions][:3] == ["2026-12-07", "2026-12-09", "2026-12-11"]
    assert all(s["start_time"] == "18:00:00" and s["capacity"] == 12 for s in sessions)
    await studio.book(studio.vinyasa, studio.maya, start="18:00")
    refused = await studio.book(studio.vinyasa, studio.maya, start="17:00", expect=409)
    assert refused["code"] == "not_scheduled"
    refused = await studio.book(studio.vinyasa, studio.leo, start="18:00", expect=409)
    assert refused["code"] == "not_scheduled"
    grid = await api.get(
        "/availability/availability-grid",
        params={
            "outlet_id": studio.outlet["id"],
            "service_id": studio.vinyasa["id"],
            "start_date": "2026-12-07",
            "end_date": "2026-12-08",
        },
    )
    assert [
        (s["start_time"], s["staff_name"], s["available_capacity"]) for s in grid["2026-12-07"]
    ] == [("18:00:00", "Maya", 11)]
    assert grid["2026-12-08"] == []


async def test_an_empty_scheduled_class_holds_its_instructor(backend: str, api: Api) -> None:
    studio = await timetable_studio(api)
    await schedule(studio)
    refused = await studio.book(studio.massage, studio.maya, start="18:30", expect=409)
    assert refused["code"] == "staff_busy"
    await studio.book(studio.massage, studio.maya, start="17:00")


async def test_cancel_move_substitute_and_series(backend: str, api: Api) -> None:
    studio = await timetable_studio(api, capacity=2)
    plan = await schedule(studio, last_date="2026-12-31")
    first = (await sessions_of(studio, plan["id"]))[0]
    booked = await studio.book(studio.vinyasa, studio.maya, start="18:00")
    moved = await api.put(f"/class-sessions/{first['id']}/move", {"new_start_time": "19:00"})
    assert moved["appointments"] == [booked["id"]]
    again = await api.get(f"/appointments/{booked['id']}")
    assert again["start_time"] == "19:00:00"
    sub = await api.put(f"/class-sessions/{first['id']}/substitute", {"staff_id": studio.leo["id"]})
    assert sub["session"]["staff_name"] == "Leo"
    again = await api.get(f"/appointments/{booked['id']}")
    assert again["services"][0]["staff_name"] == "Leo"
    cancelled = await api.put(f"/class-sessions/{first['id']}/cancel", {"reason": "Leo is ill"})
    assert cancelled["appointments"] == [booked["id"]]
    assert (await api.get(f"/appointments/{booked['id']}"))["status"] == "cancelled"
    history = await api.get(f"/class-sessions/{first['id']}/history")
    assert [e["type"] for e in history["items"]] == ["moved", "substituted", "cancelled"]
    customer = await studio.customer("Ada")
    series = await api.post(
        f"/class-schedules/{plan['id']}/bookings", {"customer_id": customer["id"], "count": 4}
    )
    assert series["booked"] == 4
    change = await api.patch(
        f"/class-schedules/{plan['id']}",
        {"from_date": "2026-12-14", "start_time": "17:30", "capacity": 5},
    )
    assert len(change["moved_appointments"]) == 2, change
