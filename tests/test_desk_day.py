"""The front desk's day view (GET /desk/day), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI

from slotbook.clock import FixedClock
from tests.support import DAYS, MONDAY, TUESDAY, Api, counted_statements, reads, unique_email

DAY = "/desk/day"
SUNDAY = "2026-12-06"
Json = dict[str, Any]


async def desk_day(api: Api, outlet: Json, date: str = MONDAY, *, expect: int = 200) -> Any:
    return await api.get(DAY, params={"outlet_id": outlet["id"], "date": date}, expect=expect)


def column(day: Json, staff: Json) -> Json:
    found = [c for c in day["staff"] if c["id"] == staff["id"]]
    assert len(found) == 1, f"no single column for {staff['name']}: {day['staff']}"
    return found[0]


def block(day: Json, staff: Json, start: str) -> Json:
    found = [b for b in column(day, staff)["blocks"] if b["start_time"] == f"{start}:00"]
    assert len(found) == 1, f"no single block at {start}: {column(day, staff)['blocks']}"
    return found[0]


async def book_many(
    api: Api, outlet: Json, service: Json, staff: Json, count: int, **kw: Any
) -> list[Json]:
    return [await api.book(outlet, service, staff, **kw) for _ in range(count)]


async def join_waitlist(
    api: Api,
    outlet: Json,
    service: Json,
    staff: Json,
    *,
    customer: Json | None = None,
    start: str = "10:00",
    party_size: int = 1,
    expect: int = 201,
) -> Json:
    """A customer (a new one unless given) joins the waitlist of a session (POST /waitlist)."""
    customer = customer or await api.customer()
    body = {
        "outlet_id": outlet["id"],
        "customer_id": customer["id"],
        "service_id": service["id"],
        "staff_id": staff["id"],
        "date": MONDAY,
        "start_time": start,
        "party_size": party_size,
    }
    return dict(await api.post("/waitlist", body, expect=expect))


async def test_a_class_shows_taken_spots_of_capacity_and_counts_no_cancelled_place(
    api: Api,
) -> None:
    await api.signup()
    outlet = await api.outlet()
    yoga = await api.service("Group Yoga", parallel=True, capacity=10)
    john = await api.staff("John Smith", outlet, [yoga])
    booked = await book_many(api, outlet, yoga, john, 8)
    cancelled = await api.cancel(booked[0])

    session = block(await desk_day(api, outlet), john, "10:00")
    assert session["label"] == "Group Yoga 10:00-11:00 - 7/10"
    assert session["kind"] == "class"
    assert (session["taken"], session["capacity"], session["spots_left"]) == (7, 10, 3)
    assert (session["almost_full"], session["full"]) == (False, False)
    assert session["end_time"] == "11:00:00"
    roster = session["roster"]
    assert len(roster) == 8
    # Place holders first; the cancelled booking is listed last and holds no place.
    assert [entry["holds_place"] for entry in roster] == [True] * 7 + [False]
    gone = roster[-1]
    assert gone["appointment_id"] == cancelled["id"]
    assert gone["status"] == "cancelled"
    assert not any(gone[flag] for flag in ("can_cancel", "can_no_show", "can_move", "can_complete"))
    kept = roster[0]
    assert kept["status"] == "confirmed"
    assert all(kept[flag] for flag in ("can_cancel", "can_no_show", "can_move", "can_complete"))
    assert kept["appointment_date"] == MONDAY
    assert kept["appointment_start_time"] == "10:00:00"
    customer = await api.get(f"/customers/{kept['customer_id']}")
    assert (kept["customer_name"], kept["email"]) == (customer["name"], customer["email"])


async def test_a_class_is_almost_full_at_nine_of_ten_and_full_at_ten(api: Api) -> None:
    await api.signup()
    outlet = await api.outlet()
    yoga = await api.service("Group Yoga", parallel=True, capacity=10)
    john = await api.staff("John Smith", outlet, [yoga])
    await book_many(api, outlet, yoga, john, 9)

    nine = block(await desk_day(api, outlet), john, "10:00")
    assert nine["label"] == "Group Yoga 10:00-11:00 - 9/10"
    assert (nine["almost_full"], nine["full"], nine["spots_left"]) == (True, False, 1)

    last = await api.book(outlet, yoga, john)
    ten = block(await desk_day(api, outlet), john, "10:00")
    assert ten["label"] == "Group Yoga 10:00-11:00 - 10/10"
    assert (ten["almost_full"], ten["full"], ten["spots_left"]) == (False, True, 0)

    await api.put(f"/appointments/{last['id']}/no-show")
    freed = block(await desk_day(api, outlet), john, "10:00")
    assert freed["label"] == "Group Yoga 10:00-11:00 - 9/10"
    no_show = [entry for entry in freed["roster"] if entry["appointment_id"] == last["id"]]
    assert no_show[0]["status"] == "no_show"
    assert not no_show[0]["holds_place"]


async def test_a_class_counts_the_spots_of_each_party_and_says_who_may_change_theirs(
    api: Api,
) -> None:
    await api.signup()
    outlet = await api.outlet()
    yoga = await api.service("Group Yoga", parallel=True, capacity=6)
    haircut = await api.service("Haircut")
    john = await api.staff("John Smith", outlet, [yoga])
    anna = await api.staff("Anna Lee", outlet, [haircut])
    family = await api.book(outlet, yoga, john, party_size=3)
    couple = await api.book(outlet, yoga, john, party_size=2)
    await api.book(outlet, haircut, anna, start="14:00")

    day = await desk_day(api, outlet)
    session = block(day, john, "10:00")
    assert session["label"] == "Group Yoga 10:00-11:00 - 5/6"
    assert (session["taken"], session["spots_left"], session["almost_full"]) == (5, 1, True)
    parties = {e["appointment_id"]: e["party_size"] for e in session["roster"]}
    assert parties == {family["id"]: 3, couple["id"]: 2}
    assert all(e["can_change_party_size"] for e in session["roster"])
    assert (session["waitlist_enabled"], session["can_add_to_waitlist"]) == (False, False)
    assert session["waitlist"] == []
    (cut,) = block(day, anna, "14:00")["roster"]
    assert (cut["party_size"], cut["can_change_party_size"]) == (1, False)

    # The desk changes a party through the staff API: larger when it fits, or smaller.
    await api.put(f"/appointments/{couple['id']}/party-size", {"party_size": 3})
    full = block(await desk_day(api, outlet), john, "10:00")
    assert (full["label"], full["full"], full["spots_left"]) == (
        "Group Yoga 10:00-11:00 - 6/6",
        True,
        0,
    )
    await api.put(f"/appointments/{family['id']}/party-size", {"party_size": 1})
    await api.cancel(couple)
    after = block(await desk_day(api, outlet), john, "10:00")
    assert after["label"] == "Group Yoga 10:00-11:00 - 1/6"
    gone = next(e for e in after["roster"] if e["appointment_id"] == couple["id"])
    assert (gone["holds_place"], gone["party_size"], gone["can_change_party_size"]) == (
        False,
        3,
        False,
    )


async def test_a_full_class_shows_its_waitlist_by_position_until_it_starts(
    api: Api, clock: FixedClock
) -> None:
    await api.signup()
    outlet = await api.outlet()
    yoga = await api.service(
        "Group Yoga", parallel=True, capacity=2, waitlist_enabled=True, waitlist_limit=3
    )
    john = await api.staff("John Smith", outlet, [yoga])
    await book_many(api, outlet, yoga, john, 2)
    await book_many(api, outlet, yoga, john, 1, start="11:00")
    maria = await api.post(
        "/customers", {"name": "Maria Lopez", "email": "maria@example.com", "phone": "+1 555 0101"}
    )
    first = await join_waitlist(api, outlet, yoga, john, customer=maria, party_size=2)
    second = await join_waitlist(api, outlet, yoga, john)
    third = await join_waitlist(api, outlet, yoga, john)

    day = await desk_day(api, outlet)
    session = block(day, john, "10:00")
    assert (session["full"], session["waitlist_enabled"]) == (True, True)
    assert [(w["entry_id"], w["position"], w["party_size"]) for w in session["waitlist"]] == [
        (first["id"], 1, 2),
        (second["id"], 2, 1),
        (third["id"], 3, 1),
    ]
    top = session["waitlist"][0]
    assert (top["customer_name"], top["email"], top["phone"]) == (
        "Maria Lopez",
        "maria@example.com",
        "+1 555 0101",
    )
    assert top["customer_id"] == maria["id"]
    assert session["can_add_to_waitlist"] is False  # the limit of 3 is reached
    open_session = block(day, john, "11:00")
    assert (open_session["waitlist"], open_session["can_add_to_waitlist"]) == ([], True)

    await api.put(f"/waitlist/{second['id']}/cancel")
    moved = block(await desk_day(api, outlet), john, "10:00")
    assert [(w["entry_id"], w["position"]) for w in moved["waitlist"]] == [
        (first["id"], 1),
        (third["id"], 2),
    ]
    assert moved["can_add_to_waitlist"] is True

    # Once the session has started, nobody waits for it any more (the owner logs in
    # again: the signup's token has expired by then).
    email = (await api.get("/auth/me"))["email"]
    clock.at = datetime(2026, 12, 7, 10, 5, tzinfo=UTC)
    login = await api.post(
        "/auth/login", {"email": email, "password": "correct-horse-1"}, expect=200
    )
    api.token = login["access_token"]
    started = block(await desk_day(api, outlet), john, "10:00")
    assert (started["waitlist"], started["can_add_to_waitlist"]) == ([], False)
    later = block(await desk_day(api, outlet), john, "11:00")
    assert later["can_add_to_waitlist"] is True


async def test_a_one_to_one_appointment_is_a_block_with_a_roster_of_one(api: Api) -> None:
    await api.signup()
    outlet = await api.outlet()
    haircut = await api.service("Haircut")
    colour = await api.service("Colour", duration=30)
    anna = await api.staff("Anna Lee", outlet, [haircut, colour])
    ana = await api.post(
        "/customers", {"name": "Ana Ruiz", "email": "ana@example.com", "phone": "+44 20 7946 0123"}
    )
    both = await api.book_response(
        outlet, ana, [(haircut, anna), (colour, anna)], start="14:00", notes="Bring photos"
    )
    assert both.status_code == 201, both.text

    day = await desk_day(api, outlet)
    cut = block(day, anna, "14:00")
    assert cut["label"] == "Haircut 14:00-15:00 - Ana Ruiz"
    assert cut["kind"] == "appointment"
    assert (cut["taken"], cut["capacity"], cut["spots_left"], cut["full"]) == (1, 1, 0, True)
    assert cut["almost_full"] is False
    (entry,) = cut["roster"]
    assert entry["appointment_id"] == both.json()["id"]
    assert (entry["customer_name"], entry["email"], entry["phone"]) == (
        "Ana Ruiz",
        "ana@example.com",
        "+44 20 7946 0123",
    )
    assert entry["notes"] == "Bring photos"
    # The second service of the same appointment is its own block; moving it moves the
    # whole appointment, which starts at 14:00.
    dye = block(day, anna, "15:00")
    assert dye["label"] == "Colour 15:00-15:30 - Ana Ruiz"
    assert dye["roster"][0]["appointment_id"] == entry["appointment_id"]
    assert dye["roster"][0]["appointment_start_time"] == "14:00:00"
    assert [b["start_time"] for b in column(day, anna)["blocks"]] == ["14:00:00", "15:00:00"]

    await api.put(f"/appointments/{entry['appointment_id']}/complete")
    done = block(await desk_day(api, outlet), anna, "14:00")["roster"][0]
    assert (done["status"], done["holds_place"]) == ("completed", True)
    assert not any(done[flag] for flag in ("can_cancel", "can_no_show", "can_move", "can_complete"))


async def test_columns_show_each_staff_members_hours_and_time_off_that_day(api: Api) -> None:
    await api.signup()
    outlet = await api.outlet()
    elsewhere = await api.outlet("Harbour Studio")
    haircut = await api.service("Haircut")
    split = {
        "monday": [{"start": "13:00", "end": "18:00"}, {"start": "09:00", "end": "12:00"}],
        "tuesday": [{"start": "10:00", "end": "16:00"}],
    }
    anna = await api.staff("Anna Lee", outlet, [haircut], working_hours=split)
    ben = await api.staff("Ben Hart", outlet, [haircut])
    await api.staff("Cleo Far", elsewhere, [haircut])
    dora = await api.staff("Dora Gone", outlet, [haircut])
    await api.patch(f"/staff/{dora['id']}", {"active": False})
    for start, end in (
        ("2026-12-06T20:00:00", "2026-12-07T09:30:00"),  # from Sunday evening
        ("2026-12-07T15:00:00", "2026-12-07T16:00:00"),
        ("2026-12-08T10:00:00", "2026-12-08T11:00:00"),  # Tuesday only
    ):
        await api.post(f"/staff/{anna['id']}/time-off", {"start": start, "end": end})

    day = await desk_day(api, outlet)
    assert day["date"] == MONDAY
    assert day["outlet"] == {"id": outlet["id"], "name": "Main Studio", "timezone": "Europe/London"}
    assert [c["name"] for c in day["staff"]] == ["Anna Lee", "Ben Hart"]
    monday = column(day, anna)
    assert monday["active"] is True
    assert monday["working_hours"] == [
        {"start": "09:00:00", "end": "12:00:00"},
        {"start": "13:00:00", "end": "18:00:00"},
    ]
    assert monday["time_off"] == [
        {"start": "2026-12-06T20:00:00", "end": "2026-12-07T09:30:00"},
        {"start": "2026-12-07T15:00:00", "end": "2026-12-07T16:00:00"},
    ]
    assert monday["blocks"] == []
    assert column(day, ben)["working_hours"] == [{"start": "08:00:00", "end": "22:00:00"}]
    assert column(day, ben)["time_off"] == []

    tuesday = column(await desk_day(api, outlet, TUESDAY), anna)
    assert tuesday["working_hours"] == [{"start": "10:00:00", "end": "16:00:00"}]
    assert tuesday["time_off"] == [{"start": "2026-12-08T10:00:00", "end": "2026-12-08T11:00:00"}]
    assert column(await desk_day(api, outlet, "2026-12-09"), anna)["working_hours"] == []


async def test_a_former_staff_member_keeps_a_column_while_they_have_bookings(api: Api) -> None:
    await api.signup()
    outlet = await api.outlet()
    haircut = await api.service("Haircut")
    dora = await api.staff("Dora Gone", outlet, [haircut])
    await api.book(outlet, haircut, dora, start="09:00")
    await api.patch(f"/staff/{dora['id']}", {"active": False})

    monday = column(await desk_day(api, outlet), dora)
    assert monday["active"] is False
    assert [b["start_time"] for b in monday["blocks"]] == ["09:00:00"]
    assert (await desk_day(api, outlet, TUESDAY))["staff"] == []


async def test_the_day_is_the_outlets_local_day(api: Api) -> None:
    await api.signup()
    outlet = await api.outlet("Auckland Studio", "Pacific/Auckland")  # UTC+13 in December
    yoga = await api.service("Group Yoga", parallel=True, capacity=10)
    kiri = await api.staff("Kiri Hale", outlet, [yoga])
    await api.book(outlet, yoga, kiri, start="08:00")  # Sunday 19:00 UTC
    await api.book(outlet, yoga, kiri, start="21:00")  # Monday 08:00 UTC

    monday = column(await desk_day(api, outlet), kiri)
    assert [b["label"] for b in monday["blocks"]] == [
        "Group Yoga 08:00-09:00 - 1/10",
        "Group Yoga 21:00-22:00 - 1/10",
    ]
    assert column(await desk_day(api, outlet, SUNDAY), kiri)["blocks"] == []
    assert column(await desk_day(api, outlet, TUESDAY), kiri)["blocks"] == []


async def test_another_business_and_bad_input_are_refused_naming_the_field(api: Api) -> None:
    await api.signup("Lotus Yoga")
    mine = await api.outlet()
    yoga = await api.service("Group Yoga", parallel=True, capacity=10)
    john = await api.staff("John Smith", mine, [yoga])
    await api.book(outlet=mine, service=yoga, staff=john)
    theirs = Api(api.client)
    await theirs.signup("Other Studio")
    their_outlet = await theirs.outlet()

    assert (await desk_day(api, their_outlet, expect=422))["field"] == "outlet_id"
    assert (await desk_day(theirs, mine, expect=422))["field"] == "outlet_id"
    assert (await desk_day(api, {"id": "nope"}, expect=422))["field"] == "outlet_id"
    assert (await desk_day(api, {"id": "a\x00b"}, expect=422))["field"] == "outlet_id"
    assert (await desk_day(api, mine, "0001-01-01", expect=422))["field"] == "date"
    assert (await desk_day(api, mine, "9999-12-31", expect=422))["field"] == "date"
    bad_date = await desk_day(api, mine, "2026-13-01", expect=422)
    assert bad_date["detail"][0]["loc"] == ["query", "date"]
    missing = await api.get(DAY, params={"date": MONDAY}, expect=422)
    assert missing["detail"][0]["loc"] == ["query", "outlet_id"]
    await desk_day(Api(api.client), mine, expect=401)
    assert (await desk_day(theirs, their_outlet))["staff"] == []


async def test_front_desk_staff_may_read_the_day(api: Api) -> None:
    await api.signup()
    outlet = await api.outlet()
    email = unique_email("desk")
    body = {"email": email, "password": "front-desk-1", "name": "Desk", "role": "staff"}
    await api.post("/users", body)
    login = await api.post("/auth/login", {"email": email, "password": "front-desk-1"}, expect=200)
    desk = api.as_user(login["access_token"])
    assert (await desk_day(desk, outlet))["outlet"]["id"] == outlet["id"]


async def test_the_endpoint_is_documented_with_its_response_model(api: Api) -> None:
    schema = (await api.client.get("/openapi.json")).json()
    operation = schema["paths"]["/api/v1/desk/day"]["get"]
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/DeskDay"}
    assert {"401", "403", "422"} <= set(operation["responses"])
    assert {p["name"] for p in operation["parameters"]} == {"outlet_id", "date"}
    block_fields = schema["components"]["schemas"]["DeskBlock"]["properties"]
    assert {"label", "taken", "capacity", "spots_left", "almost_full", "full"} <= set(block_fields)


async def test_the_day_is_read_in_a_fixed_number_of_statements(api: Api, app: FastAPI) -> None:
    await api.signup()
    outlet = await api.outlet()
    yoga = await api.service("Group Yoga", parallel=True, capacity=4, waitlist_enabled=True)
    haircut = await api.service("Haircut")
    john = await api.staff("John Smith", outlet, [yoga, haircut])
    await api.book(outlet, yoga, john, start="10:00")

    async with counted_statements(app) as one_booking:
        await desk_day(api, outlet)

    team = [john] + [await api.staff(f"Teacher {n}", outlet, [yoga, haircut]) for n in range(4)]
    hours = {day: [{"start": "08:00", "end": "22:00"}] for day in DAYS}
    await api.patch(f"/staff/{team[1]['id']}", {"working_hours": hours})
    for member in team:
        await api.post(
            f"/staff/{member['id']}/time-off",
            {"start": "2026-12-07T18:00:00", "end": "2026-12-07T19:00:00"},
        )
        await book_many(api, outlet, yoga, member, 4, start="11:00")
        await join_waitlist(api, outlet, yoga, member, start="11:00")
        await api.book(outlet, haircut, member, start="15:00")
    cancelled = await api.book(outlet, haircut, team[2], start="16:00")
    await api.cancel(cancelled)

    async with counted_statements(app) as many_bookings:
        day = await desk_day(api, outlet)

    assert sum(len(c["blocks"]) for c in day["staff"]) == 1 + 5 * 2 + 1
    assert sum(len(b["roster"]) for c in day["staff"] for b in c["blocks"]) == 1 + 5 * 5 + 1
    assert sum(len(b["waitlist"]) for c in day["staff"] for b in c["blocks"]) == 5
    assert len(many_bookings) == len(one_booking), (one_booking, many_bookings)
    # The caller's role, the outlet, the day's lines, the waiting customers, the day's
    # scheduled class sessions (one more since the timetable: a class nobody booked yet
    # shows too, with its own capacity), the staff, their time off.
    assert len(reads(many_bookings)) == 7, many_bookings


async def test_a_scheduled_class_shows_before_anyone_books_it_with_its_own_capacity(
    api: Api, app: FastAPI
) -> None:
    await api.signup()
    outlet = await api.outlet()
    vinyasa = await api.service(
        "Vinyasa", parallel=True, capacity=12, booking_mode="timetable", waitlist_enabled=True
    )
    maya = await api.staff("Maya Stone", outlet, [vinyasa])
    body = {
        "service_id": vinyasa["id"],
        "outlet_id": outlet["id"],
        "staff_id": maya["id"],
        "start_time": "18:00",
        "days": ["monday", "wednesday"],
        "first_date": MONDAY,
        "last_date": "2026-12-31",
    }
    plan = await api.post("/class-schedules", body)
    params = {"schedule_id": plan["id"], "start_date": MONDAY, "end_date": "2026-12-09"}
    sessions = (await api.get("/class-sessions", params=params))["items"]
    assert [s["date"] for s in sessions] == [MONDAY, "2026-12-09"]

    async with counted_statements(app) as empty_class:
        day = await desk_day(api, outlet)
    empty = block(day, maya, "18:00")
    assert empty["label"] == "Vinyasa 18:00-19:00 - 0/12"
    assert empty["kind"] == "class"
    assert empty["session_id"] == sessions[0]["id"]
    assert (empty["taken"], empty["capacity"], empty["spots_left"]) == (0, 12, 12)
    assert (empty["full"], empty["almost_full"], empty["roster"]) == (False, False, [])
    assert (empty["waitlist_enabled"], empty["can_add_to_waitlist"]) == (True, True)
    assert column(await desk_day(api, outlet, TUESDAY), maya)["blocks"] == []
    # The desk reads the class sessions in one statement of its own, whatever the day.
    assert len(reads(empty_class)) == 7, empty_class

    # The session's own capacity, not the service's: Wednesday's class takes 5.
    wednesday = sessions[1]
    change = {"from_date": "2026-12-09", "capacity": 5}
    await api.patch(f"/class-schedules/{plan['id']}", change, expect=200)
    customer = await api.customer()
    booked = await api.book_response(
        outlet, customer, [(vinyasa, maya)], date="2026-12-09", start="18:00", party_size=2
    )
    assert booked.status_code == 201, booked.text
    mid_week = block(await desk_day(api, outlet, "2026-12-09"), maya, "18:00")
    assert mid_week["label"] == "Vinyasa 18:00-19:00 - 2/5"
    assert (mid_week["taken"], mid_week["capacity"], mid_week["spots_left"]) == (2, 5, 3)
    assert mid_week["session_id"] == wednesday["id"]
    assert len(mid_week["roster"]) == 1
    assert block(await desk_day(api, outlet), maya, "18:00")["label"] == (
        "Vinyasa 18:00-19:00 - 0/12"
    )

    # A cancelled session is gone from the desk (it holds nobody's time any more).
    await api.put(f"/class-sessions/{sessions[0]['id']}/cancel", {"reason": "Maya is ill"})
    assert column(await desk_day(api, outlet), maya)["blocks"] == []
