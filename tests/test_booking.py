"""Booking behaviour beyond the brief's scenarios: the contract's rules, edge by edge."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.scenarios import Studio, open_studio
from tests.support import CONFLICT_DETAIL, DAYS, MONDAY, Api


@pytest.fixture
async def studio(api: Api) -> Studio:
    return await open_studio(api)


@pytest.fixture
async def yoga(api: Api) -> dict[str, Any]:
    return await api.service("Group Yoga", parallel=True, capacity=10)


@pytest.fixture
async def massage(api: Api) -> dict[str, Any]:
    return await api.service("Massage", duration=30)


@pytest.fixture
async def john(
    api: Api, studio: Studio, yoga: dict[str, Any], massage: dict[str, Any]
) -> dict[str, Any]:
    return await api.staff("John Smith", studio.outlet, [yoga, massage])


async def _count(api: Api) -> int:
    return int((await api.get("/appointments"))["total"])


async def test_staggered_class_overlap_is_refused(
    api: Api, studio: Studio, yoga: dict[str, Any], john: dict[str, Any]
) -> None:
    await api.book(studio.outlet, yoga, john, start="10:00")
    refused = await api.book(studio.outlet, yoga, john, start="10:30", expect=409)
    assert (refused["detail"], refused["code"]) == (CONFLICT_DETAIL, "staff_busy")


async def test_back_to_back_is_not_an_overlap(
    api: Api, studio: Studio, yoga: dict[str, Any], massage: dict[str, Any], john: dict[str, Any]
) -> None:
    await api.book(studio.outlet, yoga, john, start="10:00")
    await api.book(studio.outlet, massage, john, start="11:00")
    await api.book(studio.outlet, massage, john, start="09:30")


async def test_class_with_capacity_one_still_refuses_a_staggered_overlap(
    api: Api, studio: Studio
) -> None:
    small = await api.service("Tiny Class", parallel=True, capacity=1)
    anna = await api.staff("Anna", studio.outlet, [small])
    await api.book(studio.outlet, small, anna)
    assert (await api.book(studio.outlet, small, anna, expect=409))["code"] == "capacity_reached"
    assert (await api.book(studio.outlet, small, anna, start="10:15", expect=409))["code"] == (
        "staff_busy"
    )


async def test_multi_service_appointment_runs_back_to_back(
    api: Api, studio: Studio, yoga: dict[str, Any], massage: dict[str, Any], john: dict[str, Any]
) -> None:
    sarah = await api.staff("Sarah Lee", studio.outlet, [massage])
    customer = await api.customer()
    response = await api.book_response(
        studio.outlet, customer, [(yoga, john), (massage, sarah)], start="10:00"
    )
    assert response.status_code == 201, response.text
    booked = response.json()
    assert (booked["start_time"], booked["end_time"]) == ("10:00:00", "11:30:00")
    lines = [
        (s["service_name"], s["staff_name"], s["start_time"], s["end_time"])
        for s in booked["services"]
    ]
    assert lines == [
        ("Group Yoga", "John Smith", "10:00:00", "11:00:00"),
        ("Massage", "Sarah Lee", "11:00:00", "11:30:00"),
    ]


async def test_multi_service_appointment_is_all_or_nothing(
    api: Api, studio: Studio, yoga: dict[str, Any], massage: dict[str, Any], john: dict[str, Any]
) -> None:
    sarah = await api.staff("Sarah Lee", studio.outlet, [massage])
    await api.book(studio.outlet, massage, sarah, start="11:00")
    before = await _count(api)
    response = await api.book_response(
        studio.outlet, await api.customer(), [(yoga, john), (massage, sarah)], start="10:00"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "slot_taken"
    assert await _count(api) == before
    assert await studio.active_in_session(yoga, john, "10:00") == 0


async def test_multi_service_lines_on_one_staff_member_do_not_clash(
    api: Api, studio: Studio, yoga: dict[str, Any], massage: dict[str, Any], john: dict[str, Any]
) -> None:
    response = await api.book_response(
        studio.outlet, await api.customer(), [(massage, john), (yoga, john)], start="09:00"
    )
    assert response.status_code == 201, response.text
    assert response.json()["end_time"] == "10:30:00"


async def test_booking_outside_working_hours_is_refused(
    api: Api, studio: Studio, massage: dict[str, Any]
) -> None:
    hours = {"monday": [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]}
    kim = await api.staff("Kim", studio.outlet, [massage], working_hours=hours)
    for start in ("08:30", "11:45", "12:00", "16:45", "17:00"):
        refused = await api.book(studio.outlet, massage, kim, start=start, expect=409)
        assert refused["code"] == "staff_unavailable", start
    refused = await api.book(
        studio.outlet, massage, kim, date="2026-12-08", start="10:00", expect=409
    )
    assert refused["code"] == "staff_unavailable"
    await api.book(studio.outlet, massage, kim, start="09:00")
    await api.book(studio.outlet, massage, kim, start="11:30")
    await api.book(studio.outlet, massage, kim, start="13:00")


async def test_time_off_blocks_bookings_and_its_removal_frees_them(
    api: Api, studio: Studio, massage: dict[str, Any], john: dict[str, Any]
) -> None:
    off = await api.post(
        f"/staff/{john['id']}/time-off",
        {"start": f"{MONDAY}T12:00:00", "end": f"{MONDAY}T14:00:00", "reason": "Dentist"},
    )
    for start in ("11:45", "12:00", "13:30"):
        refused = await api.book(studio.outlet, massage, john, start=start, expect=409)
        assert refused["code"] == "staff_unavailable"
    await api.book(studio.outlet, massage, john, start="11:30")
    await api.book(studio.outlet, massage, john, start="14:00")
    await api.request("DELETE", f"/staff/{john['id']}/time-off/{off['id']}", expect=204)
    await api.book(studio.outlet, massage, john, start="12:30")


async def test_start_in_the_past_is_refused(
    api: Api, studio: Studio, massage: dict[str, Any], john: dict[str, Any]
) -> None:
    refused = await api.book(
        studio.outlet, massage, john, date="2026-12-01", start="07:30", expect=422
    )
    assert "past" in refused["detail"]
    await api.book(studio.outlet, massage, john, date="2026-12-01", start="08:30")


async def test_local_time_that_does_not_exist_is_refused(api: Api) -> None:
    studio = await open_studio(api)
    night = await api.service("Night Walk", duration=30)
    guide = await api.staff(
        "Guide",
        studio.outlet,
        [night],
        working_hours={d: [{"start": "00:00", "end": "23:59"}] for d in DAYS},
    )
    refused = await api.book(
        studio.outlet, night, guide, date="2027-03-28", start="01:30", expect=422
    )
    assert "does not exist" in refused["detail"]
    booked = await api.book(studio.outlet, night, guide, date="2027-03-28", start="00:45")
    assert booked["end_time"] == "02:15:00"


@pytest.mark.parametrize(
    ("field", "value"),
    [("outlet_id", "nope"), ("customer_id", "nope")],
)
async def test_unknown_ids_in_the_body_are_422_naming_the_field(
    api: Api, studio: Studio, massage: dict[str, Any], john: dict[str, Any], field: str, value: str
) -> None:
    customer = await api.customer()
    response = await api.book_response(
        {**studio.outlet, "id": value} if field == "outlet_id" else studio.outlet,
        {**customer, "id": value} if field == "customer_id" else customer,
        [(massage, john)],
    )
    assert response.status_code == 422
    assert field in response.json()["detail"]


async def test_staff_who_does_not_offer_the_service_is_422(
    api: Api, studio: Studio, yoga: dict[str, Any]
) -> None:
    other = await api.service("Facial")
    nina = await api.staff("Nina", studio.outlet, [other])
    refused = await api.book(studio.outlet, yoga, nina, expect=422)
    assert refused["field"] == "services[0].staff_id"


async def test_inactive_staff_member_is_422(
    api: Api, studio: Studio, massage: dict[str, Any], john: dict[str, Any]
) -> None:
    await api.patch(f"/staff/{john['id']}", {"active": False})
    await api.book(studio.outlet, massage, john, expect=422)


async def test_another_tenants_staff_cannot_be_booked(
    api: Api, studio: Studio, massage: dict[str, Any]
) -> None:
    rival = Api(api.client)
    rival_studio = await open_studio(rival, "Rival Studio")
    rival_service = await rival.service("Massage")
    rival_staff = await rival.staff("Rival", rival_studio.outlet, [rival_service])
    refused = await api.book(studio.outlet, massage, rival_staff, expect=422)
    assert "staff_id" in refused["detail"]


async def test_pending_booking_holds_a_spot_and_can_be_confirmed(
    api: Api, studio: Studio, massage: dict[str, Any], john: dict[str, Any]
) -> None:
    pending = await api.book(studio.outlet, massage, john, status="pending")
    assert pending["status"] == "pending"
    await api.book(studio.outlet, massage, john, expect=409)
    confirmed = await api.put(f"/appointments/{pending['id']}/confirm")
    assert confirmed["status"] == "confirmed"
    assert (await api.put(f"/appointments/{pending['id']}/confirm"))["status"] == "confirmed"


async def test_completed_booking_still_holds_its_spot(
    api: Api, studio: Studio, massage: dict[str, Any], john: dict[str, Any]
) -> None:
    booked = await api.book(studio.outlet, massage, john)
    assert (await api.put(f"/appointments/{booked['id']}/complete"))["status"] == "completed"
    await api.book(studio.outlet, massage, john, expect=409)


async def test_transitions_that_make_no_sense_are_refused(
    api: Api, studio: Studio, massage: dict[str, Any], john: dict[str, Any]
) -> None:
    booked = await api.book(studio.outlet, massage, john)
    cancelled = await api.cancel(booked)
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelled_at"].endswith("Z")
    for action in ("no-show", "complete", "confirm"):
        refused = await api.put(f"/appointments/{booked['id']}/{action}", expect=409)
        assert refused["code"] == "invalid_transition"
        assert "cancelled" in refused["detail"]
    refused = await api.reschedule(booked, MONDAY, "15:00", expect=409)
    assert refused["code"] == "invalid_transition"


async def test_repeating_a_cancel_is_harmless(
    api: Api, studio: Studio, massage: dict[str, Any], john: dict[str, Any]
) -> None:
    booked = await api.book(studio.outlet, massage, john)
    first = await api.put(f"/appointments/{booked['id']}/cancel", {"reason": "Ill"})
    again = await api.put(f"/appointments/{booked['id']}/cancel", {"reason": "Ill again"})
    assert again == first
    history = await api.get(f"/appointments/{booked['id']}/history")
    assert [item["type"] for item in history["items"]] == ["created", "cancelled"]


async def test_history_records_every_change_with_who_and_what(
    api: Api, studio: Studio, massage: dict[str, Any], john: dict[str, Any]
) -> None:
    me = await api.get("/auth/me")
    booked = await api.book(studio.outlet, massage, john, status="pending")
    await api.reschedule(booked, "2026-12-08", "15:00")
    await api.put(f"/appointments/{booked['id']}/confirm")
    await api.put(f"/appointments/{booked['id']}/complete")
    history = await api.get(f"/appointments/{booked['id']}/history")
    assert history["total"] == 4
    assert [item["type"] for item in history["items"]] == [
        "created",
        "rescheduled",
        "confirmed",
        "completed",
    ]
    assert {item["user_id"] for item in history["items"]} == {me["id"]}
    assert all(item["at"].endswith("Z") for item in history["items"])
    moved = history["items"][1]["data"]
    assert moved["from"] == {"date": MONDAY, "start_time": "10:00:00", "end_time": "10:30:00"}
    assert moved["to"] == {"date": "2026-12-08", "start_time": "15:00:00", "end_time": "15:30:00"}


async def test_reschedule_moves_every_line_in_place(
    api: Api, studio: Studio, yoga: dict[str, Any], massage: dict[str, Any], john: dict[str, Any]
) -> None:
    sarah = await api.staff("Sarah Lee", studio.outlet, [massage])
    response = await api.book_response(
        studio.outlet, await api.customer(), [(yoga, john), (massage, sarah)]
    )
    booked = response.json()
    moved = await api.reschedule(booked, "2026-12-08", "14:00")
    assert moved["id"] == booked["id"]
    assert [(s["staff_name"], s["start_time"], s["end_time"]) for s in moved["services"]] == [
        ("John Smith", "14:00:00", "15:00:00"),
        ("Sarah Lee", "15:00:00", "15:30:00"),
    ]
    assert (await _count(api)) == 1


async def test_reschedule_into_the_past_is_refused(
    api: Api, studio: Studio, massage: dict[str, Any], john: dict[str, Any]
) -> None:
    booked = await api.book(studio.outlet, massage, john)
    await api.reschedule(booked, "2026-11-30", "10:00", expect=422)


async def test_every_line_decision_is_logged(
    api: Api,
    studio: Studio,
    yoga: dict[str, Any],
    massage: dict[str, Any],
    john: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    capsys.readouterr()
    await api.book_response(
        studio.outlet, await api.customer(), [(massage, john), (yoga, john)], start="09:00"
    )
    checks = [
        json.loads(line)
        for line in capsys.readouterr().err.splitlines()
        if "parallel_booking_capacity_check" in line
    ]
    assert [(c["service_id"], c["max_capacity"], c["capacity_reached"]) for c in checks] == [
        (massage["id"], 1, False),
        (yoga["id"], 10, False),
    ]
    assert all(c.get("request_id") for c in checks)


async def test_appointment_list_filters(
    api: Api, studio: Studio, yoga: dict[str, Any], massage: dict[str, Any], john: dict[str, Any]
) -> None:
    customer = await api.customer()
    first = await api.book(studio.outlet, yoga, john, customer=customer)
    await api.book(studio.outlet, massage, john, start="15:00")
    await api.book(studio.outlet, massage, john, date="2026-12-08")
    await api.cancel(first)

    async def ids(**params: Any) -> int:
        return int((await api.get("/appointments", params=params))["total"])

    assert await ids() == 3
    assert await ids(customer_id=customer["id"]) == 1
    assert await ids(service_id=massage["id"]) == 2
    assert await ids(start_date=MONDAY, end_date=MONDAY) == 2
    assert await ids(status="cancelled") == 1
    assert await ids(status=["cancelled", "confirmed"]) == 3
    assert await ids(outlet_id=studio.outlet["id"], limit=1) == 3
    assert len((await api.get("/appointments", params={"limit": 1, "offset": 2}))["items"]) == 1
    await api.get("/appointments", params={"status": "rescheduled"}, expect=422)


async def test_another_tenants_appointment_is_not_found(
    api: Api, studio: Studio, massage: dict[str, Any], john: dict[str, Any]
) -> None:
    booked = await api.book(studio.outlet, massage, john)
    rival = Api(api.client)
    await rival.signup("Rival Studio")
    unknown = await rival.get("/appointments/does-not-exist", expect=404)
    for path in ("", "/history"):
        assert await rival.get(f"/appointments/{booked['id']}{path}", expect=404) == unknown
    for action in ("cancel", "no-show", "confirm", "complete"):
        assert await rival.put(f"/appointments/{booked['id']}/{action}", expect=404) == unknown
    await rival.reschedule(booked, MONDAY, "12:00", expect=404)
    assert (await rival.get("/appointments"))["total"] == 0
