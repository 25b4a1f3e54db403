"""The brief's Test Cases 1-7 and Edge Cases 1-2, as a client of the API sees them.

Two places where the brief contradicts itself follow the contract: Test Case 2
Scenario 3 uses a different staff member, and Test Case 7 ends at 5/6.
"""

from __future__ import annotations

import json

import pytest

from tests.scenarios import Studio, open_studio
from tests.support import CONFLICT_DETAIL, Api


def _refusal(response_body: dict[str, object], code: str) -> None:
    assert response_body["detail"] == CONFLICT_DETAIL
    assert response_body["code"] == code


# Test Case 1: single booking


@pytest.fixture
async def personal_training(api: Api) -> Studio:
    studio = await open_studio(api)
    training = await studio.offer("Personal Training", key="training")
    await studio.hire("John Smith", [training], key="john")
    await studio.hire("Sarah Lee", [training], key="sarah")
    return studio


async def test_single_booking_first_customer_is_confirmed(personal_training: Studio) -> None:
    studio = personal_training
    booked = await studio.book(studio.training, studio.john)
    assert booked["status"] == "confirmed"


async def test_single_booking_second_customer_same_slot_is_blocked(
    personal_training: Studio,
) -> None:
    studio = personal_training
    await studio.book(studio.training, studio.john)
    refused = await studio.book(studio.training, studio.john, expect=409)
    _refusal(refused, "slot_taken")


async def test_single_booking_different_staff_is_available(personal_training: Studio) -> None:
    studio = personal_training
    await studio.book(studio.training, studio.john)
    await studio.book(studio.training, studio.sarah)


async def test_single_booking_same_staff_different_time_is_available(
    personal_training: Studio,
) -> None:
    studio = personal_training
    await studio.book(studio.training, studio.john)
    await studio.book(studio.training, studio.john, start="14:00")


async def test_single_booking_cancellation_frees_the_slot(
    api: Api, personal_training: Studio
) -> None:
    studio = personal_training
    first = await studio.book(studio.training, studio.john)
    await api.cancel(first)
    await studio.book(studio.training, studio.john)


# Test Case 2: parallel booking within capacity


@pytest.fixture
async def yoga_class(api: Api) -> Studio:
    """John Smith teaches the Group Yoga Class, five spots a session."""
    studio = await open_studio(api)
    yoga = await studio.offer("Group Yoga Class", key="yoga", parallel=True, capacity=5)
    await studio.hire("John Smith", [yoga], key="john")
    return studio


async def test_group_class_tracks_capacity_as_bookings_increase(yoga_class: Studio) -> None:
    studio = yoga_class
    for booked in range(1, 6):
        await studio.book(studio.yoga, studio.john)
        slot = await studio.grid_slot(studio.yoga, studio.john, "10:00")
        assert slot["available_capacity"] == 5 - booked
        assert slot["max_capacity"] == 5


async def test_group_class_at_capacity_shows_as_full(yoga_class: Studio) -> None:
    studio = yoga_class
    for _ in range(5):
        await studio.book(studio.yoga, studio.john)
    slot = await studio.grid_slot(studio.yoga, studio.john, "10:00")
    assert (slot["is_available"], slot["available_capacity"], slot["max_capacity"]) == (False, 0, 5)


async def test_same_customer_books_a_different_service_with_another_staff_member(
    yoga_class: Studio,
) -> None:
    studio = yoga_class
    training = await studio.offer("Personal Training")
    sarah = await studio.hire("Sarah Lee", [training])
    customer = await studio.customer("Customer 1")
    await studio.book(studio.yoga, studio.john, customer=customer)
    both = await studio.book(training, sarah, customer=customer)
    assert both["customer_id"] == customer["id"]


async def test_full_class_holds_five_confirmed_appointments(yoga_class: Studio) -> None:
    studio = yoga_class
    for _ in range(5):
        await studio.book(studio.yoga, studio.john)
    assert await studio.active_in_session(studio.yoga, studio.john, "10:00") == 5


# Test Case 3: capacity exceeded


@pytest.fixture
async def boot_camp(api: Api) -> Studio:
    """Three spots, all taken at 10:00."""
    studio = await open_studio(api)
    camp = await studio.offer("Boot Camp", key="camp", parallel=True, capacity=3)
    john = await studio.hire("John Smith", [camp], key="john")
    for _ in range(3):
        await studio.book(camp, john)
    return studio


async def test_fourth_boot_camp_booking_is_refused_with_the_counts(boot_camp: Studio) -> None:
    refused = await boot_camp.book(boot_camp.camp, boot_camp.john, expect=409)
    _refusal(refused, "capacity_reached")
    assert (refused["current_bookings"], refused["max_capacity"]) == (3, 3)


async def test_capacity_check_is_logged_when_the_class_is_full(
    boot_camp: Studio, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    await boot_camp.book(boot_camp.camp, boot_camp.john, expect=409)
    checks = [
        json.loads(line)
        for line in capsys.readouterr().err.splitlines()
        if "parallel_booking_capacity_check" in line
    ]
    assert len(checks) == 1
    check = checks[0]
    assert check["current_bookings"] == 3
    assert check["max_capacity"] == 3
    assert check["capacity_reached"] is True
    assert check["staff_id"] == boot_camp.john["id"]
    assert check["service_id"] == boot_camp.camp["id"]
    assert check["tenant_id"]
    assert check["start"].startswith("2026-12-07T10:00")


async def test_full_boot_camp_has_exactly_no_spots_left(boot_camp: Studio) -> None:
    slot = await boot_camp.grid_slot(boot_camp.camp, boot_camp.john, "10:00")
    assert slot["available_capacity"] == 0
    assert await boot_camp.active_in_session(boot_camp.camp, boot_camp.john, "10:00") == 3


async def test_boot_camp_at_another_time_has_its_own_capacity(boot_camp: Studio) -> None:
    await boot_camp.book(boot_camp.camp, boot_camp.john, start="14:00")


async def test_repeated_attempts_on_a_full_boot_camp_are_all_refused(boot_camp: Studio) -> None:
    for _ in range(3):
        refused = await boot_camp.book(boot_camp.camp, boot_camp.john, expect=409)
        assert refused["code"] == "capacity_reached"
    assert await boot_camp.active_in_session(boot_camp.camp, boot_camp.john, "10:00") == 3


# Test Case 5: mixed services on the same staff member


@pytest.fixture
async def mixed(api: Api) -> Studio:
    """John Smith teaches the yoga class and gives personal training."""
    studio = await open_studio(api)
    yoga = await studio.offer("Group Yoga Class", key="yoga", parallel=True, capacity=10)
    training = await studio.offer("Personal Training", key="training")
    await studio.hire("John Smith", [yoga, training], key="john")
    return studio


async def test_ten_customers_fill_yoga_and_the_eleventh_is_refused(mixed: Studio) -> None:
    for _ in range(10):
        await mixed.book(mixed.yoga, mixed.john)
    refused = await mixed.book(mixed.yoga, mixed.john, expect=409)
    assert refused["code"] == "capacity_reached"


async def test_personal_training_takes_one_customer_per_slot(mixed: Studio) -> None:
    await mixed.book(mixed.training, mixed.john, start="14:00")
    refused = await mixed.book(mixed.training, mixed.john, start="14:00", expect=409)
    assert refused["code"] == "slot_taken"


async def test_capacity_is_per_service_not_per_staff_member(api: Api, mixed: Studio) -> None:
    studio = mixed
    for _ in range(10):
        await studio.book(studio.yoga, studio.john)
    await studio.book(studio.training, studio.john, start="14:00")
    listing = await api.get("/appointments", params={"staff_id": studio.john["id"]})
    assert listing["total"] == 11
    assert await studio.active_in_session(studio.yoga, studio.john, "10:00") == 10
    assert await studio.active_in_session(studio.training, studio.john, "14:00") == 1


async def test_overlapping_different_services_are_refused(mixed: Studio) -> None:
    """Edge Case 1 too: a staff member cannot be in two places."""
    await mixed.book(mixed.yoga, mixed.john)
    refused = await mixed.book(mixed.training, mixed.john, start="10:30", expect=409)
    _refusal(refused, "staff_busy")


# Test Case 6: rescheduling with capacity

Wine = tuple[Studio, dict[str, list[dict[str, object]]]]  # the studio; bookings by start


@pytest.fixture
async def wine(api: Api) -> Wine:
    """Three tastings of four: 3 booked at 15:00, 2 at 18:00, 4 (full) at 21:00."""
    studio = await open_studio(api)
    tasting = await studio.offer("Wine Tasting", key="tasting", parallel=True, capacity=4)
    lisa = await studio.hire("Sommelier Lisa", [tasting], key="lisa")
    booked: dict[str, list[dict[str, object]]] = {}
    for start, count in (("15:00", 3), ("18:00", 2), ("21:00", 4)):
        booked[start] = [await studio.book(tasting, lisa, start=start) for _ in range(count)]
    return studio, booked


async def test_reschedule_within_capacity_moves_the_booking(api: Api, wine: Wine) -> None:
    studio, booked = wine
    tasting, lisa = studio.tasting, studio.lisa
    customer_c = booked["15:00"][2]
    moved = await api.reschedule(customer_c, "2026-12-07", "18:00")
    assert moved["id"] == customer_c["id"]
    assert (moved["start_time"], moved["status"]) == ("18:00:00", "confirmed")
    assert await studio.active_in_session(tasting, lisa, "15:00") == 2
    assert await studio.active_in_session(tasting, lisa, "18:00") == 3


async def test_reschedule_into_a_full_session_is_refused(api: Api, wine: Wine) -> None:
    _, booked = wine
    customer_a = booked["15:00"][0]
    refused = await api.reschedule(customer_a, "2026-12-07", "21:00", expect=409)
    _refusal(refused, "capacity_reached")
    assert (refused["current_bookings"], refused["max_capacity"]) == (4, 4)
    unchanged = await api.get(f"/appointments/{customer_a['id']}")
    assert unchanged["start_time"] == "15:00:00"


async def test_rescheduling_within_its_own_full_session_does_not_count_itself(
    api: Api, wine: Wine, capsys: pytest.CaptureFixture[str]
) -> None:
    _, booked = wine
    capsys.readouterr()
    in_full_session = booked["21:00"][0]
    await api.reschedule(in_full_session, "2026-12-07", "21:00")
    check = next(
        json.loads(line)
        for line in capsys.readouterr().err.splitlines()
        if "parallel_booking_capacity_check" in line
    )
    assert (check["current_bookings"], check["capacity_reached"]) == (3, False)


async def test_sequential_reschedules_update_capacity(api: Api, wine: Wine) -> None:
    studio, _ = wine
    tasting, lisa = studio.tasting, studio.lisa
    customer_d = await studio.book(tasting, lisa, start="10:00")
    await api.reschedule(customer_d, "2026-12-07", "14:00")
    assert await studio.active_in_session(tasting, lisa, "14:00") == 1
    await api.reschedule(customer_d, "2026-12-07", "18:00")
    assert await studio.active_in_session(tasting, lisa, "10:00") == 0
    assert await studio.active_in_session(tasting, lisa, "14:00") == 0
    assert await studio.active_in_session(tasting, lisa, "18:00") == 3


async def test_spot_freed_by_a_reschedule_can_be_booked(api: Api, wine: Wine) -> None:
    studio, booked = wine
    tasting, lisa = studio.tasting, studio.lisa
    await api.reschedule(booked["15:00"][2], "2026-12-07", "18:00")
    await studio.book(tasting, lisa, start="15:00")
    assert await studio.active_in_session(tasting, lisa, "15:00") == 3


# Test Case 7: cancellations and no-shows


async def test_cancellations_and_no_shows_free_capacity(api: Api) -> None:
    studio = await open_studio(api)
    workshop = await studio.offer("Art Workshop", parallel=True, capacity=6, duration=120)
    emma = await studio.hire("Artist Emma", [workshop])
    students = [await studio.book(workshop, emma, start="14:00") for _ in range(6)]

    async def spots() -> tuple[bool, int]:
        slot = await studio.grid_slot(workshop, emma, "14:00")
        assert slot["end_time"] == "16:00:00"
        return slot["is_available"], slot["available_capacity"]

    assert await spots() == (False, 0)
    await api.cancel(students[2])
    assert await spots() == (True, 1)
    await api.cancel(students[1])
    await api.cancel(students[4])
    assert await spots() == (True, 3)
    await studio.book(workshop, emma, start="14:00")
    assert await studio.active_in_session(workshop, emma, "14:00") == 4

    everything = await api.get("/appointments", params={"staff_id": emma["id"]})
    statuses = sorted(a["status"] for a in everything["items"])
    assert everything["total"] == 7
    assert statuses == ["cancelled"] * 3 + ["confirmed"] * 4

    await api.put(f"/appointments/{students[3]['id']}/no-show")
    assert await spots() == (True, 3)
    await studio.book(workshop, emma, start="14:00")
    await studio.book(workshop, emma, start="14:00")
    assert await spots() == (True, 1)
    assert await studio.active_in_session(workshop, emma, "14:00") == 5


# Edge Case 2: lowering capacity below existing bookings


async def test_lowering_capacity_grandfathers_existing_bookings(api: Api) -> None:
    studio = await open_studio(api)
    yoga = await studio.offer("Group Yoga Class", parallel=True, capacity=10)
    john = await studio.hire("John Smith", [yoga])
    booked = [await studio.book(yoga, john) for _ in range(9)]

    changed = await api.patch(f"/services/{yoga['id']}", {"max_parallel_bookings": 8})
    assert changed["max_parallel_bookings"] == 8
    assert changed["warnings"] == [
        "Note: 9 bookings exist but capacity is now 8 (2026-12-07 10:00 John Smith)"
    ]
    assert await studio.active_in_session(yoga, john, "10:00") == 9

    refused = await studio.book(yoga, john, expect=409)
    assert (refused["code"], refused["current_bookings"], refused["max_capacity"]) == (
        "capacity_reached",
        9,
        8,
    )
    await api.cancel(booked[0])
    await studio.book(yoga, john, expect=409)
    await api.cancel(booked[1])
    await studio.book(yoga, john)
    assert await studio.active_in_session(yoga, john, "10:00") == 8


async def test_capacity_change_without_overfull_sessions_has_no_warnings(api: Api) -> None:
    studio = await open_studio(api)
    yoga = await studio.offer("Group Yoga Class", parallel=True, capacity=10)
    john = await studio.hire("John Smith", [yoga])
    await studio.book(yoga, john)
    changed = await api.patch(f"/services/{yoga['id']}", {"max_parallel_bookings": 8})
    assert changed["warnings"] == []
