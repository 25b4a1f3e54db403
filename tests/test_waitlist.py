"""The waitlist: customers wait for a place in a full class, and freed spots go to them.

The contract's "Waitlist" section, as a studio lives it: a full yoga class, customers
queueing for it, and every way a spot frees up handing it to the first waiting party
that fits, before anyone else can book it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from slotbook.clock import FixedClock
from tests.scenarios import Studio, open_studio
from tests.support import CONFLICT_DETAIL, MONDAY, TUESDAY, Api

Json = dict[str, Any]
ALREADY_BOOKED = "The customer already holds a place in this session"
ALREADY_WAITING = "The customer is already on the waitlist for this session"
SPOTS_AVAILABLE = "The session has room for this party; book it instead"
ENTRY_FIELDS = {
    "id",
    "status",
    "position",
    "outlet_id",
    "customer_id",
    "service_id",
    "staff_id",
    "date",
    "start_time",
    "end_time",
    "party_size",
    "appointment_id",
    "created_at",
}


@pytest.fixture
async def studio(api: Api) -> Studio:
    return await open_studio(api)


async def open_class(studio: Studio, capacity: int = 2, **extra: Any) -> tuple[Json, Json]:
    """Group Yoga with a waitlist, a class of ``capacity`` spots, taught by John Smith."""
    fields = {"waitlist_enabled": True, **extra}
    yoga = await studio.offer("Group Yoga", key="yoga", parallel=True, capacity=capacity, **fields)
    john = await studio.hire("John Smith", [yoga], key="john")
    return yoga, john


async def fill(studio: Studio, *parties: int, start: str = "10:00") -> list[Json]:
    """Book one appointment per party into John's yoga class."""
    return [
        await studio.book(studio.yoga, studio.john, start=start, party_size=size)
        for size in parties
    ]


async def wait(studio: Studio, party_size: int | None = 1, **joining: Any) -> Json:
    """A new customer (unless one is given) joins the waitlist of John's yoga class."""
    return await studio.join_waitlist(studio.yoga, studio.john, party_size=party_size, **joining)


def names(refused: Json, field: str) -> bool:
    """Whether a 422 answer names ``field`` (a validation error list or a domain error)."""
    detail = refused["detail"]
    if isinstance(detail, list):
        texts = [" ".join(map(str, e.get("loc", []))) + " " + str(e.get("msg", "")) for e in detail]
    else:
        texts = [str(detail), str(refused.get("field", ""))]
    return any(field in text for text in texts)


async def statuses(studio: Studio, *entries: Json) -> list[str]:
    return [(await studio.waitlist_entry(entry))["status"] for entry in entries]


async def positions(studio: Studio, *entries: Json) -> list[int | None]:
    return [(await studio.waitlist_entry(entry))["position"] for entry in entries]


async def assert_promoted(studio: Studio, entry: Json) -> Json:
    """The entry became a confirmed appointment of its session; answers the appointment."""
    now = await studio.waitlist_entry(entry)
    assert (now["status"], now["position"]) == ("promoted", None), now
    assert now["appointment_id"], now
    appointment = dict(await studio.api.get(f"/appointments/{now['appointment_id']}"))
    assert appointment["status"] == "confirmed"
    assert appointment["customer_id"] == entry["customer_id"]
    assert appointment["party_size"] == entry["party_size"]
    assert (appointment["appointment_date"], appointment["start_time"]) == (
        entry["date"],
        entry["start_time"],
    )
    assert [(s["service_id"], s["staff_id"]) for s in appointment["services"]] == [
        (entry["service_id"], entry["staff_id"])
    ]
    events = (await studio.api.get(f"/appointments/{appointment['id']}/history"))["items"]
    created = [e for e in events if e["type"] == "created"]
    assert len(created) == 1, events
    assert created[0]["data"]["waitlist_entry_id"] == entry["id"]
    return appointment


async def slot(studio: Studio, start: str = "10:00") -> tuple[bool, int, int | None]:
    """What the grid shows for John's yoga class: bookable, spots left, people waiting."""
    found = await studio.grid_slot(studio.yoga, studio.john, start)
    return found["is_available"], found["available_capacity"], found["waitlist_length"]


async def move_clock(studio: Studio, clock: FixedClock, at: datetime) -> None:
    """Stand at ``at``; the owner logs in again, as the signup token has expired by then."""
    me = await studio.api.get("/auth/me")
    clock.at = at
    login = {"email": me["email"], "password": "correct-horse-1"}
    studio.api.token = (await studio.api.post("/auth/login", login, expect=200))["access_token"]


# A service with a waitlist


async def test_only_a_class_can_have_a_waitlist(api: Api, studio: Studio) -> None:
    plain = await studio.offer("Massage", key="massage")
    assert (plain["waitlist_enabled"], plain["waitlist_limit"]) == (False, None)
    refused = await api.post(
        "/services",
        {"name": "Haircut", "duration": 30, "waitlist_enabled": True},
        expect=422,
    )
    assert names(refused, "waitlist_enabled"), refused
    refused = await api.patch(f"/services/{plain['id']}", {"waitlist_enabled": True}, expect=422)
    assert names(refused, "waitlist_enabled"), refused

    yoga, _ = await open_class(studio, capacity=10, waitlist_limit=3)
    assert (yoga["waitlist_enabled"], yoga["waitlist_limit"]) == (True, 3)
    assert (await api.get(f"/services/{yoga['id']}"))["waitlist_limit"] == 3
    refused = await api.patch(
        f"/services/{yoga['id']}", {"allow_parallel_bookings": False}, expect=422
    )
    assert names(refused, "waitlist_enabled"), refused
    unlimited = await api.patch(f"/services/{yoga['id']}", {"waitlist_limit": None})
    assert (unlimited["waitlist_enabled"], unlimited["waitlist_limit"]) == (True, None)


# Joining


async def test_a_customer_joins_the_waitlist_of_a_full_class(api: Api, studio: Studio) -> None:
    yoga, john = await open_class(studio, capacity=2)
    await fill(studio, 1, 1)
    maria = await studio.customer("Maria Garcia", key="maria")
    joined = await studio.join_waitlist(yoga, john, customer=maria, start="10:00")
    assert set(joined) >= ENTRY_FIELDS, joined
    assert {key: joined[key] for key in ENTRY_FIELDS - {"id", "created_at"}} == {
        "status": "waiting",
        "position": 1,
        "outlet_id": studio.outlet["id"],
        "customer_id": maria["id"],
        "service_id": yoga["id"],
        "staff_id": john["id"],
        "date": MONDAY,
        "start_time": "10:00:00",
        "end_time": "11:00:00",
        "party_size": 1,
        "appointment_id": None,
    }
    assert joined["created_at"].endswith("Z")
    assert await studio.waitlist_entry(joined) == joined

    family = await wait(studio, party_size=2)
    assert (family["position"], family["party_size"]) == (2, 2)
    assert await slot(studio) == (False, 0, 2)


async def test_the_waitlist_lists_entries_in_promotion_order_with_filters(
    api: Api, studio: Studio
) -> None:
    yoga, john = await open_class(studio, capacity=1)
    pilates = await studio.offer(
        "Pilates", key="pilates", parallel=True, capacity=1, waitlist_enabled=True
    )
    anna = await studio.hire("Anna Lee", [pilates], key="anna")
    alice = await studio.customer("Alice", key="alice")
    await fill(studio, 1)
    await fill(studio, 1, start="12:00")
    await studio.book(pilates, anna)
    await studio.book(yoga, john, date=TUESDAY)

    first = await wait(studio, customer=alice)
    second = await wait(studio)
    noon = await wait(studio, start="12:00")
    alices_pilates = await studio.join_waitlist(pilates, anna, customer=alice)
    third = await wait(studio)
    tuesday = await wait(studio, date=TUESDAY)

    async def listed(**filters: Any) -> list[str]:
        answer = await api.get("/waitlist", params=filters)
        assert answer["total"] == len(answer["items"])
        return [entry["id"] for entry in answer["items"]]

    everyone = [first, second, noon, alices_pilates, third, tuesday]
    assert sorted(await listed()) == sorted(e["id"] for e in everyone)
    assert sorted(await listed(outlet_id=studio.outlet["id"])) == sorted(e["id"] for e in everyone)
    session = {"service_id": yoga["id"], "staff_id": john["id"], "date": MONDAY}
    ten = [e["id"] for e in (first, second, third)]
    assert [i for i in await listed(**session) if i in ten] == ten
    assert sorted(await listed(**session)) == sorted([*ten, noon["id"]])
    assert await listed(staff_id=anna["id"]) == [alices_pilates["id"]]
    assert await listed(service_id=pilates["id"]) == [alices_pilates["id"]]
    assert sorted(await listed(customer_id=alice["id"])) == sorted(
        [first["id"], alices_pilates["id"]]
    )
    assert await listed(date=TUESDAY) == [tuesday["id"]]

    await api.put(f"/waitlist/{second['id']}/cancel")
    assert await listed(status="cancelled") == [second["id"]]
    waiting = await listed(status="waiting", **session)
    assert [i for i in waiting if i in ten] == [first["id"], third["id"]]


async def test_an_entry_knows_its_place_in_the_queue(api: Api, studio: Studio) -> None:
    await open_class(studio, capacity=1)
    await fill(studio, 1)
    first, second, third = [await wait(studio) for _ in range(3)]
    assert [e["position"] for e in (first, second, third)] == [1, 2, 3]
    assert await positions(studio, first, second, third) == [1, 2, 3]
    await api.put(f"/waitlist/{first['id']}/cancel")
    assert await positions(studio, first, second, third) == [None, 1, 2]
    # Another session's queue does not count.
    await fill(studio, 1, start="12:00")
    assert (await wait(studio, start="12:00"))["position"] == 1
    assert await positions(studio, second, third) == [1, 2]


async def test_a_waiting_customer_can_leave_the_queue(api: Api, studio: Studio) -> None:
    await open_class(studio, capacity=1)
    await fill(studio, 1)
    entry = await wait(studio)
    left = await api.put(f"/waitlist/{entry['id']}/cancel")
    assert (left["id"], left["status"], left["position"]) == (entry["id"], "cancelled", None)
    again = await api.put(f"/waitlist/{entry['id']}/cancel")
    assert (again["status"], again["position"]) == ("cancelled", None)
    assert (await studio.waitlist_entry(entry))["status"] == "cancelled"
    assert await slot(studio) == (False, 0, 0)


async def test_a_promoted_entry_cannot_be_cancelled(api: Api, studio: Studio) -> None:
    await open_class(studio, capacity=1)
    (booked,) = await fill(studio, 1)
    entry = await wait(studio)
    await api.cancel(booked)
    await assert_promoted(studio, entry)
    refused = await api.put(f"/waitlist/{entry['id']}/cancel", expect=409)
    assert refused["code"] == "invalid_transition"
    assert (await studio.waitlist_entry(entry))["status"] == "promoted"


# What a join is checked against, in the contract's order


async def test_joining_a_class_without_a_waitlist_is_refused_naming_the_service(
    api: Api, studio: Studio
) -> None:
    pilates = await studio.offer("Pilates", parallel=True, capacity=1)
    massage = await studio.offer("Massage", duration=30)
    anna = await studio.hire("Anna Lee", [pilates, massage])
    await studio.book(pilates, anna)
    await studio.book(massage, anna, start="12:00")
    # Full or not, a past start or not: the service is what is wrong.
    for service, date, start in [
        (pilates, MONDAY, "10:00"),
        (pilates, MONDAY, "14:00"),
        (massage, MONDAY, "12:00"),
        (pilates, "2026-11-30", "10:00"),
    ]:
        response = await studio.join_waitlist_response(service, anna, date=date, start=start)
        assert response.status_code == 422, response.text
        assert names(response.json(), "service_id"), response.text
    assert (await api.get("/waitlist"))["total"] == 0


async def test_a_join_with_a_party_that_can_never_fit_or_unknown_ids_is_refused(
    api: Api, studio: Studio
) -> None:
    yoga, john = await open_class(studio, capacity=4)
    await fill(studio, 4)
    for size in (0, 5, 101, None):
        refused = await wait(studio, party_size=size, expect=422)
        assert names(refused, "party_size"), refused
    stranger = {"id": "not-a-customer"}
    refused = await studio.join_waitlist(yoga, john, customer=stranger, expect=422)
    assert names(refused, "customer_id"), refused
    refused = await studio.join_waitlist({**yoga, "id": "nope"}, john, expect=422)
    assert names(refused, "service_id"), refused
    refused = await studio.join_waitlist(yoga, {**john, "id": "nope"}, expect=422)
    assert names(refused, "staff_id"), refused
    anna = await studio.hire("Anna Lee", [], key="anna")  # teaches no yoga
    refused = await studio.join_waitlist(yoga, anna, expect=422)
    assert refused["field"] == "staff_id", refused
    assert (await api.get("/waitlist"))["total"] == 0


async def test_joining_the_waitlist_of_a_past_session_is_refused(api: Api, studio: Studio) -> None:
    await open_class(studio, capacity=2)
    response = await studio.join_waitlist_response(
        studio.yoga, studio.john, date="2026-12-01", start="07:00"
    )
    assert response.status_code == 422, response.text


async def test_joining_when_the_teacher_cannot_teach_the_class_is_refused(
    api: Api, studio: Studio
) -> None:
    yoga = await studio.offer(
        "Group Yoga", key="yoga", parallel=True, capacity=1, waitlist_enabled=True
    )
    massage = await studio.offer("Massage", key="massage", duration=30)
    john = await studio.hire("John Smith", [yoga, massage], key="john")
    late = await wait(studio, start="21:30", expect=409)
    assert (late["detail"], late["code"]) == (CONFLICT_DETAIL, "staff_unavailable")
    await studio.give_time_off(john, f"{MONDAY}T14:00", f"{MONDAY}T16:00")
    off = await wait(studio, start="14:00", expect=409)
    assert off["code"] == "staff_unavailable"
    await studio.book(massage, john, start="12:30")
    busy = await wait(studio, start="12:00", expect=409)
    assert (busy["detail"], busy["code"]) == (CONFLICT_DETAIL, "staff_busy")


async def test_the_teachers_hours_are_checked_before_the_customers_place(
    api: Api, studio: Studio
) -> None:
    await open_class(studio, capacity=1)
    maria = await studio.customer("Maria Garcia", key="maria")
    await studio.book(studio.yoga, studio.john, customer=maria)
    await studio.give_time_off(studio.john, f"{MONDAY}T09:00", f"{MONDAY}T12:00")
    refused = await wait(studio, customer=maria, expect=409)
    assert refused["code"] == "staff_unavailable"


async def test_a_customer_with_a_place_in_the_class_cannot_also_wait_for_it(
    api: Api, studio: Studio
) -> None:
    await open_class(studio, capacity=2)
    maria = await studio.customer("Maria Garcia", key="maria")
    await studio.book(studio.yoga, studio.john, customer=maria)
    await fill(studio, 1)
    refused = await wait(studio, customer=maria, expect=409)
    assert (refused["code"], refused["detail"]) == ("already_booked", ALREADY_BOOKED)
    assert (await api.get("/waitlist"))["total"] == 0


async def test_a_customer_waits_only_once_per_session(api: Api, studio: Studio) -> None:
    await open_class(studio, capacity=2, waitlist_limit=1)
    await fill(studio, 1, 1)
    maria = await studio.customer("Maria Garcia", key="maria")
    first = await wait(studio, customer=maria)
    # Checked before the limit: the queue is full, but the answer is that she waits already.
    refused = await wait(studio, customer=maria, expect=409)
    assert (refused["code"], refused["detail"]) == ("already_waiting", ALREADY_WAITING)
    await api.put(f"/waitlist/{first['id']}/cancel")
    again = await wait(studio, customer=maria)
    assert (again["status"], again["position"]) == ("waiting", 1)


async def test_a_customer_waiting_with_a_big_party_is_told_so_when_a_small_one_would_fit(
    api: Api, studio: Studio
) -> None:
    # Three wait for two free spots: a second join of the same customer is already_waiting,
    # not spots_available, though a party of one would fit.
    await open_class(studio, capacity=4)
    await fill(studio, 2)
    maria = await studio.customer("Maria Garcia", key="maria")
    await wait(studio, customer=maria, party_size=3)
    refused = await wait(studio, customer=maria, party_size=1, expect=409)
    assert (refused["code"], refused["detail"]) == ("already_waiting", ALREADY_WAITING)


async def test_joining_a_class_with_room_for_the_party_is_refused(api: Api, studio: Studio) -> None:
    await open_class(studio, capacity=4)
    refused = await wait(studio, expect=409)
    assert (refused["code"], refused["detail"]) == ("spots_available", SPOTS_AVAILABLE)
    await fill(studio, 2)
    refused = await wait(studio, party_size=2, expect=409)
    assert (refused["code"], refused["detail"]) == ("spots_available", SPOTS_AVAILABLE)
    # A party of three does not fit the two spots left: it may wait.
    family = await wait(studio, party_size=3)
    assert (family["status"], family["position"]) == ("waiting", 1)
    assert await slot(studio) == (True, 2, 1)


async def test_the_waitlist_of_a_session_stops_at_its_limit(api: Api, studio: Studio) -> None:
    await open_class(studio, capacity=1, waitlist_limit=2)
    await fill(studio, 1)
    first = await wait(studio)
    await wait(studio)
    refused = await wait(studio, expect=409)
    assert refused["code"] == "waitlist_full"
    # Another session has a queue of its own.
    await fill(studio, 1, start="12:00")
    await wait(studio, start="12:00")
    # A place in the queue frees up when someone leaves it.
    await api.put(f"/waitlist/{first['id']}/cancel")
    assert (await wait(studio))["position"] == 2


# Promotion: freed spots go to the waitlist first


async def test_a_freed_spot_goes_to_the_first_waiting_customer(api: Api, studio: Studio) -> None:
    await open_class(studio, capacity=2)
    leaving, _ = await fill(studio, 1, 1)
    maria = await studio.customer("Maria Garcia", key="maria")
    first = await wait(studio, customer=maria)
    second = await wait(studio)

    await api.cancel(leaving)
    appointment = await assert_promoted(studio, first)
    assert appointment["customer_id"] == maria["id"]
    assert (await studio.waitlist_entry(second))["position"] == 1
    assert await statuses(studio, second) == ["waiting"]
    # The spot was never free for anyone else.
    assert await slot(studio) == (False, 0, 1)
    refused = await studio.book(studio.yoga, studio.john, expect=409)
    assert refused["code"] == "capacity_reached"
    promoted = await api.get("/waitlist", params={"status": "promoted"})
    assert [e["id"] for e in promoted["items"]] == [first["id"]]
    assert promoted["items"][0]["appointment_id"] == appointment["id"]


async def test_a_spot_freed_for_a_waiting_customer_is_not_taken_by_a_booking_at_the_same_moment(
    api: Api, studio: Studio
) -> None:
    await open_class(studio, capacity=2)
    leaving, _ = await fill(studio, 1, 1)
    entry = await wait(studio)
    walk_ins = [await api.customer() for _ in range(3)]
    cancelled, *tries = await asyncio.gather(
        api.cancel(leaving),
        *(studio.book_response(studio.yoga, studio.john, customer=c) for c in walk_ins),
    )
    assert cancelled["status"] == "cancelled"
    assert [r.status_code for r in tries] == [409, 409, 409], [r.text for r in tries]
    assert {r.json()["code"] for r in tries} == {"capacity_reached"}
    await assert_promoted(studio, entry)
    assert await studio.active_in_session(studio.yoga, studio.john, "10:00") == 2


async def test_a_no_show_frees_a_spot_for_the_waitlist(api: Api, studio: Studio) -> None:
    await open_class(studio, capacity=2)
    absent, _ = await fill(studio, 1, 1)
    entry = await wait(studio)
    await api.put(f"/appointments/{absent['id']}/no-show")
    await assert_promoted(studio, entry)
    assert await slot(studio) == (False, 0, 0)


async def test_moving_a_booking_out_of_a_full_class_lets_the_waitlist_in(
    api: Api, studio: Studio
) -> None:
    await open_class(studio, capacity=2)
    moving, _ = await fill(studio, 1, 1)
    entry = await wait(studio)
    await api.reschedule(moving, MONDAY, "12:00")
    await assert_promoted(studio, entry)
    assert await slot(studio) == (False, 0, 0)
    assert await slot(studio, "12:00") == (True, 1, 0)


async def test_a_smaller_party_lets_the_waitlist_in(api: Api, studio: Studio) -> None:
    await open_class(studio, capacity=4)
    (family,) = await fill(studio, 4)
    couple = await wait(studio, party_size=2)
    await api.put(f"/appointments/{family['id']}/party-size", {"party_size": 2})
    await assert_promoted(studio, couple)
    assert await slot(studio) == (False, 0, 0)


async def test_raising_the_capacity_lets_the_waitlist_in(api: Api, studio: Studio) -> None:
    yoga, _ = await open_class(studio, capacity=2)
    await fill(studio, 1, 1)
    first, second, third = [await wait(studio) for _ in range(3)]
    await api.patch(f"/services/{yoga['id']}", {"max_parallel_bookings": 4})
    await assert_promoted(studio, first)
    await assert_promoted(studio, second)
    assert await statuses(studio, third) == ["waiting"]
    assert await positions(studio, third) == [1]
    assert await slot(studio) == (False, 0, 1)


async def test_the_waitlist_is_served_in_joining_order_skipping_parties_that_do_not_fit(
    api: Api, studio: Studio
) -> None:
    await open_class(studio, capacity=4)
    a, b = await fill(studio, 2, 2)
    trio = await wait(studio, party_size=3)
    single = await wait(studio, party_size=1)
    pair = await wait(studio, party_size=2)

    # Two spots free: the trio does not fit and keeps its place; the single fits.
    await api.cancel(a)
    await assert_promoted(studio, single)
    assert await statuses(studio, trio, pair) == ["waiting", "waiting"]
    assert await positions(studio, trio, pair) == [1, 2]
    # The spot left over fits nobody waiting, so anyone may book it.
    assert await slot(studio) == (True, 1, 2)

    # Three spots free: the trio, first in the queue, fits now.
    await api.cancel(b)
    await assert_promoted(studio, trio)
    assert await statuses(studio, pair) == ["waiting"]
    assert await positions(studio, pair) == [1]
    assert await slot(studio) == (False, 0, 1)


async def test_an_over_full_class_promotes_nobody(api: Api, studio: Studio) -> None:
    yoga, _ = await open_class(studio, capacity=3)
    first, second, third = await fill(studio, 1, 1, 1)
    entry = await wait(studio)
    changed = await api.patch(f"/services/{yoga['id']}", {"max_parallel_bookings": 1})
    assert changed["warnings"] == [
        "Note: 3 bookings exist but capacity is now 1 (2026-12-07 10:00 John Smith)"
    ]
    await api.cancel(first)  # 2 of 1: still over
    assert await statuses(studio, entry) == ["waiting"]
    await api.cancel(second)  # 1 of 1: full
    assert await statuses(studio, entry) == ["waiting"]
    await api.cancel(third)  # 0 of 1: a spot is free at last
    await assert_promoted(studio, entry)


async def test_a_class_that_has_started_promotes_nobody_and_its_queue_expires(
    api: Api, studio: Studio, clock: FixedClock
) -> None:
    await open_class(studio, capacity=1)
    (booked,) = await fill(studio, 1)
    (later,) = await fill(studio, 1, start="12:00")
    entry = await wait(studio)
    waiting_for_noon = await wait(studio, start="12:00")
    await move_clock(studio, clock, datetime(2026, 12, 7, 10, 30, tzinfo=UTC))  # London = UTC

    now = await studio.waitlist_entry(entry)
    assert (now["status"], now["position"], now["appointment_id"]) == ("expired", None, None)
    await api.cancel(booked)
    now = await studio.waitlist_entry(entry)
    assert (now["status"], now["position"], now["appointment_id"]) == ("expired", None, None)
    expired = await api.get("/waitlist", params={"status": "expired"})
    assert [e["id"] for e in expired["items"]] == [entry["id"]]
    waiting = await api.get("/waitlist", params={"status": "waiting"})
    assert [e["id"] for e in waiting["items"]] == [waiting_for_noon["id"]]
    refused = await api.put(f"/waitlist/{entry['id']}/cancel", expect=409)
    assert refused["code"] == "invalid_transition"
    assert await slot(studio) == (False, 1, 0)

    # The noon class has not started: its queue is still served.
    await api.cancel(later)
    await assert_promoted(studio, waiting_for_noon)


async def test_booking_the_class_directly_closes_the_customers_waiting_entry(
    api: Api, studio: Studio
) -> None:
    await open_class(studio, capacity=4)
    await fill(studio, 2)
    maria = await studio.customer("Maria Garcia", key="maria")
    entry = await wait(studio, customer=maria, party_size=3)
    await studio.book(studio.yoga, studio.john, customer=maria, party_size=2)
    now = await studio.waitlist_entry(entry)
    assert (now["status"], now["position"], now["appointment_id"]) == ("cancelled", None, None)
    assert await slot(studio) == (False, 0, 0)


async def test_rescheduling_into_the_class_closes_the_customers_waiting_entry(
    api: Api, studio: Studio
) -> None:
    await open_class(studio, capacity=4)
    await fill(studio, 2)
    maria = await studio.customer("Maria Garcia", key="maria")
    entry = await wait(studio, customer=maria, party_size=3)
    noon = await studio.book(studio.yoga, studio.john, customer=maria, start="12:00")
    await api.reschedule(noon, MONDAY, "10:00")
    assert await statuses(studio, entry) == ["cancelled"]
    assert await slot(studio) == (True, 1, 0)


async def test_turning_the_waitlist_off_cancels_the_queue(api: Api, studio: Studio) -> None:
    yoga, _ = await open_class(studio, capacity=1)
    (booked,) = await fill(studio, 1)
    promoted = await wait(studio)
    await api.cancel(booked)
    await assert_promoted(studio, promoted)
    first, second = await wait(studio), await wait(studio)

    changed = await api.patch(f"/services/{yoga['id']}", {"waitlist_enabled": False})
    assert changed["waitlist_enabled"] is False
    assert await statuses(studio, first, second, promoted) == ["cancelled", "cancelled", "promoted"]
    assert await slot(studio) == (False, 0, None)
    refused = await wait(studio, expect=422)
    assert names(refused, "service_id"), refused


async def test_the_grid_shows_how_many_wait_for_each_session(api: Api, studio: Studio) -> None:
    await open_class(studio, capacity=1)
    pilates = await studio.offer("Pilates", parallel=True, capacity=5)
    massage = await studio.offer("Massage", duration=30)
    anna = await studio.hire("Anna Lee", [pilates, massage])
    assert await slot(studio) == (True, 1, 0)
    assert (await studio.grid_slot(pilates, anna, "10:00"))["waitlist_length"] is None
    assert (await studio.grid_slot(massage, anna, "10:00"))["waitlist_length"] is None

    await fill(studio, 1)
    first = await wait(studio)
    await wait(studio, party_size=1)
    assert await slot(studio) == (False, 0, 2)
    assert await slot(studio, "11:00") == (True, 1, 0)
    await api.put(f"/waitlist/{first['id']}/cancel")
    assert await slot(studio) == (False, 0, 1)


async def test_another_tenants_waitlist_entries_are_not_found(api: Api, studio: Studio) -> None:
    await open_class(studio, capacity=1)
    await fill(studio, 1)
    entry = await wait(studio)
    rival = Api(api.client)
    await rival.signup("Rival Studio")
    unknown = await rival.get("/waitlist/does-not-exist", expect=404)
    assert await rival.get(f"/waitlist/{entry['id']}", expect=404) == unknown
    assert await rival.put(f"/waitlist/{entry['id']}/cancel", expect=404) == unknown
    assert (await rival.get("/waitlist"))["total"] == 0
    assert (await studio.waitlist_entry(entry))["status"] == "waiting"
