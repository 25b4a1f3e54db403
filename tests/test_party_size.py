"""Party size: one booking holds several spots of a class (the contract's "Party size").

A family of three books the yoga class once and takes three of its spots; the class
counts spots, the grid shows spots, a party can grow or shrink before the class starts,
and a customer holds at most one place per session.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from slotbook.clock import FixedClock
from tests.scenarios import Studio, open_studio
from tests.support import CONFLICT_DETAIL, MONDAY, Api

Json = dict[str, Any]
ALREADY_BOOKED = "The customer already holds a place in this session"


@pytest.fixture
async def studio(api: Api) -> Studio:
    return await open_studio(api)


async def open_class(studio: Studio, capacity: int = 10, **extra: Any) -> tuple[Json, Json]:
    """Group Yoga, a class of ``capacity`` spots, taught by John Smith."""
    yoga = await studio.offer("Group Yoga", key="yoga", parallel=True, capacity=capacity, **extra)
    john = await studio.hire("John Smith", [yoga], key="john")
    return yoga, john


def names(refused: Json, field: str) -> bool:
    """Whether a 422 answer names ``field`` (a validation error list or a domain error)."""
    detail = refused["detail"]
    if isinstance(detail, list):
        texts = [" ".join(map(str, e.get("loc", []))) + " " + str(e.get("msg", "")) for e in detail]
    else:
        texts = [str(detail), str(refused.get("field", ""))]
    return any(field in text for text in texts)


async def change_party(api: Api, appointment: Json, size: Any, *, expect: int = 200) -> Json:
    return dict(
        await api.put(
            f"/appointments/{appointment['id']}/party-size", {"party_size": size}, expect=expect
        )
    )


async def history(api: Api, appointment: Json) -> list[Json]:
    return list((await api.get(f"/appointments/{appointment['id']}/history"))["items"])


async def spots_left(studio: Studio, start: str = "10:00") -> tuple[bool, int]:
    slot = await studio.grid_slot(studio.yoga, studio.john, start)
    return slot["is_available"], slot["available_capacity"]


async def appointment_count(api: Api) -> int:
    return int((await api.get("/appointments"))["total"])


async def move_clock(studio: Studio, clock: FixedClock, at: datetime) -> None:
    """Stand at ``at``; the owner logs in again, as the signup token has expired by then."""
    me = await studio.api.get("/auth/me")
    clock.at = at
    login = {"email": me["email"], "password": "correct-horse-1"}
    studio.api.token = (await studio.api.post("/auth/login", login, expect=200))["access_token"]


# Booking a party


async def test_a_booking_without_a_party_size_holds_one_spot(api: Api, studio: Studio) -> None:
    yoga, john = await open_class(studio, capacity=10)
    booked = await studio.book(yoga, john)
    assert booked["party_size"] == 1
    assert (await api.get(f"/appointments/{booked['id']}"))["party_size"] == 1
    assert await spots_left(studio) == (True, 9)


async def test_a_party_of_three_takes_three_spots_of_the_class(api: Api, studio: Studio) -> None:
    yoga, john = await open_class(studio, capacity=10)
    family = await studio.book(yoga, john, party_size=3)
    assert family["party_size"] == 3
    assert family["status"] == "confirmed"
    assert (await api.get(f"/appointments/{family['id']}"))["party_size"] == 3
    listed = await api.get("/appointments", params={"customer_id": family["customer_id"]})
    assert [a["party_size"] for a in listed["items"]] == [3]
    assert await spots_left(studio) == (True, 7)


@pytest.mark.parametrize("size", [0, -1, 101, None, 2.5, "three"])
async def test_a_party_size_outside_one_to_a_hundred_is_refused(
    api: Api, studio: Studio, size: Any
) -> None:
    yoga, john = await open_class(studio, capacity=100)
    refused = await studio.book(yoga, john, party_size=size, expect=422)
    assert names(refused, "party_size"), refused
    assert await appointment_count(api) == 0


async def test_a_party_larger_than_the_class_can_never_fit(api: Api, studio: Studio) -> None:
    yoga, john = await open_class(studio, capacity=8)
    refused = await studio.book(yoga, john, party_size=9, expect=422)
    assert names(refused, "party_size"), refused
    assert await appointment_count(api) == 0
    await studio.book(yoga, john, party_size=8)
    assert await spots_left(studio) == (False, 0)


async def test_a_one_to_one_service_takes_a_party_of_one_only(api: Api, studio: Studio) -> None:
    yoga, john = await open_class(studio, capacity=10)
    massage = await studio.offer("Massage", key="massage", duration=30)
    anna = await studio.hire("Anna Lee", [massage], key="anna")
    refused = await studio.book(massage, anna, party_size=2, expect=422)
    assert names(refused, "party_size"), refused

    # An appointment of a class and a massage: the massage line refuses the party of two.
    couple = await api.book_response(
        studio.outlet, await api.customer(), [(yoga, john), (massage, anna)], party_size=2
    )
    assert couple.status_code == 422, couple.text
    assert names(couple.json(), "party_size"), couple.text
    assert await appointment_count(api) == 0

    assert (await studio.book(massage, anna, party_size=1))["party_size"] == 1
    assert (await studio.book(yoga, john, party_size=2))["party_size"] == 2


async def test_a_party_that_does_not_fit_the_spots_left_is_refused(
    api: Api, studio: Studio
) -> None:
    yoga, john = await open_class(studio, capacity=10)
    await studio.book(yoga, john, party_size=4)
    await studio.book(yoga, john, party_size=3)
    refused = await studio.book(yoga, john, party_size=4, expect=409)
    assert refused["detail"] == CONFLICT_DETAIL
    assert refused["code"] == "capacity_reached"
    assert (refused["current_bookings"], refused["max_capacity"]) == (7, 10)
    assert await spots_left(studio) == (True, 3)
    await studio.book(yoga, john, party_size=3)
    assert await spots_left(studio) == (False, 0)
    refused = await studio.book(yoga, john, expect=409)
    assert (refused["current_bookings"], refused["max_capacity"]) == (10, 10)


async def test_the_grid_counts_spots_and_offers_the_last_one_to_a_party_of_one(
    api: Api, studio: Studio
) -> None:
    yoga, john = await open_class(studio, capacity=5)
    await studio.book(yoga, john, party_size=4)
    assert await spots_left(studio) == (True, 1)
    assert await spots_left(studio, "11:00") == (True, 5)
    # The slot is offered (a party of one fits), yet a party of two does not fit it.
    refused = await studio.book(yoga, john, party_size=2, expect=409)
    assert refused["code"] == "capacity_reached"
    await studio.book(yoga, john)
    assert await spots_left(studio) == (False, 0)


async def test_a_party_size_is_checked_before_the_teachers_hours_and_the_spots_left(
    api: Api, studio: Studio
) -> None:
    yoga, john = await open_class(studio, capacity=4)
    late = await studio.book(yoga, john, start="22:30", party_size=5, expect=422)
    assert names(late, "party_size"), late
    await studio.book(yoga, john, party_size=4)
    full = await studio.book(yoga, john, party_size=5, expect=422)
    assert names(full, "party_size"), full


async def test_a_party_moves_only_into_a_session_with_room_for_all_of_them(
    api: Api, studio: Studio
) -> None:
    yoga, john = await open_class(studio, capacity=5)
    await studio.book(yoga, john, start="12:00", party_size=3)
    family = await studio.book(yoga, john, party_size=3)
    refused = await api.reschedule(family, MONDAY, "12:00", expect=409)
    assert (refused["detail"], refused["code"]) == (CONFLICT_DETAIL, "capacity_reached")
    assert (refused["current_bookings"], refused["max_capacity"]) == (3, 5)
    assert await spots_left(studio) == (True, 2)
    moved = await api.reschedule(family, MONDAY, "11:00")
    assert (moved["start_time"], moved["party_size"]) == ("11:00:00", 3)
    assert await spots_left(studio) == (True, 5)
    assert await spots_left(studio, "11:00") == (True, 2)


# Changing a party


async def test_a_smaller_party_frees_spots_for_others(api: Api, studio: Studio) -> None:
    yoga, john = await open_class(studio, capacity=6)
    family = await studio.book(yoga, john, party_size=4)
    await studio.book(yoga, john, party_size=2)
    assert await spots_left(studio) == (False, 0)

    changed = await change_party(api, family, 2)
    assert (changed["id"], changed["party_size"], changed["status"]) == (
        family["id"],
        2,
        "confirmed",
    )
    assert (await api.get(f"/appointments/{family['id']}"))["party_size"] == 2
    assert await spots_left(studio) == (True, 2)
    events = await history(api, family)
    assert [e["type"] for e in events] == ["created", "party_size_changed"]
    assert (events[1]["data"]["from"], events[1]["data"]["to"]) == (4, 2)
    await studio.book(yoga, john, party_size=2)


async def test_a_larger_party_must_fit_the_spots_left(api: Api, studio: Studio) -> None:
    yoga, john = await open_class(studio, capacity=6)
    couple = await studio.book(yoga, john, party_size=2)
    await studio.book(yoga, john, party_size=3)

    refused = await change_party(api, couple, 4, expect=409)
    assert (refused["detail"], refused["code"]) == (CONFLICT_DETAIL, "capacity_reached")
    assert (refused["current_bookings"], refused["max_capacity"]) == (3, 6)
    assert (await api.get(f"/appointments/{couple['id']}"))["party_size"] == 2
    assert [e["type"] for e in await history(api, couple)] == ["created"]

    assert (await change_party(api, couple, 3))["party_size"] == 3
    assert await spots_left(studio) == (False, 0)
    events = await history(api, couple)
    assert [e["type"] for e in events] == ["created", "party_size_changed"]
    assert (events[1]["data"]["from"], events[1]["data"]["to"]) == (2, 3)


async def test_a_pending_booking_can_grow_its_party(api: Api, studio: Studio) -> None:
    yoga, john = await open_class(studio, capacity=6)
    pending = await studio.book(yoga, john, status="pending")
    changed = await change_party(api, pending, 3)
    assert (changed["party_size"], changed["status"]) == (3, "pending")
    assert await spots_left(studio) == (True, 3)


async def test_asking_for_the_same_party_size_changes_nothing(api: Api, studio: Studio) -> None:
    yoga, john = await open_class(studio, capacity=6)
    family = await studio.book(yoga, john, party_size=3)
    await studio.book(yoga, john, party_size=3)
    unchanged = await change_party(api, family, 3)
    assert unchanged["party_size"] == 3
    assert await api.get(f"/appointments/{family['id']}") == unchanged
    assert [e["type"] for e in await history(api, family)] == ["created"]
    assert await spots_left(studio) == (False, 0)


@pytest.mark.parametrize("size", [0, 101, None, 7])
async def test_a_party_change_is_checked_like_a_booking(
    api: Api, studio: Studio, size: Any
) -> None:
    yoga, john = await open_class(studio, capacity=6)
    family = await studio.book(yoga, john, party_size=2)
    refused = await change_party(api, family, size, expect=422)
    assert names(refused, "party_size"), refused
    assert (await api.get(f"/appointments/{family['id']}"))["party_size"] == 2


async def test_a_one_to_one_appointment_cannot_become_a_party(api: Api, studio: Studio) -> None:
    massage = await studio.offer("Massage", key="massage", duration=30)
    anna = await studio.hire("Anna Lee", [massage], key="anna")
    booked = await studio.book(massage, anna)
    refused = await change_party(api, booked, 2, expect=422)
    assert names(refused, "party_size"), refused
    assert (await change_party(api, booked, 1))["party_size"] == 1


async def test_a_party_cannot_change_once_the_class_has_started(
    api: Api, studio: Studio, clock: FixedClock
) -> None:
    yoga, john = await open_class(studio, capacity=6)
    family = await studio.book(yoga, john, party_size=3)
    await move_clock(studio, clock, datetime(2026, 12, 7, 10, 30, tzinfo=UTC))  # London = UTC
    for size in (2, 4):
        refused = await change_party(api, family, size, expect=409)
        assert refused["code"] == "invalid_transition"
    assert (await api.get(f"/appointments/{family['id']}"))["party_size"] == 3


@pytest.mark.parametrize("action", ["cancel", "no-show", "complete"])
async def test_a_closed_appointment_keeps_its_party(api: Api, studio: Studio, action: str) -> None:
    yoga, john = await open_class(studio, capacity=6)
    family = await studio.book(yoga, john, party_size=3)
    await api.put(f"/appointments/{family['id']}/{action}")
    refused = await change_party(api, family, 2, expect=409)
    assert refused["code"] == "invalid_transition"
    assert (await api.get(f"/appointments/{family['id']}"))["party_size"] == 3


async def test_another_tenants_party_cannot_be_changed(api: Api, studio: Studio) -> None:
    yoga, john = await open_class(studio, capacity=6)
    family = await studio.book(yoga, john, party_size=3)
    rival = Api(api.client)
    await rival.signup("Rival Studio")
    unknown = await change_party(rival, {"id": "does-not-exist"}, 2, expect=404)
    assert await change_party(rival, family, 2, expect=404) == unknown
    assert (await api.get(f"/appointments/{family['id']}"))["party_size"] == 3


# What the studio sees around a party


async def test_the_capacity_log_line_counts_spots_and_names_the_party(
    api: Api, studio: Studio, capsys: pytest.CaptureFixture[str]
) -> None:
    yoga, john = await open_class(studio, capacity=10)
    customers = [await api.customer() for _ in range(3)]

    async def logged_booking(customer: Json, size: int, expect: int) -> Json:
        capsys.readouterr()
        await studio.book(yoga, john, customer=customer, party_size=size, expect=expect)
        lines = [
            json.loads(line)
            for line in capsys.readouterr().err.splitlines()
            if "parallel_booking_capacity_check" in line
        ]
        assert len(lines) == 1, lines
        return dict(lines[0])

    first = await logged_booking(customers[0], 4, 201)
    too_many = await logged_booking(customers[1], 7, 409)
    exactly = await logged_booking(customers[2], 6, 201)
    seen = [
        (c["current_bookings"], c["party_size"], c["max_capacity"], c["capacity_reached"])
        for c in (first, too_many, exactly)
    ]
    assert seen == [(0, 4, 10, False), (4, 7, 10, True), (4, 6, 10, False)]
    assert {(c["service_id"], c["staff_id"]) for c in (first, too_many, exactly)} == {
        (yoga["id"], john["id"])
    }


async def test_lowering_the_capacity_below_the_spots_taken_warns_in_spots(
    api: Api, studio: Studio
) -> None:
    yoga, john = await open_class(studio, capacity=10)
    await studio.book(yoga, john, party_size=4)
    await studio.book(yoga, john, party_size=5)

    level = await api.patch(f"/services/{yoga['id']}", {"max_parallel_bookings": 9})
    assert level["warnings"] == []
    below = await api.patch(f"/services/{yoga['id']}", {"max_parallel_bookings": 8})
    assert below["warnings"] == [
        "Note: 9 bookings exist but capacity is now 8 (2026-12-07 10:00 John Smith)"
    ]
    refused = await studio.book(yoga, john, expect=409)
    assert (refused["code"], refused["current_bookings"], refused["max_capacity"]) == (
        "capacity_reached",
        9,
        8,
    )
    assert await spots_left(studio) == (False, 0)


# One place per customer and session


async def test_a_customer_already_in_the_class_cannot_book_a_second_place(
    api: Api, studio: Studio
) -> None:
    yoga, john = await open_class(studio, capacity=10)
    maria = await studio.customer("Maria Garcia", key="maria")
    await studio.book(yoga, john, customer=maria, party_size=2)
    refused = await studio.book(yoga, john, customer=maria, expect=409)
    assert (refused["code"], refused["detail"]) == ("already_booked", ALREADY_BOOKED)
    assert await spots_left(studio) == (True, 8)
    # Another session of the class, or the same hour with another teacher, is another place.
    anna = await studio.hire("Anna Lee", [yoga], key="anna")
    await studio.book(yoga, john, customer=maria, start="11:00")
    await studio.book(yoga, anna, customer=maria)


async def test_a_customer_in_a_full_class_is_told_they_already_hold_a_place(
    api: Api, studio: Studio
) -> None:
    yoga, john = await open_class(studio, capacity=2)
    maria = await studio.customer("Maria Garcia", key="maria")
    await studio.book(yoga, john, customer=maria, party_size=2)
    refused = await studio.book(yoga, john, customer=maria, expect=409)
    assert (refused["code"], refused["detail"]) == ("already_booked", ALREADY_BOOKED)


async def test_a_pending_place_counts_as_a_place(api: Api, studio: Studio) -> None:
    yoga, john = await open_class(studio, capacity=10)
    maria = await studio.customer("Maria Garcia", key="maria")
    await studio.book(yoga, john, customer=maria, status="pending")
    refused = await studio.book(yoga, john, customer=maria, expect=409)
    assert refused["code"] == "already_booked"


async def test_moving_another_of_the_customers_appointments_into_their_class_is_refused(
    api: Api, studio: Studio
) -> None:
    yoga, john = await open_class(studio, capacity=10)
    maria = await studio.customer("Maria Garcia", key="maria")
    await studio.book(yoga, john, customer=maria)
    later = await studio.book(yoga, john, customer=maria, start="12:00")
    refused = await api.reschedule(later, MONDAY, "10:00", expect=409)
    assert (refused["code"], refused["detail"]) == ("already_booked", ALREADY_BOOKED)
    assert (await api.get(f"/appointments/{later['id']}"))["start_time"] == "12:00:00"
    assert await spots_left(studio) == (True, 9)


async def test_rescheduling_a_party_onto_its_own_full_session_is_allowed(
    api: Api, studio: Studio
) -> None:
    yoga, john = await open_class(studio, capacity=4)
    family = await studio.book(yoga, john, party_size=2)
    await studio.book(yoga, john, party_size=2)
    stayed = await api.reschedule(family, MONDAY, "10:00")
    assert (stayed["id"], stayed["start_time"], stayed["party_size"]) == (
        family["id"],
        "10:00:00",
        2,
    )
    assert await spots_left(studio) == (False, 0)


async def test_a_cancelled_or_no_show_place_does_not_stop_the_customer_booking_again(
    api: Api, studio: Studio
) -> None:
    yoga, john = await open_class(studio, capacity=10)
    maria = await studio.customer("Maria Garcia", key="maria")
    tom = await studio.customer("Tom Brown", key="tom")
    await api.cancel(await studio.book(yoga, john, customer=maria))
    await studio.book(yoga, john, customer=maria, party_size=2)
    await api.put(f"/appointments/{(await studio.book(yoga, john, customer=tom))['id']}/no-show")
    await studio.book(yoga, john, customer=tom)
    assert await spots_left(studio) == (True, 7)
