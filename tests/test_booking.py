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
async def yoga(studio: Studio) -> dict[str, Any]:
    return await studio.offer("Group Yoga", parallel=True, capacity=10)


@pytest.fixture
async def massage(studio: Studio) -> dict[str, Any]:
    return await studio.offer("Massage", duration=30)


@pytest.fixture
async def john(studio: Studio, yoga: dict[str, Any], massage: dict[str, Any]) -> dict[str, Any]:
    return await studio.hire("John Smith", [yoga, massage])


async def _count(api: Api) -> int:
    return int((await api.get("/appointments"))["total"])


async def test_staggered_class_overlap_is_refused(
    api: Api, studio: Studio, yoga: dict[str, Any], john: dict[str, Any]
) -> None:
    await studio.book(yoga, john, start="10:00")
    refused = await studio.book(yoga, john, start="10:30", expect=409)
    assert (refused["detail"], refused["code"]) == (CONFLICT_DETAIL, "staff_busy")


async def test_back_to_back_is_not_an_overlap(
    api: Api, studio: Studio, yoga: dict[str, Any], massage: dict[str, Any], john: dict[str, Any]
) -> None:
    await studio.book(yoga, john, start="10:00")
    await studio.book(massage, john, start="11:00")
    await studio.book(massage, john, start="09:30")


async def test_class_with_capacity_one_still_refuses_a_staggered_overlap(
    api: Api, studio: Studio
) -> None:
    small = await studio.offer("Tiny Class", parallel=True, capacity=1)
    anna = await studio.hire("Anna", [small])
    await studio.book(small, anna)
    assert (await studio.book(small, anna, expect=409))["code"] == "capacity_reached"
    assert (await studio.book(small, anna, start="10:15", expect=409))["code"] == ("staff_busy")


async def test_multi_service_appointment_runs_back_to_back(
    api: Api, studio: Studio, yoga: dict[str, Any], massage: dict[str, Any], john: dict[str, Any]
) -> None:
    sarah = await studio.hire("Sarah Lee", [massage])
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
    sarah = await studio.hire("Sarah Lee", [massage])
    await studio.book(massage, sarah, start="11:00")
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
    kim = await studio.hire("Kim", [massage], working_hours=hours)
    for start in ("08:30", "11:45", "12:00", "16:45", "17:00"):
        refused = await studio.book(massage, kim, start=start, expect=409)
        assert refused["code"] == "staff_unavailable", start
    refused = await studio.book(massage, kim, date="2026-12-08", start="10:00", expect=409)
    assert refused["code"] == "staff_unavailable"
    await studio.book(massage, kim, start="09:00")
    await studio.book(massage, kim, start="11:30")
    await studio.book(massage, kim, start="13:00")


async def test_time_off_blocks_bookings_and_its_removal_frees_them(
    api: Api, studio: Studio, massage: dict[str, Any], john: dict[str, Any]
) -> None:
    off = await api.post(
        f"/staff/{john['id']}/time-off",
        {"start": f"{MONDAY}T12:00:00", "end": f"{MONDAY}T14:00:00", "reason": "Dentist"},
    )
    for start in ("11:45", "12:00", "13:30"):
        refused = await studio.book(massage, john, start=start, expect=409)
        assert refused["code"] == "staff_unavailable"
    await studio.book(massage, john, start="11:30")
    await studio.book(massage, john, start="14:00")
    await api.request("DELETE", f"/staff/{john['id']}/time-off/{off['id']}", expect=204)
    await studio.book(massage, john, start="12:30")


async def test_start_in_the_past_is_refused(
    api: Api, studio: Studio, massage: dict[str, Any], john: dict[str, Any]
) -> None:
    refused = await studio.book(massage, john, date="2026-12-01", start="07:30", expect=422)
    assert "past" in refused["detail"]
    await studio.book(massage, john, date="2026-12-01", start="08:30")


async def test_local_time_that_does_not_exist_is_refused(api: Api) -> None:
    studio = await open_studio(api)
    night = await studio.offer("Night Walk", duration=30)
    guide = await studio.hire(
        "Guide",
        [night],
        working_hours={d: [{"start": "00:00", "end": "23:59"}] for d in DAYS},
    )
    refused = await studio.book(night, guide, date="2027-03-28", start="01:30", expect=422)
    assert "does not exist" in refused["detail"]
    booked = await studio.book(night, guide, date="2027-03-28", start="00:45")
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
    other = await studio.offer("Facial")
    nina = await studio.hire("Nina", [other])
    refused = await studio.book(yoga, nina, expect=422)
    assert refused["field"] == "services[0].staff_id"


async def test_inactive_staff_member_is_422(
    api: Api, studio: Studio, massage: dict[str, Any], john: dict[str, Any]
) -> None:
    await api.patch(f"/staff/{john['id']}", {"active": False})
    await studio.book(massage, john, expect=422)


async def test_another_tenants_staff_cannot_be_booked(
    api: Api, studio: Studio, massage: dict[str, Any]
) -> None:
    rival = Api(api.client)
    rival_studio = await open_studio(rival, "Rival Studio")
    rival_service = await rival.service("Massage")
    rival_staff = await rival.staff("Rival", rival_studio.outlet, [rival_service])
    refused = await studio.book(massage, rival_staff, expect=422)
    assert "staff_id" in refused["detail"]


async def test_pending_booking_holds_a_spot_and_can_be_confirmed(
    api: Api, studio: Studio, massage: dict[str, Any], john: dict[str, Any]
) -> None:
    pending = await studio.book(massage, john, status="pending")
    assert pending["status"] == "pending"
    await studio.book(massage, john, expect=409)
    confirmed = await api.put(f"/appointments/{pending['id']}/confirm")
    assert confirmed["status"] == "confirmed"
    assert (await api.put(f"/appointments/{pending['id']}/confirm"))["status"] == "confirmed"


async def test_completed_booking_still_holds_its_spot(
    api: Api, studio: Studio, massage: dict[str, Any], john: dict[str, Any]
) -> None:
    booked = await studio.book(massage, john)
    assert (await api.put(f"/appointments/{booked['id']}/complete"))["status"] == "completed"
    await studio.book(massage, john, expect=409)


async def test_transitions_that_make_no_sense_are_refused(
    api: Api, studio: Studio, massage: dict[str, Any], john: dict[str, Any]
) -> None:
    booked = await studio.book(massage, john)
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
    booked = await studio.book(massage, john)
    first = await api.put(f"/appointments/{booked['id']}/cancel", {"reason": "Ill"})
    again = await api.put(f"/appointments/{booked['id']}/cancel", {"reason": "Ill again"})
    assert again == first
    history = await api.get(f"/appointments/{booked['id']}/history")
    assert [item["type"] for item in history["items"]] == ["created", "cancelled"]


async def test_history_records_every_change_with_who_and_what(
    api: Api, studio: Studio, massage: dict[str, Any], john: dict[str, Any]
) -> None:
    me = await api.get("/auth/me")
    booked = await studio.book(massage, john, status="pending")
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
    sarah = await studio.hire("Sarah Lee", [massage])
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
    booked = await studio.book(massage, john)
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
    first = await studio.book(yoga, john, customer=customer)
    await studio.book(massage, john, start="15:00")
    await studio.book(massage, john, date="2026-12-08")
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
    booked = await studio.book(massage, john)
    rival = Api(api.client)
    await rival.signup("Rival Studio")
    unknown = await rival.get("/appointments/does-not-exist", expect=404)
    for path in ("", "/history"):
        assert await rival.get(f"/appointments/{booked['id']}{path}", expect=404) == unknown
    for action in ("cancel", "no-show", "confirm", "complete"):
        assert await rival.put(f"/appointments/{booked['id']}/{action}", expect=404) == unknown
    await rival.reschedule(booked, MONDAY, "12:00", expect=404)
    assert (await rival.get("/appointments"))["total"] == 0
