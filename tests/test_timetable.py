"""The class timetable: a studio publishes Vinyasa Mon/Wed/Fri 18:00 with Maya, and
customers book its sessions, never any other time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from slotbook.clock import FixedClock
from slotbook.notifications.service import WorkerConfig, run_once
from slotbook.settings import Settings
from slotbook.storage import Database
from slotbook.timetable.models import ClassSession
from tests.mail_support import RecordingTransport, rows, subject
from tests.scenarios import Studio, open_studio
from tests.support import Api

Json = dict[str, Any]


async def timetable_studio(api: Api, capacity: int = 12, **vinyasa_extra: Any) -> Studio:
    """Vinyasa, a timetable class of ``capacity`` taught by Maya and Leo; Maya also gives
    one-to-one massages (booked from open slots)."""
    studio = await open_studio(api)
    vinyasa = await studio.offer(
        "Vinyasa",
        key="vinyasa",
        parallel=True,
        capacity=capacity,
        booking_mode="timetable",
        **vinyasa_extra,
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


# Helpers for the scenarios below


def database_of(app: FastAPI) -> Database:
    database: Database = app.state.database
    return database


def utc(moment: datetime) -> datetime:
    """An instant as stored (SQLite hands back naive UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def instants_of(app: FastAPI, schedule_id: str) -> dict[str, datetime]:
    """Each session's start instant, by date, as stored."""
    found = await rows(
        database_of(app),
        sa.select(ClassSession.session_date, ClassSession.starts_at).where(
            ClassSession.schedule_id == schedule_id
        ),
    )
    return {str(day): utc(starts_at) for day, starts_at in found}


async def session_on(studio: Studio, schedule_id: str, day: str) -> Json:
    [found] = await sessions_of(studio, schedule_id, start_date=day, end_date=day)
    return found


async def book_class(
    studio: Studio, name: str, day: str, start: str = "18:00", **extra: Any
) -> Json:
    """A new customer books the class with Maya that day."""
    customer = await studio.customer(name)
    return await studio.book(
        studio.vinyasa, studio.maya, customer=customer, date=day, start=start, **extra
    )


async def appointment(studio: Studio, booked: Json) -> Json:
    return dict(await studio.api.get(f"/appointments/{booked['id']}"))


async def history_types(studio: Studio, path: str) -> list[str]:
    history = await studio.api.get(f"{path}/history")
    return [item["type"] for item in history["items"]]


async def grid_day(studio: Studio, service: Json, day: str) -> list[Json]:
    grid = await studio.api.get(
        "/availability/availability-grid",
        params={
            "outlet_id": studio.outlet["id"],
            "service_id": service["id"],
            "start_date": day,
            "end_date": day,
        },
    )
    return list(grid[day])


async def refused(studio: Studio, method: str, path: str, body: Any, status: int) -> Json:
    response = await studio.api.request(method, path, body, expect=status)
    return dict(response.json())


def conflicts_of(answer: Json) -> list[tuple[str, str, str]]:
    return [(c["date"], c["start_time"], c["code"]) for c in answer["conflicts"]]


# 1. The wall clock across the clock changes


async def test_a_weekly_class_stays_at_six_in_the_evening_across_the_clock_changes(
    backend: str, api: Api, app: FastAPI
) -> None:
    studio = await timetable_studio(api)
    plan = await schedule(studio, days=["friday"], first_date="2027-03-19", last_date="2027-11-12")
    sessions = await sessions_of(studio, plan["id"])
    dates = [s["date"] for s in sessions]
    assert dates[:3] == ["2027-03-19", "2027-03-26", "2027-04-02"]
    assert dates[-3:] == ["2027-10-29", "2027-11-05", "2027-11-12"]
    assert {s["start_time"] for s in sessions} == {"18:00:00"}
    assert {s["end_time"] for s in sessions} == {"19:00:00"}

    starts = await instants_of(app, plan["id"])
    # London keeps GMT until 28 March, then BST (UTC+1) until 31 October.
    assert starts["2027-03-26"] == datetime(2027, 3, 26, 18, 0, tzinfo=UTC)
    assert starts["2027-04-02"] == datetime(2027, 4, 2, 17, 0, tzinfo=UTC)
    assert starts["2027-10-29"] == datetime(2027, 10, 29, 17, 0, tzinfo=UTC)
    assert starts["2027-11-05"] == datetime(2027, 11, 5, 18, 0, tzinfo=UTC)

    # Customers book the class at six on either side of each change.
    for day in ("2027-03-26", "2027-04-02", "2027-10-29", "2027-11-05"):
        booked = await book_class(studio, f"Guest {day}", day)
        assert (booked["appointment_date"], booked["start_time"]) == (day, "18:00:00")


# 3. A substitute instructor


async def test_a_busy_substitute_is_refused_and_one_who_does_not_teach_the_class_is_invalid(
    backend: str, api: Api
) -> None:
    studio = await timetable_studio(api)
    plan = await schedule(studio, last_date="2026-12-31")
    # Leo teaches his own Vinyasa on Mondays at 18:30.
    await schedule(studio, staff_id=studio.leo["id"], start_time="18:30", days=["monday"])
    await studio.hire("Sam", [studio.massage], key="sam")
    monday = await session_on(studio, plan["id"], "2026-12-07")
    booked = await book_class(studio, "Ada", "2026-12-07")

    busy = await refused(
        studio,
        "PUT",
        f"/class-sessions/{monday['id']}/substitute",
        {"staff_id": studio.leo["id"]},
        409,
    )
    assert busy["code"] == "staff_busy"
    unqualified = await refused(
        studio,
        "PUT",
        f"/class-sessions/{monday['id']}/substitute",
        {"staff_id": studio.sam["id"]},
        422,
    )
    assert unqualified["field"] == "staff_id"

    # Nothing changed: Maya still teaches, Ada's booking still with her.
    assert (await session_on(studio, plan["id"], "2026-12-07"))["staff_name"] == "Maya"
    assert (await appointment(studio, booked))["services"][0]["staff_name"] == "Maya"
    assert await history_types(studio, f"/class-sessions/{monday['id']}") == []

    # On Wednesday Leo is free: he takes the class and Ada's booking follows.
    wednesday = await session_on(studio, plan["id"], "2026-12-09")
    wed_booking = await book_class(studio, "Bea", "2026-12-09")
    sub = await api.put(
        f"/class-sessions/{wednesday['id']}/substitute", {"staff_id": studio.leo["id"]}
    )
    assert sub["appointments"] == [wed_booking["id"]]
    assert (await appointment(studio, wed_booking))["services"][0]["staff_name"] == "Leo"
    assert await history_types(studio, f"/appointments/{wed_booking['id']}") == [
        "created",
        "staff_changed",
    ]


# 4. A cancelled session


async def test_a_cancelled_class_cancels_and_mails_its_bookings_and_closes_its_waitlist(
    backend: str, api: Api, app: FastAPI, clock: FixedClock, settings: Settings
) -> None:
    studio = await timetable_studio(api, capacity=1, waitlist_enabled=True)
    plan = await schedule(studio, last_date="2026-12-31")
    monday = await session_on(studio, plan["id"], "2026-12-07")
    ada_booking = await book_class(studio, "Ada", "2026-12-07")
    bea = await studio.customer("Bea")
    bea_entry = await studio.join_waitlist(
        studio.vinyasa, studio.maya, customer=bea, date="2026-12-07", start="18:00"
    )
    assert (await session_on(studio, plan["id"], "2026-12-07"))["waitlist_length"] == 1
    mail = RecordingTransport()
    config = WorkerConfig.from_settings(settings)
    await run_once(database_of(app), clock, mail, config)
    mail.sent.clear()

    cancelled = await api.put(
        f"/class-sessions/{monday['id']}/cancel", {"reason": "The studio floods"}
    )
    assert cancelled["appointments"] == [ada_booking["id"]]
    assert cancelled["session"]["status"] == "cancelled"
    assert cancelled["session"]["cancel_reason"] == "The studio floods"
    assert cancelled["session"]["available"] == 0
    assert (await appointment(studio, ada_booking))["status"] == "cancelled"
    assert (await studio.waitlist_entry(bea_entry))["status"] == "cancelled"

    await run_once(database_of(app), clock, mail, config)
    to_ada = [s for s in mail.sent if s.recipient == studio.Ada["email"]]
    assert [subject(s.message) for s in to_ada] == [
        "Booking cancelled: Vinyasa, Mon 7 Dec 2026, 18:00-19:00 (Europe/London)"
    ]

    # The class is gone from Monday's grid and cannot be booked or waited for.
    assert await grid_day(studio, studio.vinyasa, "2026-12-07") == []
    again = await studio.book(
        studio.vinyasa, studio.maya, date="2026-12-07", start="18:00", expect=409
    )
    assert again["code"] == "not_scheduled"
    wait = await studio.join_waitlist(
        studio.vinyasa, studio.maya, date="2026-12-07", start="18:00", expect=409
    )
    assert wait["code"] == "not_scheduled"
    # Cancelling again changes nothing; the other sessions are untouched.
    repeat = await api.put(f"/class-sessions/{monday['id']}/cancel")
    assert repeat["appointments"] == []
    assert await history_types(studio, f"/class-sessions/{monday['id']}") == ["cancelled"]
    listed = await sessions_of(studio, plan["id"], status="cancelled")
    assert [s["date"] for s in listed] == ["2026-12-07"]
    assert (await session_on(studio, plan["id"], "2026-12-09"))["status"] == "scheduled"
    # The instructor's time is free again: Maya may give a massage then.
    await studio.book(studio.massage, studio.maya, date="2026-12-07", start="18:00")


# 5. "This and following"


async def test_a_new_time_from_a_date_on_moves_those_bookings_and_leaves_earlier_ones(
    backend: str, api: Api
) -> None:
    studio = await timetable_studio(api)
    plan = await schedule(studio, last_date="2026-12-31")
    earlier = await book_class(studio, "Ada", "2026-12-07")
    later = await book_class(studio, "Bea", "2026-12-14")

    change = await api.patch(
        f"/class-schedules/{plan['id']}", {"from_date": "2026-12-14", "start_time": "17:30"}
    )
    assert change["moved_appointments"] == [later["id"]]
    assert change["unmoved_appointments"] == [] and change["kept_sessions"] == []
    assert change["changed_sessions"] == 8  # 14, 16, 18, 21, 23, 25, 28, 30 December
    assert change["schedule"]["start_time"] == "17:30:00"

    times = {s["date"]: s["start_time"] for s in await sessions_of(studio, plan["id"])}
    assert times["2026-12-07"] == times["2026-12-11"] == "18:00:00"
    assert times["2026-12-14"] == times["2026-12-30"] == "17:30:00"
    assert (await appointment(studio, earlier))["start_time"] == "18:00:00"
    moved = await appointment(studio, later)
    assert (moved["appointment_date"], moved["start_time"], moved["end_time"]) == (
        "2026-12-14",
        "17:30:00",
        "18:30:00",
    )
    assert await history_types(studio, f"/appointments/{later['id']}") == [
        "created",
        "rescheduled",
    ]
    assert await history_types(studio, f"/appointments/{earlier['id']}") == ["created"]
    session = await session_on(studio, plan["id"], "2026-12-14")
    assert (session["start_time"], session["booked"]) == ("17:30:00", 1)
    assert await history_types(studio, f"/class-sessions/{session['id']}") == ["changed"]
    # The class is booked at its new time only.
    await studio.book(studio.vinyasa, studio.maya, date="2026-12-16", start="17:30")
    old_time = await studio.book(
        studio.vinyasa, studio.maya, date="2026-12-16", start="18:00", expect=409
    )
    assert old_time["code"] == "not_scheduled"


async def test_a_new_instructor_from_a_date_on_takes_the_bookings_with_them(
    backend: str, api: Api
) -> None:
    studio = await timetable_studio(api)
    plan = await schedule(studio, last_date="2026-12-31")
    before = await book_class(studio, "Ada", "2026-12-18")
    after = await book_class(studio, "Bea", "2026-12-21")

    change = await api.patch(
        f"/class-schedules/{plan['id']}",
        {"from_date": "2026-12-21", "staff_id": studio.leo["id"]},
    )
    assert change["moved_appointments"] == [after["id"]]
    assert change["schedule"]["staff_id"] == studio.leo["id"]
    assert (await appointment(studio, before))["services"][0]["staff_name"] == "Maya"
    taken = await appointment(studio, after)
    assert (taken["start_time"], taken["services"][0]["staff_name"]) == ("18:00:00", "Leo")
    assert await history_types(studio, f"/appointments/{after['id']}") == [
        "created",
        "staff_changed",
    ]
    teachers = {s["date"]: s["staff_name"] for s in await sessions_of(studio, plan["id"])}
    assert teachers["2026-12-18"] == "Maya"
    assert teachers["2026-12-21"] == teachers["2026-12-30"] == "Leo"
    # Maya is free on those evenings now; Leo is not.
    await studio.book(studio.massage, studio.maya, date="2026-12-21", start="18:00")
    refused_maya = await studio.book(
        studio.massage, studio.maya, date="2026-12-18", start="18:00", expect=409
    )
    assert refused_maya["code"] == "staff_busy"


async def test_a_lower_capacity_with_a_new_time_keeps_every_booking_with_its_class(
    backend: str, api: Api
) -> None:
    studio = await timetable_studio(api, capacity=3)
    plan = await schedule(studio, last_date="2026-12-31")
    bookings = [await book_class(studio, name, "2026-12-14") for name in ("Ada", "Bea", "Cy")]

    change = await api.patch(
        f"/class-schedules/{plan['id']}",
        {"from_date": "2026-12-14", "start_time": "17:30", "capacity": 1},
    )
    # Every booking follows its class to 17:30: none is left at a time with no class.
    assert sorted(change["moved_appointments"]) == sorted(b["id"] for b in bookings)
    assert change["unmoved_appointments"] == []
    assert change["warnings"] == [
        "Note: 3 spots are booked but capacity is now 1 (2026-12-14 17:30 Maya)"
    ]
    for booked in bookings:
        assert (await appointment(studio, booked))["start_time"] == "17:30:00"
    session = await session_on(studio, plan["id"], "2026-12-14")
    assert (session["start_time"], session["capacity"], session["booked"]) == (
        "17:30:00",
        1,
        3,
    )
    assert session["available"] == 0
    assert change["schedule"]["capacity"] == 1
    # Maya is no longer held at 18:00 that evening by bookings left behind.
    await studio.book(studio.massage, studio.maya, date="2026-12-14", start="18:30")


# 6. Series bookings


async def test_a_series_books_the_sessions_with_room_and_refuses_the_full_one(
    backend: str, api: Api
) -> None:
    studio = await timetable_studio(api, capacity=2, waitlist_enabled=True)
    plan = await schedule(studio, last_date="2026-12-31")
    for name in ("Ann", "Bob"):
        await book_class(studio, name, "2026-12-09")
    ada = await studio.customer("Ada")

    series = await api.post(
        f"/class-schedules/{plan['id']}/bookings",
        {"customer_id": ada["id"], "count": 3, "mode": "available"},
    )
    assert (series["booked"], series["waitlisted"], series["refused"]) == (2, 0, 1)
    assert [(r["date"], r["result"], r["code"]) for r in series["results"]] == [
        ("2026-12-07", "booked", None),
        ("2026-12-09", "refused", "capacity_reached"),
        ("2026-12-11", "booked", None),
    ]
    listing = await api.get("/appointments", params={"customer_id": ada["id"]})
    assert sorted(a["appointment_date"] for a in listing["items"]) == [
        "2026-12-07",
        "2026-12-11",
    ]
    assert all(a["start_time"] == "18:00:00" for a in listing["items"])


async def test_an_all_or_nothing_series_with_a_full_session_books_nothing(
    backend: str, api: Api
) -> None:
    studio = await timetable_studio(api, capacity=2, waitlist_enabled=True)
    plan = await schedule(studio, last_date="2026-12-31")
    for name in ("Ann", "Bob"):
        await book_class(studio, name, "2026-12-09")
    bea = await studio.customer("Bea")

    answer = await refused(
        studio,
        "POST",
        f"/class-schedules/{plan['id']}/bookings",
        {"customer_id": bea["id"], "count": 3},
        409,
    )
    assert answer["code"] == "series_unavailable"
    assert [(r["date"], r["result"], r["code"]) for r in answer["results"]] == [
        ("2026-12-07", "booked", None),
        ("2026-12-09", "refused", "capacity_reached"),
        ("2026-12-11", "booked", None),
    ]
    listing = await api.get("/appointments", params={"customer_id": bea["id"]})
    assert listing["items"] == []
    assert (await session_on(studio, plan["id"], "2026-12-07"))["booked"] == 0
    # Waiting lines need mode available.
    wait = await refused(
        studio,
        "POST",
        f"/class-schedules/{plan['id']}/bookings",
        {"customer_id": bea["id"], "count": 3, "waitlist": True},
        422,
    )
    assert wait["field"] == "waitlist"


async def test_a_series_joins_the_waitlist_of_the_full_session_when_asked(
    backend: str, api: Api
) -> None:
    studio = await timetable_studio(api, capacity=2, waitlist_enabled=True)
    plan = await schedule(studio, last_date="2026-12-31")
    for name in ("Ann", "Bob"):
        await book_class(studio, name, "2026-12-09")
    cy = await studio.customer("Cy")

    series = await api.post(
        f"/class-schedules/{plan['id']}/bookings",
        {"customer_id": cy["id"], "count": 3, "mode": "available", "waitlist": True},
    )
    assert (series["booked"], series["waitlisted"], series["refused"]) == (2, 1, 0)
    [waited] = [r for r in series["results"] if r["result"] == "waitlisted"]
    assert waited["date"] == "2026-12-09"
    entry = await api.get(f"/waitlist/{waited['waitlist_entry_id']}")
    assert (entry["status"], entry["position"], entry["customer_id"]) == ("waiting", 1, cy["id"])
    assert (entry["date"], entry["start_time"]) == ("2026-12-09", "18:00:00")
    assert (await session_on(studio, plan["id"], "2026-12-09"))["waitlist_length"] == 1


# 7. Where an instructor cannot teach


async def test_a_schedule_outside_working_hours_is_refused_naming_the_dates(
    backend: str, api: Api
) -> None:
    studio = await timetable_studio(api)
    mornings = {"monday": [{"start": "08:00", "end": "12:00"}], "wednesday": []}
    nia = await studio.hire("Nia", [studio.vinyasa], key="nia", working_hours=mornings)
    answer = await refused(
        studio,
        "POST",
        "/class-schedules",
        {
            "service_id": studio.vinyasa["id"],
            "outlet_id": studio.outlet["id"],
            "staff_id": nia["id"],
            "start_time": "18:00",
            "days": ["monday", "wednesday"],
            "first_date": "2026-12-07",
            "last_date": "2026-12-16",
        },
        409,
    )
    assert answer["code"] == "schedule_conflict"
    assert conflicts_of(answer) == [
        ("2026-12-07", "18:00:00", "staff_unavailable"),
        ("2026-12-09", "18:00:00", "staff_unavailable"),
        ("2026-12-14", "18:00:00", "staff_unavailable"),
        ("2026-12-16", "18:00:00", "staff_unavailable"),
    ]
    listed = await api.get("/class-schedules", params={"staff_id": nia["id"]})
    assert listed["total"] == 0
    # In the morning she can teach it.
    await schedule(
        studio, staff_id=nia["id"], start_time="10:00", days=["monday"], last_date="2026-12-31"
    )


async def test_a_schedule_over_time_off_is_refused_naming_that_date(backend: str, api: Api) -> None:
    studio = await timetable_studio(api)
    await studio.give_time_off(studio.maya, "2026-12-09T12:00", "2026-12-10T00:00")
    answer = await refused(
        studio,
        "POST",
        "/class-schedules",
        {
            "service_id": studio.vinyasa["id"],
            "outlet_id": studio.outlet["id"],
            "staff_id": studio.maya["id"],
            "start_time": "18:00",
            "days": ["monday", "wednesday", "friday"],
            "first_date": "2026-12-07",
            "last_date": "2026-12-18",
        },
        409,
    )
    assert conflicts_of(answer) == [("2026-12-09", "18:00:00", "staff_unavailable")]
    assert "2026-12-09" in answer["detail"]


async def test_an_instructor_cannot_be_scheduled_in_two_places(backend: str, api: Api) -> None:
    studio = await timetable_studio(api)
    yin = await studio.offer("Yin", key="yin", parallel=True, capacity=8, booking_mode="timetable")
    await api.request(
        "PATCH",
        f"/staff/{studio.maya['id']}",
        {"service_ids": [studio.vinyasa["id"], studio.massage["id"], yin["id"]]},
        expect=200,
    )
    await schedule(studio, days=["monday"], last_date="2026-12-31")
    # Another class overlapping Monday's Vinyasa.
    answer = await refused(
        studio,
        "POST",
        "/class-schedules",
        {
            "service_id": yin["id"],
            "outlet_id": studio.outlet["id"],
            "staff_id": studio.maya["id"],
            "start_time": "18:30",
            "days": ["monday", "tuesday"],
            "first_date": "2026-12-07",
            "last_date": "2026-12-15",
        },
        409,
    )
    assert conflicts_of(answer) == [
        ("2026-12-07", "18:30:00", "staff_busy"),
        ("2026-12-14", "18:30:00", "staff_busy"),
    ]
    # A massage Maya gives on Tuesday at 19:00.
    await studio.book(studio.massage, studio.maya, date="2026-12-08", start="19:00")
    answer = await refused(
        studio,
        "POST",
        "/class-schedules",
        {
            "service_id": yin["id"],
            "outlet_id": studio.outlet["id"],
            "staff_id": studio.maya["id"],
            "start_time": "18:30",
            "days": ["tuesday"],
            "first_date": "2026-12-07",
            "last_date": "2026-12-15",
        },
        409,
    )
    assert conflicts_of(answer) == [("2026-12-08", "18:30:00", "staff_busy")]
    # Back to back is fine.
    await schedule(
        studio,
        service_id=yin["id"],
        start_time="19:00",
        days=["monday"],
        last_date="2026-12-31",
    )


# 8. Time off after the fact


async def test_time_off_over_scheduled_classes_warns_of_them_and_they_cannot_be_booked(
    backend: str, api: Api
) -> None:
    studio = await timetable_studio(api)
    plan = await schedule(studio, last_date="2026-12-31")
    off = await studio.give_time_off(studio.maya, "2026-12-09T00:00", "2026-12-12T00:00")
    assert off["warnings"] == [
        "Note: the class Vinyasa on 2026-12-09 18:00 falls in this time off; "
        "give it a substitute or cancel it",
        "Note: the class Vinyasa on 2026-12-11 18:00 falls in this time off; "
        "give it a substitute or cancel it",
    ]
    [slot] = await grid_day(studio, studio.vinyasa, "2026-12-09")
    assert (slot["start_time"], slot["is_available"], slot["available_capacity"]) == (
        "18:00:00",
        False,
        0,
    )
    away = await studio.book(
        studio.vinyasa, studio.maya, date="2026-12-09", start="18:00", expect=409
    )
    assert away["code"] == "staff_unavailable"
    [monday] = await grid_day(studio, studio.vinyasa, "2026-12-07")
    assert monday["is_available"] is True
    # Time off away from any class warns of nothing.
    quiet = await studio.give_time_off(studio.maya, "2026-12-15T09:00", "2026-12-15T12:00")
    assert quiet["warnings"] == []
    # Leo steps in on Wednesday and the class is bookable again.
    wednesday = await session_on(studio, plan["id"], "2026-12-09")
    await api.put(f"/class-sessions/{wednesday['id']}/substitute", {"staff_id": studio.leo["id"]})
    await studio.book(studio.vinyasa, studio.leo, date="2026-12-09", start="18:00")


# 9. Capacity


async def test_raising_a_schedules_capacity_promotes_the_waiting_customers(
    backend: str, api: Api
) -> None:
    studio = await timetable_studio(api, capacity=1, waitlist_enabled=True)
    plan = await schedule(studio, last_date="2026-12-31")
    await book_class(studio, "Ada", "2026-12-14")
    bea = await studio.customer("Bea")
    entry = await studio.join_waitlist(
        studio.vinyasa, studio.maya, customer=bea, date="2026-12-14", start="18:00"
    )

    change = await api.patch(
        f"/class-schedules/{plan['id']}", {"from_date": "2026-12-07", "capacity": 3}
    )
    assert change["schedule"]["capacity"] == 3
    assert change["warnings"] == []
    promoted = await studio.waitlist_entry(entry)
    assert promoted["status"] == "promoted"
    booked = await api.get(f"/appointments/{promoted['appointment_id']}")
    assert (booked["customer_id"], booked["appointment_date"], booked["status"]) == (
        bea["id"],
        "2026-12-14",
        "confirmed",
    )
    session = await session_on(studio, plan["id"], "2026-12-14")
    assert (session["capacity"], session["booked"], session["waitlist_length"]) == (3, 2, 0)
    assert "capacity_changed" in await history_types(studio, f"/class-sessions/{session['id']}")


async def test_a_schedules_own_capacity_replaces_the_services(backend: str, api: Api) -> None:
    studio = await timetable_studio(api, capacity=12)
    small = await schedule(studio, days=["monday"], capacity=2, last_date="2026-12-31")
    usual = await schedule(
        studio, staff_id=studio.leo["id"], days=["tuesday"], last_date="2026-12-31"
    )
    assert {s["capacity"] for s in await sessions_of(studio, small["id"])} == {2}
    for name in ("Ada", "Bea"):
        await book_class(studio, name, "2026-12-07")
    full = await studio.book(
        studio.vinyasa, studio.maya, date="2026-12-07", start="18:00", expect=409
    )
    assert full["code"] == "capacity_reached"

    # The service grows: the schedule with its own capacity keeps it, the other follows.
    await api.patch(f"/services/{studio.vinyasa['id']}", {"max_parallel_bookings": 20})
    assert {s["capacity"] for s in await sessions_of(studio, small["id"])} == {2}
    assert {s["capacity"] for s in await sessions_of(studio, usual["id"])} == {20}
    # Back to the service's capacity (null): the Monday class grows too.
    change = await api.patch(
        f"/class-schedules/{small['id']}", {"from_date": "2026-12-07", "capacity": None}
    )
    assert change["schedule"]["capacity"] is None
    monday = await session_on(studio, small["id"], "2026-12-07")
    assert (monday["capacity"], monday["available"]) == (20, 18)


async def test_a_one_to_one_class_has_no_capacity_to_set(backend: str, api: Api) -> None:
    studio = await timetable_studio(api)
    private = await studio.offer("Private Pilates", key="private", booking_mode="timetable")
    await api.request(
        "PATCH",
        f"/staff/{studio.leo['id']}",
        {"service_ids": [studio.vinyasa["id"], private["id"]]},
        expect=200,
    )
    answer = await refused(
        studio,
        "POST",
        "/class-schedules",
        {
            "service_id": private["id"],
            "outlet_id": studio.outlet["id"],
            "staff_id": studio.leo["id"],
            "start_time": "09:00",
            "days": ["tuesday"],
            "first_date": "2026-12-08",
            "capacity": 4,
        },
        422,
    )
    assert answer["field"] == "capacity"
    plan = await schedule(
        studio, service_id=private["id"], staff_id=studio.leo["id"], start_time="09:00"
    )
    assert plan["capacity"] is None
    change = await refused(
        studio,
        "PATCH",
        f"/class-schedules/{plan['id']}",
        {"from_date": "2026-12-08", "capacity": 4},
        422,
    )
    assert change["field"] == "capacity"


# 10. Validation


async def test_a_schedule_may_follow_an_rrule(backend: str, api: Api) -> None:
    studio = await timetable_studio(api)
    plan = await schedule(
        studio,
        days=None,
        rrule="FREQ=WEEKLY;INTERVAL=2;BYDAY=SA",
        first_date="2026-12-05",
        last_date="2027-01-31",
    )
    assert (plan["rrule"], plan["days"]) == ("FREQ=WEEKLY;INTERVAL=2;BYDAY=SA", None)
    dates = [s["date"] for s in await sessions_of(studio, plan["id"])]
    assert dates == ["2026-12-05", "2026-12-19", "2027-01-02", "2027-01-16", "2027-01-30"]
    weekly = await schedule(studio, days=["tuesday", "thursday"], start_time="09:00")
    assert (weekly["rrule"], weekly["days"]) == ("FREQ=WEEKLY;BYDAY=TU,TH", ["tuesday", "thursday"])
    assert (await api.get(f"/class-schedules/{plan['id']}"))["rrule"] == plan["rrule"]


async def test_a_schedule_with_an_unusable_recurrence_is_invalid(backend: str, api: Api) -> None:
    studio = await timetable_studio(api)
    base = {
        "service_id": studio.vinyasa["id"],
        "outlet_id": studio.outlet["id"],
        "staff_id": studio.maya["id"],
        "start_time": "18:00",
        "first_date": "2026-12-07",
    }
    for rule in ("FREQ=HOURLY", "FREQ=WEEKLY;BYDAY=XX", "every monday", "FREQ=DAILY;BYHOUR=9"):
        answer = await refused(studio, "POST", "/class-schedules", {**base, "rrule": rule}, 422)
        assert answer["field"] == "rrule", rule
    both = await refused(
        studio,
        "POST",
        "/class-schedules",
        {**base, "days": ["monday"], "rrule": "FREQ=WEEKLY;BYDAY=MO"},
        422,
    )
    assert "either days or rrule" in str(both["detail"])
    neither = await refused(studio, "POST", "/class-schedules", base, 422)
    assert "either days or rrule" in str(neither["detail"])
    assert (await api.get("/class-schedules"))["total"] == 0


async def test_an_open_service_has_no_schedule_and_a_scheduled_one_stays_a_timetable(
    backend: str, api: Api
) -> None:
    studio = await timetable_studio(api)
    open_class = await refused(
        studio,
        "POST",
        "/class-schedules",
        {
            "service_id": studio.massage["id"],
            "outlet_id": studio.outlet["id"],
            "staff_id": studio.maya["id"],
            "start_time": "09:00",
            "days": ["monday"],
            "first_date": "2026-12-07",
        },
        422,
    )
    assert open_class["field"] == "service_id"
    await schedule(studio)
    in_use = await refused(
        studio, "PATCH", f"/services/{studio.vinyasa['id']}", {"booking_mode": "open"}, 409
    )
    assert in_use["code"] == "timetable_in_use"
    assert (await api.get(f"/services/{studio.vinyasa['id']}"))["booking_mode"] == "timetable"


async def test_a_class_from_the_timetable_is_booked_on_its_own(backend: str, api: Api) -> None:
    studio = await timetable_studio(api)
    await schedule(studio)
    customer = await studio.customer("Ada")
    response = await api.book_response(
        studio.outlet,
        customer,
        [(studio.massage, studio.maya), (studio.vinyasa, studio.maya)],
        date="2026-12-07",
        start="17:00",
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "services"


# 11. History and tenancy


async def test_a_sessions_history_records_each_change(backend: str, api: Api) -> None:
    studio = await timetable_studio(api)
    plan = await schedule(studio, last_date="2026-12-31")
    friday = await session_on(studio, plan["id"], "2026-12-18")
    await api.put(f"/class-sessions/{friday['id']}/move", {"new_start_time": "19:00"})
    await api.put(f"/class-sessions/{friday['id']}/substitute", {"staff_id": studio.leo["id"]})
    await api.patch(
        f"/class-schedules/{plan['id']}", {"from_date": "2026-12-14", "start_time": "17:00"}
    )
    await api.put(f"/class-sessions/{friday['id']}/cancel", {"reason": "Snow"})
    history = (await api.get(f"/class-sessions/{friday['id']}/history"))["items"]
    assert [e["type"] for e in history] == ["moved", "substituted", "changed", "cancelled"]
    assert history[0]["data"]["from"]["start_time"] == "18:00:00"
    assert history[0]["data"]["to"]["start_time"] == "19:00:00"
    assert history[1]["data"]["to"]["staff_id"] == studio.leo["id"]
    assert history[2]["data"]["to"]["start_time"] == "17:00:00"
    assert history[3]["data"]["reason"] == "Snow"
    assert all(e["actor"] == "user" and e["user_id"] for e in history)


async def test_another_business_cannot_see_or_change_a_session(
    backend: str, api: Api, client: httpx.AsyncClient
) -> None:
    studio = await timetable_studio(api)
    plan = await schedule(studio, last_date="2026-12-31")
    monday = await session_on(studio, plan["id"], "2026-12-07")
    rival = Api(client)
    await open_studio(rival, "Rival Yoga")
    customer = await rival.customer("Eve")
    for path in ("", "/history"):
        await rival.get(f"/class-sessions/{monday['id']}{path}", expect=404)
    await rival.get(f"/class-schedules/{plan['id']}", expect=404)
    await rival.put(f"/class-sessions/{monday['id']}/cancel", expect=404)
    await rival.put(f"/class-sessions/{monday['id']}/move", {"new_start_time": "19:00"}, expect=404)
    await rival.patch(
        f"/class-schedules/{plan['id']}",
        {"from_date": "2026-12-07", "start_time": "07:00"},
        expect=404,
    )
    await rival.post(
        f"/class-schedules/{plan['id']}/bookings", {"customer_id": customer["id"]}, expect=404
    )
    assert (await rival.get("/class-sessions"))["total"] == 0
    assert (await rival.get("/class-schedules"))["total"] == 0
    # Nothing changed for the studio.
    again = await session_on(studio, plan["id"], "2026-12-07")
    assert (again["status"], again["start_time"]) == ("scheduled", "18:00:00")


# 12. An earlier end


async def test_an_earlier_end_removes_empty_sessions_and_keeps_booked_ones(
    backend: str, api: Api
) -> None:
    studio = await timetable_studio(api)
    plan = await schedule(studio, days=["monday"])
    january = await session_on(studio, plan["id"], "2027-01-04")
    booked = await book_class(studio, "Ada", "2027-01-04")

    change = await api.patch(
        f"/class-schedules/{plan['id']}", {"from_date": "2026-12-07", "last_date": "2026-12-21"}
    )
    assert change["kept_sessions"] == [january["id"]]
    assert change["schedule"]["last_date"] == "2026-12-21"
    dates = [s["date"] for s in await sessions_of(studio, plan["id"])]
    assert dates == ["2026-12-07", "2026-12-14", "2026-12-21", "2027-01-04"]
    assert (await appointment(studio, booked))["status"] == "confirmed"
    # The empty Mondays are gone: Maya is free, and nobody books the class then.
    gone = await studio.book(
        studio.vinyasa, studio.maya, date="2026-12-28", start="18:00", expect=409
    )
    assert gone["code"] == "not_scheduled"
    await studio.book(studio.massage, studio.maya, date="2026-12-28", start="18:00")
    # No end again: the Mondays would come back, but Maya now gives a massage on one.
    again = await refused(
        studio,
        "PATCH",
        f"/class-schedules/{plan['id']}",
        {"from_date": "2026-12-07", "last_date": None},
        409,
    )
    assert conflicts_of(again) == [("2026-12-28", "18:00:00", "staff_busy")]


async def test_an_over_full_class_moved_to_another_time_keeps_all_its_bookings(
    backend: str, api: Api
) -> None:
    studio = await timetable_studio(api, capacity=3, waitlist_enabled=True)
    plan = await schedule(studio, last_date="2026-12-31")
    bookings = [await book_class(studio, name, "2026-12-07") for name in ("Ada", "Bea", "Cy")]
    # The studio shrinks the class; Monday's three keep their places (over capacity).
    await api.patch(f"/services/{studio.vinyasa['id']}", {"max_parallel_bookings": 1})
    monday = await session_on(studio, plan["id"], "2026-12-07")
    assert (monday["capacity"], monday["booked"]) == (1, 3)

    moved = await api.put(f"/class-sessions/{monday['id']}/move", {"new_start_time": "19:00"})
    assert sorted(moved["appointments"]) == sorted(b["id"] for b in bookings)
    assert moved["unmoved_appointments"] == []
    assert (moved["session"]["start_time"], moved["session"]["booked"]) == ("19:00:00", 3)
    for booked in bookings:
        assert (await appointment(studio, booked))["start_time"] == "19:00:00"


async def test_an_end_before_the_change_date_still_ends_the_schedule_there(
    backend: str, api: Api
) -> None:
    studio = await timetable_studio(api)
    plan = await schedule(studio, days=["monday"])
    change = await api.patch(
        f"/class-schedules/{plan['id']}", {"from_date": "2027-01-11", "last_date": "2026-12-21"}
    )
    assert change["schedule"]["last_date"] == "2026-12-21"
    dates = [s["date"] for s in await sessions_of(studio, plan["id"])]
    assert dates == ["2026-12-07", "2026-12-14", "2026-12-21"]
