"""Party size and the waitlist on the public booking API: a customer books for several
people, waits for a place in a full class, follows their place in line by a private link,
leaves, and makes their party smaller - and never sees anybody else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from slotbook.clock import FixedClock
from tests.scenarios import Studio, open_studio
from tests.support import CONFLICT_DETAIL, MONDAY, Api, client_for, public_booking_body

Json = dict[str, Any]
WAITLIST_FIELDS = {
    "status",
    "position",
    "party_size",
    "business_name",
    "outlet_name",
    "outlet_address",
    "timezone",
    "service_name",
    "staff_name",
    "date",
    "start_time",
    "end_time",
    "joined_at",
    "can_leave",
    "manage_token",
    "manage_path",
    "booking_path",
}


@pytest.fixture
async def public(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as http:
        yield http


@pytest.fixture
async def studio(api: Api) -> Studio:
    """Group Yoga (3 spots, with a waitlist) and Pilates (3 spots, no waitlist) taught by
    John Smith; Anna Lee cuts hair one customer at a time."""
    place = await open_studio(api)
    yoga = await place.offer(
        "Group Yoga", key="yoga", parallel=True, capacity=3, waitlist_enabled=True
    )
    pilates = await place.offer("Pilates", key="pilates", parallel=True, capacity=3)
    haircut = await place.offer("Haircut", key="haircut")
    await place.hire("John Smith", [yoga, pilates], key="john")
    await place.hire("Anna Lee", [haircut], key="anna")
    return place


def body(service: Json, staff: Json, *, party_size: int | None = None, **kw: Any) -> Json:
    """A public booking (or waitlist) body; ``party_size`` only when given."""
    sent = public_booking_body(service, staff, **kw)
    if party_size is not None:
        sent["party_size"] = party_size
    return sent


def token_of(answer: httpx.Response) -> str:
    return str(answer.json()["manage_path"].rsplit("/", 1)[-1])


async def slot_at(
    public: httpx.AsyncClient, place: Studio, service: Json, start: str = "10:00:00"
) -> Json:
    response = await public.get(
        f"{place.base}/slots",
        params={"service_id": service["id"], "start_date": MONDAY, "days": 1},
    )
    assert response.status_code == 200, response.text
    return dict(next(s for s in response.json()["days"][0]["slots"] if s["start_time"] == start))


async def fill(place: Studio, service: Json, count: int, start: str = "10:00") -> list[Json]:
    """Book ``count`` staff bookings (one person each) into John's session."""
    return [await place.book(service, place.john, start=start) for _ in range(count)]


async def join(
    public: httpx.AsyncClient, place: Studio, email: str, *, expect: int = 201, **kw: Any
) -> httpx.Response:
    answer = await public.post(
        f"{place.base}/waitlist",
        json=body(place.yoga, place.john, email=email, name=email.split("@")[0].title(), **kw),
    )
    assert answer.status_code == expect, answer.text
    return answer


# Party size


async def test_a_party_books_several_spots_and_the_slot_counts_them(
    api: Api, studio: Studio, public: httpx.AsyncClient
) -> None:
    booked = await public.post(
        f"{studio.base}/bookings", json=body(studio.pilates, studio.john, party_size=2)
    )
    assert booked.status_code == 201, booked.text
    assert (booked.json()["party_size"], booked.json()["can_reduce_party"]) == (2, True)
    slot = await slot_at(public, studio, studio.pilates)
    assert (slot["spots_left"], slot["label"]) == (1, "1/3 spots left")
    # A class without a waitlist: nobody waits, nobody may join.
    assert (slot["waitlist_length"], slot["waitlist_open"]) == (None, False)
    (appointment,) = (await api.get("/appointments"))["items"]
    assert appointment["party_size"] == 2

    too_many = await public.post(
        f"{studio.base}/bookings",
        json=body(studio.pilates, studio.john, party_size=2, email="late@example.com"),
    )
    assert too_many.status_code == 409
    assert too_many.json() == {"detail": CONFLICT_DETAIL, "code": "capacity_reached"}
    one = await public.post(
        f"{studio.base}/bookings",
        json=body(studio.pilates, studio.john, party_size=1, email="last@example.com"),
    )
    assert one.status_code == 201, one.text
    assert one.json()["can_reduce_party"] is False  # a party of one cannot be smaller
    full = await slot_at(public, studio, studio.pilates)
    assert (full["label"], full["bookable"], full["spots_left"]) == ("Full", False, 0)


async def test_a_party_that_can_never_fit_is_invalid_input_naming_party_size(
    studio: Studio, public: httpx.AsyncClient
) -> None:
    cases = [
        (body(studio.pilates, studio.john, party_size=4), "party_size"),  # above the capacity
        (body(studio.haircut, studio.anna, party_size=2, start="14:00"), "party_size"),
        (body(studio.pilates, studio.john, party_size=0), "party_size"),
        (body(studio.pilates, studio.john, party_size=101), "party_size"),
        ({**body(studio.pilates, studio.john), "party_size": None}, "party_size"),
        ({**body(studio.pilates, studio.john), "party_size": "2"}, "party_size"),
    ]
    for sent, field in cases:
        refused = await public.post(f"{studio.base}/bookings", json=sent)
        assert refused.status_code == 422, (sent, refused.text)
        assert field in refused.text, refused.text
    keyed = await public.post(
        f"{studio.base}/bookings",
        json=body(studio.pilates, studio.john, party_size=4),
        headers={"Idempotency-Key": "big-family"},
    )
    assert keyed.status_code == 422
    assert keyed.json()["field"] == "party_size"
    assert (await slot_at(public, studio, studio.pilates))["spots_left"] == 3


async def test_the_same_customer_cannot_take_a_second_place_in_a_session(
    studio: Studio, public: httpx.AsyncClient
) -> None:
    first = await public.post(f"{studio.base}/bookings", json=body(studio.yoga, studio.john))
    assert first.status_code == 201
    again = await public.post(
        f"{studio.base}/bookings", json=body(studio.yoga, studio.john, party_size=2)
    )
    assert again.status_code == 409
    assert again.json() == {
        "detail": "The customer already holds a place in this session",
        "code": "already_booked",
    }


async def test_the_customer_makes_the_party_smaller_but_never_larger_by_the_private_link(
    api: Api, studio: Studio, public: httpx.AsyncClient
) -> None:
    booked = await public.post(
        f"{studio.base}/bookings", json=body(studio.pilates, studio.john, party_size=3)
    )
    token = token_of(booked)
    path = f"/api/v1/public/bookings/{token}/party-size"

    larger = await public.put(path, json={"party_size": 4})
    assert larger.status_code == 422
    assert larger.json()["field"] == "party_size"
    assert "only make your party smaller" in larger.json()["detail"]
    smaller = await public.put(path, json={"party_size": 2})
    assert smaller.status_code == 200, smaller.text
    assert (smaller.json()["party_size"], smaller.json()["status"]) == (2, "confirmed")
    assert (await slot_at(public, studio, studio.pilates))["spots_left"] == 1
    same = await public.put(path, json={"party_size": 2})
    assert same.status_code == 200
    larger_again = await public.put(path, json={"party_size": 3})  # back up: not online
    assert larger_again.status_code == 422
    for bad in ({"party_size": 0}, {"party_size": "1"}, {}, {"party_size": 1, "x": 1}):
        assert (await public.put(path, json=bad)).status_code == 422, bad

    (appointment,) = (await api.get("/appointments"))["items"]
    history = await api.get(f"/appointments/{appointment['id']}/history")
    changes = [e for e in history["items"] if e["type"] == "party_size_changed"]
    assert [(e["data"]["from"], e["data"]["to"], e["user_id"]) for e in changes] == [(3, 2, None)]
    page = await public.get(f"/my-booking/{token}")
    assert page.status_code == 200
    assert "Make my party smaller" in page.text

    cancelled = await public.put(f"/api/v1/public/bookings/{token}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["can_reduce_party"] is False
    refused = await public.put(path, json={"party_size": 1})
    assert refused.status_code == 409
    assert refused.json()["code"] == "invalid_transition"
    forged = await public.put(
        f"/api/v1/public/bookings/{token[:-2]}xx/party-size", json={"party_size": 1}
    )
    assert forged.status_code == 404


async def test_a_party_cannot_change_once_the_session_has_started(
    studio: Studio, public: httpx.AsyncClient, clock: FixedClock
) -> None:
    booked = await public.post(
        f"{studio.base}/bookings", json=body(studio.pilates, studio.john, party_size=2)
    )
    token = token_of(booked)
    clock.at = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)  # London is on UTC in December
    view = await public.get(f"/api/v1/public/bookings/{token}")
    assert view.json()["can_reduce_party"] is False
    started = await public.put(
        f"/api/v1/public/bookings/{token}/party-size", json={"party_size": 1}
    )
    assert started.status_code == 409
    assert started.json()["code"] == "already_started"


# The waitlist


async def test_a_full_class_offers_its_waitlist_and_customers_join_it_in_order(
    api: Api, studio: Studio, public: httpx.AsyncClient
) -> None:
    others = await fill(studio, studio.yoga, 3)
    open_slot = await slot_at(public, studio, studio.yoga, "11:00:00")
    assert (open_slot["waitlist_length"], open_slot["waitlist_open"]) == (0, False)
    full = await slot_at(public, studio, studio.yoga)
    assert (full["label"], full["bookable"], full["spots_left"]) == ("Full", False, 0)
    assert (full["waitlist_length"], full["waitlist_open"]) == (0, True)

    first = await join(public, studio, "maria@example.com", party_size=2)
    entry = first.json()
    assert set(entry) == WAITLIST_FIELDS
    assert (entry["status"], entry["position"], entry["party_size"]) == ("waiting", 1, 2)
    assert (entry["service_name"], entry["staff_name"]) == ("Group Yoga", "John Smith")
    assert (entry["date"], entry["start_time"], entry["end_time"]) == (
        MONDAY,
        "10:00:00",
        "11:00:00",
    )
    assert entry["timezone"] == "Europe/London"
    assert entry["manage_path"] == f"/my-waitlist/{entry['manage_token']}"
    assert (entry["can_leave"], entry["booking_path"]) == (True, None)
    second = await join(public, studio, "sam@example.com")
    assert second.json()["position"] == 2
    assert (await slot_at(public, studio, studio.yoga))["waitlist_length"] == 2

    # The staff API sees the customers it made, found by email like a booking's.
    listed = (await api.get("/waitlist"))["items"]
    assert [(e["party_size"], e["position"]) for e in listed] == [(2, 1), (1, 2)]
    maria = await api.get(f"/customers/{listed[0]['customer_id']}")
    assert (maria["name"], maria["email"]) == ("Maria", "maria@example.com")

    # Nothing about other customers, nor the customer's own record, comes back.
    read = await public.get(f"/api/v1/public/waitlist/{entry['manage_token']}")
    page = await public.get(entry["manage_path"])
    for answer in (first, second, read, page):
        assert answer.status_code in (200, 201), answer.text
        assert "customer" not in answer.text
        for other in others:
            assert other["customer_id"] not in answer.text
        assert maria["id"] not in answer.text
        assert "maria@example.com" not in answer.text
    assert "sam@example.com" not in first.text + read.text
    assert "You are number 1 in line" in page.text


async def test_joining_is_refused_as_the_engine_decides_and_for_starts_not_offered(
    api: Api, studio: Studio, public: httpx.AsyncClient
) -> None:
    await fill(studio, studio.yoga, 2)
    room = await join(public, studio, "early@example.com", expect=409)
    assert room.json() == {
        "detail": "The session has room for this party; book it instead",
        "code": "spots_available",
    }
    big = await join(public, studio, "family@example.com", party_size=2)  # 1 spot left
    assert big.json()["position"] == 1
    twice = await join(public, studio, "FAMILY@example.com", expect=409)
    assert twice.json()["code"] == "already_waiting"
    booked = await public.post(
        f"{studio.base}/bookings", json=body(studio.yoga, studio.john, email="in@example.com")
    )
    assert booked.status_code == 201
    holder = await join(public, studio, "in@example.com", expect=409)
    assert holder.json()["code"] == "already_booked"

    no_waitlist = await public.post(
        f"{studio.base}/waitlist", json=body(studio.pilates, studio.john)
    )
    assert (no_waitlist.status_code, no_waitlist.json()["field"]) == (422, "service_id")
    odd = await join(public, studio, "odd@example.com", start="10:07", expect=422)
    assert odd.json()["field"] == "start_time"
    past = await join(public, studio, "past@example.com", date="2026-11-30", expect=422)
    assert past.json()["field"] in ("date", "start_time")
    huge = await join(public, studio, "huge@example.com", party_size=4, expect=422)
    assert huge.json()["field"] == "party_size"
    for bad in ({"email": "not-an-email"}, {"name": ""}, {"extra": 1}):
        sent = {**body(studio.yoga, studio.john), **bad}
        assert (await public.post(f"{studio.base}/waitlist", json=sent)).status_code == 422
    listed = await api.get("/waitlist")
    assert listed["total"] == 1


async def test_a_waitlist_limit_closes_the_line(
    api: Api, studio: Studio, public: httpx.AsyncClient
) -> None:
    await api.patch(f"/services/{studio.yoga['id']}", {"waitlist_limit": 1})
    await fill(studio, studio.yoga, 3)
    await join(public, studio, "one@example.com")
    slot = await slot_at(public, studio, studio.yoga)
    assert (slot["waitlist_length"], slot["waitlist_open"]) == (1, False)
    refused = await join(public, studio, "two@example.com", expect=409)
    assert refused.json()["code"] == "waitlist_full"


async def test_a_freed_spot_makes_the_first_waiting_customer_a_booking_with_its_own_link(
    api: Api, studio: Studio, public: httpx.AsyncClient
) -> None:
    booked = await fill(studio, studio.yoga, 3)
    first = (await join(public, studio, "first@example.com")).json()
    second = (await join(public, studio, "second@example.com")).json()
    token = first["manage_token"]

    await api.cancel(booked[0])
    promoted = (await public.get(f"/api/v1/public/waitlist/{token}")).json()
    assert (promoted["status"], promoted["position"], promoted["can_leave"]) == (
        "promoted",
        None,
        False,
    )
    assert promoted["booking_path"].startswith("/my-booking/")
    booking = await public.get(
        f"/api/v1/public/bookings/{promoted['booking_path'].rsplit('/', 1)[-1]}"
    )
    assert booking.status_code == 200, booking.text
    assert (booking.json()["status"], booking.json()["start_time"]) == ("confirmed", "10:00:00")
    assert booking.json()["manage_path"] == promoted["booking_path"]
    moved_up = (await public.get(f"/api/v1/public/waitlist/{second['manage_token']}")).json()
    assert moved_up["position"] == 1
    page = await public.get(f"/my-waitlist/{token}")
    assert page.status_code == 200
    assert promoted["booking_path"] in page.text
    assert "Leave the waitlist" not in page.text

    refused = await public.put(f"/api/v1/public/waitlist/{token}/cancel")
    assert refused.status_code == 409
    assert refused.json()["code"] == "invalid_transition"


async def test_a_smaller_party_online_hands_its_spots_to_the_waitlist(
    api: Api, studio: Studio, public: httpx.AsyncClient
) -> None:
    family = await public.post(
        f"{studio.base}/bookings",
        json=body(studio.yoga, studio.john, party_size=3, email="family@example.com"),
    )
    waiting = (await join(public, studio, "next@example.com", party_size=2)).json()
    smaller = await public.put(
        f"/api/v1/public/bookings/{token_of(family)}/party-size", json={"party_size": 1}
    )
    assert smaller.status_code == 200, smaller.text
    now = (await public.get(f"/api/v1/public/waitlist/{waiting['manage_token']}")).json()
    assert now["status"] == "promoted"
    assert (await slot_at(public, studio, studio.yoga))["label"] == "Full"
    assert (await api.get("/appointments"))["total"] == 2


async def test_a_customer_leaves_the_waitlist_by_the_private_link(
    api: Api, studio: Studio, public: httpx.AsyncClient
) -> None:
    await fill(studio, studio.yoga, 3)
    first = (await join(public, studio, "first@example.com")).json()
    second = (await join(public, studio, "second@example.com")).json()
    page = await public.get(first["manage_path"])
    assert "Leave the waitlist" in page.text

    left = await public.put(f"/api/v1/public/waitlist/{first['manage_token']}/cancel")
    assert left.status_code == 200, left.text
    assert (left.json()["status"], left.json()["position"], left.json()["can_leave"]) == (
        "cancelled",
        None,
        False,
    )
    again = await public.put(f"/api/v1/public/waitlist/{first['manage_token']}/cancel")
    assert (again.status_code, again.json()["status"]) == (200, "cancelled")
    after = (await public.get(f"/api/v1/public/waitlist/{second['manage_token']}")).json()
    assert after["position"] == 1
    assert (await slot_at(public, studio, studio.yoga))["waitlist_length"] == 1
    statuses = [e["status"] for e in (await api.get("/waitlist"))["items"]]
    assert statuses == ["cancelled", "waiting"]


async def test_a_waiting_entry_reads_expired_once_the_session_starts(
    studio: Studio, public: httpx.AsyncClient, clock: FixedClock
) -> None:
    await fill(studio, studio.yoga, 3)
    entry = (await join(public, studio, "late@example.com")).json()
    clock.at = datetime(2026, 12, 7, 10, 1, tzinfo=UTC)
    read = (await public.get(f"/api/v1/public/waitlist/{entry['manage_token']}")).json()
    assert (read["status"], read["position"], read["can_leave"]) == ("expired", None, False)
    refused = await public.put(f"/api/v1/public/waitlist/{entry['manage_token']}/cancel")
    assert (refused.status_code, refused.json()["code"]) == (409, "invalid_transition")


async def test_waitlist_links_cannot_be_forged_or_swapped_with_booking_links(
    api: Api, studio: Studio, public: httpx.AsyncClient
) -> None:
    booked = await fill(studio, studio.yoga, 2)
    mine = await public.post(
        f"{studio.base}/bookings", json=body(studio.yoga, studio.john, email="me@example.com")
    )
    entry = (await join(public, studio, "wait@example.com")).json()
    token = entry["manage_token"]
    tenant, entry_id, mac = token.split(".")
    booking_token = token_of(mine)
    _, appointment_id, booking_mac = booking_token.split(".")
    forged = [
        f"{tenant}.{appointment_id}.{mac}",
        f"{tenant}.{entry_id}.{booking_mac}",
        f"{tenant}.{entry_id}.{mac[:-2]}{'AA' if mac[-2:] != 'AA' else 'BB'}",
        f"{tenant}.{entry_id}",
        entry_id,
        booking_token,  # a booking's link opens no waitlist entry
        "x" * 150,
    ]
    for wrong in forged:
        assert (await public.get(f"/api/v1/public/waitlist/{wrong}")).status_code == 404
        assert (await public.put(f"/api/v1/public/waitlist/{wrong}/cancel")).status_code == 404
        assert (await public.get(f"/my-waitlist/{wrong}")).status_code == 404
    # ... and an entry's link opens no booking.
    assert (await public.get(f"/api/v1/public/bookings/{token}")).status_code == 404
    assert (await public.get(f"/my-booking/{token}")).status_code == 404
    assert (await api.get("/waitlist"))["items"][0]["status"] == "waiting"
    assert len(booked) == 2


async def test_another_business_or_outlet_is_not_found(
    api: Api, studio: Studio, public: httpx.AsyncClient
) -> None:
    theirs = await open_studio(api.as_user(""), "Other Gym")
    crossed = f"/api/v1/public/{studio.slug}/outlets/{theirs.outlet['id']}/waitlist"
    answer = await public.post(crossed, json=body(studio.yoga, studio.john))
    assert answer.status_code == 404
    unknown = f"/api/v1/public/no-such-business/outlets/{studio.outlet['id']}/waitlist"
    assert (await public.post(unknown, json=body(studio.yoga, studio.john))).status_code == 404


async def test_the_waitlist_endpoints_are_rate_limited_like_the_rest(
    api: Api, studio: Studio, app: FastAPI
) -> None:
    await fill(studio, studio.yoga, 3)
    limit = app.state.settings.public_rate_limit_per_minute
    async with client_for(app) as public:
        entry = (await join(public, studio, "busy@example.com")).json()
        path = f"/api/v1/public/waitlist/{entry['manage_token']}"
        answers = [await public.get(path) for _ in range(limit)]
    assert answers[-2].status_code == 200
    assert answers[-1].status_code == 429
    assert answers[-1].headers["Retry-After"]
