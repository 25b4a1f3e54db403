"""The public booking API: customers book without an account, and see nobody else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from slotbook.app import create_app
from slotbook.clock import FixedClock
from slotbook.settings import Settings
from tests.scenarios import Studio, open_staffed_studio, open_studio
from tests.support import CONFLICT_DETAIL, MONDAY, Api, client_for
from tests.support import public_booking_body as booking_body

# ``studio``, ``booking_body`` and ``client_for`` are imported from here by other tests.
__all__ = ["booking_body", "client_for", "studio"]


async def studio(api: Api, name: str = "Lotus Yoga") -> Studio:
    """The studio of these tests: ``tests.scenarios.open_staffed_studio``."""
    return await open_staffed_studio(api, name)


@pytest.fixture
async def public(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as http:
        yield http


async def monday_slot(
    public: httpx.AsyncClient, place: Studio, service: dict[str, Any], start: str = "10:00:00"
) -> dict[str, Any]:
    response = await public.get(
        f"{place.base}/slots",
        params={"service_id": service["id"], "start_date": MONDAY, "days": 1},
    )
    assert response.status_code == 200, response.text
    day = response.json()["days"][0]
    assert day["date"] == MONDAY
    return next(slot for slot in day["slots"] if slot["start_time"] == start)


async def test_a_customer_books_a_class_and_no_answer_shows_other_customers(
    api: Api, public: httpx.AsyncClient
) -> None:
    place = await studio(api)
    others = [await api.customer(f"Private Person {n}") for n in range(3)]
    for other in others:
        await place.book(place.yoga, place.john, customer=other)

    answers = [await public.get(place.base)]
    slot = await monday_slot(public, place, place.yoga)
    assert slot["label"] == "7/10 spots left"
    assert (slot["spots_left"], slot["capacity"], slot["bookable"]) == (7, 10, True)
    booked = await public.post(f"{place.base}/bookings", json=booking_body(place.yoga, place.john))
    assert booked.status_code == 201, booked.text
    token = booked.json()["manage_path"].rsplit("/", 1)[-1]
    answers.append(await public.get(f"/api/v1/public/bookings/{token}"))
    answers.append(await public.get(f"/my-booking/{token}"))
    answers.append(booked)
    answers.append(await public.get(f"{place.base}/slots", params={"service_id": place.yoga["id"]}))
    assert (await monday_slot(public, place, place.yoga))["label"] == "6/10 spots left"

    for answer in answers:
        assert answer.status_code in (200, 201), answer.text
        for other in others:
            assert other["name"] not in answer.text
            assert other["email"] not in answer.text
            assert other["id"] not in answer.text
        assert "customer" not in answer.text
        assert "Walk In" not in answer.text  # not even the booker's own details come back
    body = booked.json()
    assert body["status"] == "confirmed"
    assert body["services"] == [
        {
            "service_name": "Group Yoga",
            "staff_name": "John Smith",
            "start_time": "10:00:00",
            "end_time": "11:00:00",
        }
    ]
    assert body["timezone"] == "Europe/London"


async def test_a_public_booking_reuses_the_customer_with_that_email_without_changing_them(
    api: Api, public: httpx.AsyncClient
) -> None:
    place = await studio(api)
    known = await api.post(
        "/customers",
        {"name": "Known Customer", "email": "known@example.com", "phone": "+1 555 0100"},
    )
    response = await public.post(
        f"{place.base}/bookings",
        json=booking_body(
            place.haircut, place.anna, email="KNOWN@example.com", name="Someone Else"
        ),
    )
    assert response.status_code == 201, response.text
    assert "Known Customer" not in response.text
    listed = await api.get("/appointments", params={"customer_id": known["id"]})
    assert listed["total"] == 1
    assert (await api.get(f"/customers/{known['id']}"))["name"] == "Known Customer"

    new = await public.post(
        f"{place.base}/bookings",
        json=booking_body(place.haircut, place.anna, start="11:00", email="new@example.com"),
    )
    assert new.status_code == 201, new.text
    found = await api.get("/customers", params={"q": "new@example.com"})
    assert [c["name"] for c in found["items"]] == ["Walk In"]


async def test_another_tenants_outlet_is_not_found_on_the_page_or_the_api(
    api: Api, client: httpx.AsyncClient, public: httpx.AsyncClient
) -> None:
    mine = await studio(api, "Lotus Yoga")
    theirs = await studio(api.as_user(""), "Other Gym")
    crossed = f"/api/v1/public/{mine.slug}/outlets/{theirs.outlet['id']}"
    first = await public.get(crossed)
    assert first.status_code == 404
    unknown = await public.get(f"/api/v1/public/no-such-business/outlets/{mine.outlet['id']}")
    assert unknown.status_code == 404
    assert unknown.json() == first.json()
    slots = await public.get(f"{crossed}/slots", params={"service_id": theirs.yoga["id"]})
    assert slots.status_code == 404
    booking = await public.post(f"{crossed}/bookings", json=booking_body(theirs.yoga, theirs.john))
    assert booking.status_code == 404
    page = await client.get(f"/book/{mine.slug}/{theirs.outlet['id']}")
    assert page.status_code == 404
    assert "Other Gym" not in page.text
    # Their service or staff through my outlet: refused like any unknown id
    foreign_service = await public.post(
        f"{mine.base}/bookings", json=booking_body(theirs.yoga, mine.john)
    )
    assert foreign_service.status_code == 422
    foreign_staff = await public.post(
        f"{mine.base}/bookings", json=booking_body(mine.yoga, theirs.john)
    )
    assert foreign_staff.status_code == 422
    listed = await api.get("/appointments")
    assert listed["total"] == 0


async def test_the_public_api_answers_429_with_retry_after_per_client_address_across_workers(
    api: Api, settings: Settings, clock: FixedClock
) -> None:
    place = await studio(api)
    limited = settings.model_copy(update={"public_rate_limit_per_minute": 3})
    # Two app instances on one database stand for two worker processes.
    worker_a, worker_b = create_app(limited, clock=clock), create_app(limited, clock=clock)
    try:
        async with (
            client_for(worker_a, "192.0.2.10") as first,
            client_for(worker_b, "192.0.2.10") as same_address,
            client_for(worker_a, "192.0.2.11") as neighbour,
        ):
            assert (await first.get(place.base)).status_code == 200
            assert (await same_address.get(place.base)).status_code == 200
            assert (await first.get(place.base)).status_code == 200
            refused = await same_address.get(place.base)
            assert refused.status_code == 429
            assert refused.headers["Retry-After"] == "60"  # the clock stands at 08:00:00
            assert refused.json()["code"] == "rate_limited"
            booking = await first.post(
                f"{place.base}/bookings", json=booking_body(place.yoga, place.john)
            )
            assert booking.status_code == 429
            assert (await neighbour.get(place.base)).status_code == 200

            clock.at = clock.at.replace(second=45)
            assert (await first.get(place.base)).headers["Retry-After"] == "15"
            clock.at = clock.at.replace(minute=1, second=0)
            assert (await first.get(place.base)).status_code == 200
    finally:
        await worker_a.state.database.dispose()
        await worker_b.state.database.dispose()
    assert (await api.get("/appointments"))["total"] == 0


async def test_a_private_link_cannot_be_guessed_or_used_for_another_booking(
    api: Api, public: httpx.AsyncClient
) -> None:
    place = await studio(api)
    first = await public.post(f"{place.base}/bookings", json=booking_body(place.yoga, place.john))
    second = await public.post(
        f"{place.base}/bookings",
        json=booking_body(place.haircut, place.anna, email="second@example.com"),
    )
    token_a = first.json()["manage_path"].rsplit("/", 1)[-1]
    token_b = second.json()["manage_path"].rsplit("/", 1)[-1]
    tenant_a, appointment_a, mac_a = token_a.split(".")
    _, appointment_b, mac_b = token_b.split(".")
    assert len(mac_a) >= 43

    assert (await public.get(f"/api/v1/public/bookings/{token_a}")).status_code == 200
    flipped = mac_a[:-2] + ("AA" if mac_a[-2:] != "AA" else "BB")
    forged = [
        f"{tenant_a}.{appointment_b}.{mac_a}",  # A's signature on B's id
        f"{tenant_a}.{appointment_a}.{mac_b}",
        f"{tenant_a}.{appointment_a}.{flipped}",
        f"{tenant_a}.{appointment_a}.",
        f"{tenant_a}.{appointment_a}",
        appointment_a,
        "x" * 150,
    ]
    for token in forged:
        looked = await public.get(f"/api/v1/public/bookings/{token}")
        assert looked.status_code == 404, token
        cancelled = await public.put(f"/api/v1/public/bookings/{token}/cancel")
        assert cancelled.status_code == 404, token
    assert (await public.get(f"/my-booking/{tenant_a}.{appointment_b}.{mac_a}")).status_code == 404

    for token in (token_a, token_b):
        still = await public.get(f"/api/v1/public/bookings/{token}")
        assert still.json()["status"] == "confirmed"


async def test_a_customer_cancels_through_the_private_link_and_the_place_is_free_again(
    api: Api, public: httpx.AsyncClient
) -> None:
    place = await studio(api)
    booked = await public.post(f"{place.base}/bookings", json=booking_body(place.yoga, place.john))
    token = booked.json()["manage_path"].rsplit("/", 1)[-1]
    assert booked.json()["can_cancel"] is True
    assert (await monday_slot(public, place, place.yoga))["spots_left"] == 9

    page = await public.get(f"/my-booking/{token}")
    assert page.status_code == 200
    assert "Cancel booking" in page.text
    assert "Europe/London" in page.text

    cancelled = await public.put(f"/api/v1/public/bookings/{token}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["can_cancel"] is False
    again = await public.put(f"/api/v1/public/bookings/{token}/cancel")
    assert again.status_code == 200
    assert again.json()["cancelled_at"] == cancelled.json()["cancelled_at"]
    assert (await monday_slot(public, place, place.yoga))["spots_left"] == 10

    listed = await api.get("/appointments")
    history = await api.get(f"/appointments/{listed['items'][0]['id']}/history")
    assert [event["type"] for event in history["items"]] == ["created", "cancelled"]


async def test_the_same_idempotency_key_books_once_even_when_repeats_arrive_together(
    api: Api, public: httpx.AsyncClient
) -> None:
    place = await studio(api)
    body = booking_body(place.yoga, place.john)
    headers = {"Idempotency-Key": "double-click-1"}
    answers = await asyncio.gather(
        *(public.post(f"{place.base}/bookings", json=body, headers=headers) for _ in range(3))
    )
    assert [a.status_code for a in answers] == [201, 201, 201], [a.text for a in answers]
    assert len({a.json()["manage_path"] for a in answers}) == 1
    later = await public.post(
        f"{place.base}/bookings", json={**body, "start_time": "10:00:00"}, headers=headers
    )
    assert later.status_code == 201
    assert later.json()["manage_path"] == answers[0].json()["manage_path"]
    assert (await api.get("/appointments"))["total"] == 1
    assert (await api.get("/customers"))["total"] == 1

    other = await public.post(
        f"{place.base}/bookings", json={**body, "start_time": "11:00"}, headers=headers
    )
    assert other.status_code == 422
    assert (await api.get("/appointments"))["total"] == 1


async def test_classes_read_spots_left_then_almost_full_then_full_and_refuse_a_booking(
    api: Api, public: httpx.AsyncClient
) -> None:
    place = await studio(api)
    for _ in range(8):
        await place.book(place.yoga, place.john)
    eight = await monday_slot(public, place, place.yoga)
    assert eight["label"] == "2/10 spots left"  # 80% taken is not yet "more than 80%"
    assert eight["almost_full"] is False
    await place.book(place.yoga, place.john)
    nine = await monday_slot(public, place, place.yoga)
    assert nine["label"] == "1/10 spots left - Almost Full!"
    assert nine["almost_full"] is True
    await place.book(place.yoga, place.john)
    full = await monday_slot(public, place, place.yoga)
    assert (full["label"], full["bookable"], full["spots_left"]) == ("Full", False, 0)

    refused = await public.post(f"{place.base}/bookings", json=booking_body(place.yoga, place.john))
    assert refused.status_code == 409
    assert refused.json() == {"detail": CONFLICT_DETAIL, "code": "capacity_reached"}
    keyed = await public.post(
        f"{place.base}/bookings",
        json=booking_body(place.yoga, place.john),
        headers={"Idempotency-Key": "full-class"},
    )
    assert keyed.status_code == 409
    assert keyed.json() == {"detail": CONFLICT_DETAIL, "code": "capacity_reached"}
    assert (await api.get("/appointments"))["total"] == 10


async def test_one_to_one_slots_read_available_then_booked(
    api: Api, public: httpx.AsyncClient
) -> None:
    place = await studio(api)
    slot = await monday_slot(public, place, place.haircut, "14:00:00")
    assert slot == {
        "start_time": "14:00:00",
        "end_time": "15:00:00",
        "staff_id": place.anna["id"],
        "staff_name": "Anna Lee",
        "bookable": True,
        "spots_left": None,
        "capacity": None,
        "almost_full": False,
        "label": "Available",
        "waitlist_length": None,  # a one-to-one service keeps no waitlist
        "waitlist_open": False,
    }
    booked = await public.post(
        f"{place.base}/bookings", json=booking_body(place.haircut, place.anna, start="14:00")
    )
    assert booked.status_code == 201
    taken = await monday_slot(public, place, place.haircut, "14:00:00")
    assert (taken["label"], taken["bookable"]) == ("Booked", False)
    again = await public.post(
        f"{place.base}/bookings",
        json=booking_body(place.haircut, place.anna, start="14:00", email="late@example.com"),
    )
    assert again.status_code == 409
    assert again.json()["code"] == "slot_taken"


async def test_customers_book_only_offered_future_starts(
    api: Api, public: httpx.AsyncClient
) -> None:
    place = await studio(api)
    odd = await public.post(
        f"{place.base}/bookings", json=booking_body(place.yoga, place.john, start="10:07")
    )
    assert odd.status_code == 422
    assert odd.json()["field"] == "start_time"
    past = await public.post(
        f"{place.base}/bookings",
        json={**booking_body(place.yoga, place.john), "date": "2026-11-30"},
    )
    assert past.status_code == 422
    today = await public.get(f"{place.base}/slots", params={"service_id": place.yoga["id"]})
    days = today.json()["days"]
    assert days[0]["date"] == "2026-12-01"  # the outlet's today; the clock says 08:00 in London
    assert days[0]["slots"][0]["start_time"] == "09:00:00"  # started slots are not offered
    assert len(days) == 7
    for far in ("9999-12-31", "2028-01-01"):
        beyond = await public.post(
            f"{place.base}/bookings", json={**booking_body(place.yoga, place.john), "date": far}
        )
        assert (beyond.status_code, beyond.json()["field"]) == (422, "date")
        later = await public.get(
            f"{place.base}/slots", params={"service_id": place.yoga["id"], "start_date": far}
        )
        assert later.status_code == 422
    assert (await api.get("/appointments"))["total"] == 0


async def test_the_booking_page_says_its_time_zone_and_runs_no_inline_script(
    api: Api, client: httpx.AsyncClient
) -> None:
    place = await studio(api)
    page = await client.get(f"/book/{place.slug}/{place.outlet['id']}")
    assert page.status_code == 200
    assert "Europe/London" in page.text
    assert "Group Yoga" in page.text and "Haircut" in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "<script>" not in page.text
    for asset in ("book.js", "desk.js", "my_booking.js", "style.css"):
        assert (await client.get(f"/static/{asset}")).status_code == 200
    assert (await client.get("/static/..%2Froutes.py")).status_code == 404
    desk = await client.get("/desk")
    assert desk.status_code == 200
    assert 'autocomplete="current-password"' in desk.text


async def timetable_studio(api: Api) -> tuple[Studio, dict[str, Any]]:
    """Vinyasa (12 places) runs Mondays, Wednesdays and Fridays at 18:00 with Maya; Leo
    teaches it too but has no class; Maya also gives massages, at any time."""
    place = await open_studio(api)
    vinyasa = await place.offer(
        "Vinyasa", key="vinyasa", parallel=True, capacity=12, booking_mode="timetable"
    )
    massage = await place.offer("Massage", key="massage")
    await place.hire("Maya Stone", [vinyasa, massage], key="maya")
    await place.hire("Leo Park", [vinyasa], key="leo")
    plan = await api.post(
        "/class-schedules",
        {
            "service_id": vinyasa["id"],
            "outlet_id": place.outlet["id"],
            "staff_id": place.maya["id"],
            "start_time": "18:00",
            "days": ["monday", "wednesday", "friday"],
            "first_date": MONDAY,
            "last_date": "2026-12-31",
        },
    )
    return place, dict(plan)


async def week_of(public: httpx.AsyncClient, place: Studio, service: dict[str, Any]) -> Any:
    response = await public.get(
        f"{place.base}/slots",
        params={"service_id": service["id"], "start_date": MONDAY, "days": 7},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_timetable_class_lists_only_its_sessions_and_books_one_like_a_slot(
    api: Api, public: httpx.AsyncClient
) -> None:
    place, plan = await timetable_studio(api)
    page = (await public.get(place.base)).json()
    modes = {s["name"]: (s["booking_mode"], s["is_class"]) for s in page["services"]}
    assert modes == {"Vinyasa": ("timetable", True), "Massage": ("open", False)}

    week = await week_of(public, place, place.vinyasa)
    listed = {
        day["date"]: [(s["start_time"], s["staff_name"], s["label"]) for s in day["slots"]]
        for day in week["days"]
    }
    session = ("18:00:00", "Maya Stone", "12/12 spots left")
    assert listed == {
        "2026-12-07": [session],
        "2026-12-08": [],
        "2026-12-09": [session],
        "2026-12-10": [],
        "2026-12-11": [session],
        "2026-12-12": [],
        "2026-12-13": [],
    }
    # An open service keeps its slots through the day.
    massage = await week_of(public, place, place.massage)
    assert len(massage["days"][0]["slots"]) > 1

    booked = await public.post(
        f"{place.base}/bookings", json=booking_body(place.vinyasa, place.maya, start="18:00")
    )
    assert booked.status_code == 201, booked.text
    body = booked.json()
    assert (body["status"], body["date"], body["start_time"]) == ("confirmed", MONDAY, "18:00:00")
    assert body["services"][0]["staff_name"] == "Maya Stone"
    monday = await monday_slot(public, place, place.vinyasa, "18:00:00")
    assert (monday["label"], monday["spots_left"], monday["capacity"]) == (
        "11/12 spots left",
        11,
        12,
    )
    sessions = await api.get(
        "/class-sessions", params={"schedule_id": plan["id"], "end_date": MONDAY}
    )
    assert [(s["date"], s["booked"]) for s in sessions["items"]] == [(MONDAY, 1)]

    # Each session has its own capacity: from Wednesday on, the class takes 5.
    await api.patch(f"/class-schedules/{plan['id']}", {"from_date": "2026-12-09", "capacity": 5})
    wednesday = (await week_of(public, place, place.vinyasa))["days"][2]["slots"]
    assert [(s["label"], s["capacity"]) for s in wednesday] == [("5/5 spots left", 5)]


async def test_booking_a_timetable_class_outside_its_sessions_is_409_not_scheduled(
    api: Api, public: httpx.AsyncClient
) -> None:
    place, _plan = await timetable_studio(api)
    for body in (
        booking_body(place.vinyasa, place.maya, start="17:00"),  # not the session's time
        booking_body(place.vinyasa, place.maya, start="18:00", date="2026-12-08"),  # no class
        booking_body(place.vinyasa, place.leo, start="18:00"),  # not the instructor
    ):
        refused = await public.post(f"{place.base}/bookings", json=body)
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "not_scheduled"
        assert set(refused.json()) <= {"detail", "code", "field"}
    keyed = await public.post(
        f"{place.base}/bookings",
        json=booking_body(place.vinyasa, place.maya, start="17:00"),
        headers={"Idempotency-Key": "not-a-session"},
    )
    assert (keyed.status_code, keyed.json()["code"]) == (409, "not_scheduled")
    assert (await api.get("/appointments"))["total"] == 0
    # An open service still refuses a start it does not offer as invalid input.
    odd = await public.post(
        f"{place.base}/bookings", json=booking_body(place.massage, place.maya, start="10:07")
    )
    assert (odd.status_code, odd.json()["field"]) == (422, "start_time")


async def test_a_customer_books_the_next_four_classes_in_one_go(
    api: Api, public: httpx.AsyncClient
) -> None:
    place, plan = await timetable_studio(api)
    body = {
        **booking_body(place.vinyasa, place.maya, start="18:00", date="2026-12-09"),
        "count": 4,
    }
    booked = await public.post(f"{place.base}/series-bookings", json=body)
    assert booked.status_code == 201, booked.text
    answer = booked.json()
    assert (answer["booked"], answer["refused"]) == (4, 0)
    assert [r["date"] for r in answer["results"]] == [
        "2026-12-09",
        "2026-12-11",
        "2026-12-14",
        "2026-12-16",
    ]
    # Each place has its own private link, showing that booking.
    link = answer["results"][1]["manage_path"]
    token = link.rsplit("/", 1)[1]
    mine = await public.get(f"/api/v1/public/bookings/{token}")
    assert (mine.json()["date"], mine.json()["start_time"]) == ("2026-12-11", "18:00:00")
    sessions = await api.get("/class-sessions", params={"schedule_id": plan["id"], "limit": 6})
    assert [s["booked"] for s in sessions["items"]] == [0, 1, 1, 1, 1, 0]

    # The same customer again, all or nothing: they hold those places already, so no
    # session is booked twice and the answer says why for each.
    again = await public.post(f"{place.base}/series-bookings", json=body)
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "series_unavailable"
    assert {r["code"] for r in again.json()["results"]} == {"already_booked"}
    assert set(again.json()["results"][0]) == {"date", "start_time", "result", "code"}

    # A time that is not a session, and an open service, are refused.
    wrong = await public.post(
        f"{place.base}/series-bookings",
        json={**body, "start_time": "17:00"},
    )
    assert (wrong.status_code, wrong.json()["code"]) == (409, "not_scheduled")
    open_service = await public.post(
        f"{place.base}/series-bookings",
        json={**booking_body(place.massage, place.maya, start="10:00"), "count": 2},
    )
    assert (open_service.status_code, open_service.json()["field"]) == (422, "service_id")
