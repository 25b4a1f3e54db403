"""Outlets, services, staff (hours and time off) and customers, as a client sees them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support import Api


@pytest.fixture
async def owner(api: Api) -> Api:
    await api.signup()
    return api


# Outlets


async def test_an_outlet_is_created_read_and_renamed(owner: Api) -> None:
    created = await owner.post(
        "/outlets", {"name": " Main Studio ", "timezone": "Asia/Kolkata", "address": "1 High St"}
    )
    assert created == {
        "id": created["id"],
        "name": "Main Studio",
        "timezone": "Asia/Kolkata",
        "address": "1 High St",
    }
    assert await owner.get(f"/outlets/{created['id']}") == created
    renamed = await owner.patch(f"/outlets/{created['id']}", {"name": "Riverside"})
    assert renamed == {**created, "name": "Riverside"}
    cleared = await owner.patch(f"/outlets/{created['id']}", {"address": None})
    assert cleared == {**created, "name": "Riverside", "address": None}
    await owner.patch(f"/outlets/{created['id']}", {"timezone": None}, expect=422)
    assert await owner.get(f"/outlets/{created['id']}") == cleared


# Services


async def test_a_service_reads_back_with_its_defaults(owner: Api) -> None:
    created = await owner.post("/services", {"name": "Group Yoga Class", "duration": 45})
    assert created == {
        "id": created["id"],
        "name": "Group Yoga Class",
        "slug": "group-yoga-class",
        "category": None,
        "description": None,
        "duration": 45,
        "pricing": None,
        "allow_parallel_bookings": False,
        "max_parallel_bookings": 1,
        "waitlist_enabled": False,
        "waitlist_limit": None,
        "slot_interval": 45,
        "booking_mode": "open",
        "active": True,
    }
    assert await owner.get(f"/services/{created['id']}") == created


async def test_service_slugs_are_derived_and_unique_per_tenant(owner: Api) -> None:
    first = await owner.service("Hot Yoga!")
    second = await owner.service("Hot  yoga")
    assert first["slug"] == "hot-yoga"
    assert second["slug"] not in ("hot-yoga", "")
    chosen = await owner.service("Pilates", slug="mat-class")
    assert chosen["slug"] == "mat-class"
    taken = await owner.post(
        "/services", {"name": "Other", "duration": 30, "slug": "mat-class"}, expect=409
    )
    assert taken["code"] == "slug_taken"
    await owner.patch(f"/services/{first['id']}", {"slug": "mat-class"}, expect=409)
    # Keeping its own slug is not a clash.
    await owner.patch(f"/services/{chosen['id']}", {"slug": "mat-class"})
    await owner.post("/services", {"name": "Bad", "duration": 30, "slug": "Not A Slug"}, expect=422)


async def test_the_brief_price_shorthand_is_a_fixed_price_in_the_tenant_currency(
    api: Api,
) -> None:
    await api.signup("Euro Spa", currency="EUR")
    massage = await api.service("Massage", price=2500)
    assert massage["pricing"] == {"type": "FIXED", "base_price": 2500, "currency": "EUR"}
    explicit = await api.service(
        "Sauna", pricing={"type": "FIXED", "base_price": 0, "currency": "GBP"}
    )
    assert explicit["pricing"] == {"type": "FIXED", "base_price": 0, "currency": "GBP"}
    both = {"name": "X", "duration": 30, "price": 1, "pricing": explicit["pricing"]}
    await api.post("/services", both, expect=422)
    repriced = await api.patch(f"/services/{explicit['id']}", {"price": 900})
    assert repriced["pricing"] == {"type": "FIXED", "base_price": 900, "currency": "EUR"}
    free = await api.patch(f"/services/{explicit['id']}", {"pricing": None})
    assert free["pricing"] is None


async def test_a_service_patch_changes_only_the_fields_sent(owner: Api) -> None:
    created = await owner.service(
        "Group Yoga Class",
        parallel=True,
        capacity=10,
        duration=60,
        slot_interval=30,
        category="Yoga",
        description="Bring a mat",
        price=1500,
    )
    patched = await owner.patch(f"/services/{created['id']}", {"max_parallel_bookings": 12})
    assert patched == {**created, "max_parallel_bookings": 12, "warnings": []}
    patched = await owner.patch(f"/services/{created['id']}", {"category": None, "active": False})
    assert patched == {
        **created,
        "max_parallel_bookings": 12,
        "category": None,
        "active": False,
        "warnings": [],
    }
    for required in (
        "name",
        "duration",
        "allow_parallel_bookings",
        "max_parallel_bookings",
        "slot_interval",
        "active",
        "slug",
    ):
        refused = await owner.patch(f"/services/{created['id']}", {required: None}, expect=422)
        assert required in str(refused["detail"])
    await owner.patch(f"/services/{created['id']}", {"colour": "red"}, expect=422)
    unchanged = await owner.get(f"/services/{created['id']}")
    assert unchanged == {k: v for k, v in patched.items() if k != "warnings"}


# Staff


async def test_staff_are_created_with_services_and_working_hours(owner: Api) -> None:
    outlet = await owner.outlet()
    yoga = await owner.service("Yoga")
    pilates = await owner.service("Pilates")
    body = {
        "name": "John Smith",
        "outlet_id": outlet["id"],
        "service_ids": [yoga["id"], pilates["id"], yoga["id"]],
        "working_hours": {
            "monday": [{"start": "14:00", "end": "18:00"}, {"start": "09:00", "end": "12:30"}],
            "friday": [{"start": "09:00:00", "end": "17:00:00"}],
            "sunday": [],
        },
    }
    created = await owner.post("/staff", body)
    assert created["name"] == "John Smith"
    assert created["outlet_id"] == outlet["id"]
    assert created["active"] is True
    assert sorted(created["service_ids"]) == sorted([yoga["id"], pilates["id"]])
    assert created["working_hours"]["monday"] == [
        {"start": "09:00:00", "end": "12:30:00"},
        {"start": "14:00:00", "end": "18:00:00"},
    ]
    assert created["working_hours"]["friday"] == [{"start": "09:00:00", "end": "17:00:00"}]
    assert not created["working_hours"].get("tuesday")
    assert not created["working_hours"].get("sunday")
    fetched = await owner.get(f"/staff/{created['id']}")
    assert fetched["working_hours"] == created["working_hours"]
    assert sorted(fetched["service_ids"]) == sorted(created["service_ids"])


async def test_a_staff_patch_changes_only_the_fields_sent(owner: Api) -> None:
    outlet = await owner.outlet()
    second_outlet = await owner.outlet("Riverside")
    yoga = await owner.service("Yoga")
    pilates = await owner.service("Pilates")
    staff = await owner.staff("Jane", outlet, [yoga])
    path = f"/staff/{staff['id']}"
    renamed = await owner.patch(path, {"name": "Jane Doe"})
    assert renamed == {**staff, "name": "Jane Doe"}
    moved = await owner.patch(
        path, {"outlet_id": second_outlet["id"], "service_ids": [pilates["id"]]}
    )
    assert moved == {
        **staff,
        "name": "Jane Doe",
        "outlet_id": second_outlet["id"],
        "service_ids": [pilates["id"]],
    }
    hours = {"tuesday": [{"start": "10:00", "end": "11:00"}]}
    rehoused = await owner.patch(path, {"working_hours": hours})
    assert rehoused["working_hours"]["tuesday"] == [{"start": "10:00:00", "end": "11:00:00"}]
    assert not rehoused["working_hours"].get("monday")
    assert rehoused["service_ids"] == [pilates["id"]]
    for required in ("name", "outlet_id", "working_hours", "active", "service_ids"):
        refused = await owner.patch(path, {required: None}, expect=422)
        assert required in str(refused["detail"])
    assert await owner.get(path) == rehoused


async def test_staff_are_listed_by_outlet(owner: Api) -> None:
    main = await owner.outlet("Main")
    river = await owner.outlet("Riverside")
    yoga = await owner.service("Yoga")
    anna = await owner.staff("Anna", main, [yoga])
    bob = await owner.staff("Bob", river, [yoga])
    cleo = await owner.staff("Cleo", main, [])
    everyone = await owner.get("/staff")
    assert everyone["total"] == 3
    assert [s["id"] for s in everyone["items"]] == [anna["id"], bob["id"], cleo["id"]]
    at_main = await owner.get("/staff", params={"outlet_id": main["id"]})
    assert at_main == {"items": [anna, cleo], "total": 2}
    at_river = await owner.get("/staff", params={"outlet_id": river["id"]})
    assert at_river == {"items": [bob], "total": 1}


async def test_staff_time_off_is_added_listed_and_removed(owner: Api) -> None:
    outlet = await owner.outlet()
    staff = await owner.staff("John", outlet, [])
    path = f"/staff/{staff['id']}/time-off"
    later = await owner.post(path, {"start": "2026-12-24T09:00", "end": "2026-12-24T17:00"})
    sooner = await owner.post(
        path, {"start": "2026-12-10T12:00:00.250", "end": "2026-12-11T12:00", "reason": "Dentist"}
    )
    assert (sooner["start"], sooner["end"]) == ("2026-12-10T12:00:00", "2026-12-11T12:00:00")
    assert later["staff_id"] == staff["id"]
    assert later["start"] == "2026-12-24T09:00:00"
    assert later["end"] == "2026-12-24T17:00:00"
    assert later["reason"] is None
    assert sooner["reason"] == "Dentist"
    # No class is scheduled then, so nothing to warn of (the timetable's tests warn).
    assert sooner.pop("warnings") == later.pop("warnings") == []
    listed = await owner.get(path)
    assert listed == {"items": [sooner, later], "total": 2}
    await owner.request("DELETE", f"{path}/{sooner['id']}", expect=204)
    await owner.request("DELETE", f"{path}/{sooner['id']}", expect=404)
    assert await owner.get(path) == {"items": [later], "total": 1}
    for bad in (
        {"start": "2026-12-24T17:00", "end": "2026-12-24T09:00"},
        {"start": "2026-12-24T09:00", "end": "2026-12-24T09:00"},
        {"start": "2026-12-24T09:00+01:00", "end": "2026-12-24T17:00+01:00"},
        {"start": "tomorrow", "end": "2026-12-24T17:00"},
        {"start": "2026-12-24T09:00"},
    ):
        await owner.post(path, bad, expect=422)


# Customers


async def test_customers_are_found_by_name_email_or_phone(owner: Api) -> None:
    ana = await owner.post(
        "/customers", {"name": "Ana Lima", "email": "Ana@Example.com", "phone": "+44 7700 900123"}
    )
    assert ana == {
        "id": ana["id"],
        "name": "Ana Lima",
        "email": "ana@example.com",
        "phone": "+44 7700 900123",
    }
    bob = await owner.post("/customers", {"name": "Bob 100% Real"})
    assert bob["email"] is None and bob["phone"] is None

    async def search(q: str) -> list[str]:
        found = await owner.get("/customers", params={"q": q})
        assert found["total"] == len(found["items"])
        return [c["name"] for c in found["items"]]

    assert await search("lima") == ["Ana Lima"]
    assert await search("ANA@EXAMPLE") == ["Ana Lima"]
    assert await search("900123") == ["Ana Lima"]
    assert await search("100%") == ["Bob 100% Real"]
    assert await search("%") == ["Bob 100% Real"]
    assert await search("_") == []
    assert await search("nobody") == []
    assert await search("") == ["Ana Lima", "Bob 100% Real"]


async def test_a_customer_patch_changes_only_the_fields_sent(owner: Api) -> None:
    ana = await owner.post(
        "/customers", {"name": "Ana", "email": "ana@example.com", "phone": "0123 456"}
    )
    path = f"/customers/{ana['id']}"
    assert await owner.patch(path, {"phone": None}) == {**ana, "phone": None}
    assert await owner.patch(path, {"email": "ANA@new.example.com"}) == {
        **ana,
        "phone": None,
        "email": "ana@new.example.com",
    }
    refused = await owner.patch(path, {"name": None}, expect=422)
    assert "name" in str(refused["detail"])
    await owner.patch(path, {"email": "not-an-email"}, expect=422)
    assert (await owner.get(path))["name"] == "Ana"


# Lists


@pytest.mark.parametrize("collection", ["outlets", "services", "customers"])
async def test_lists_page_with_limit_and_offset(owner: Api, collection: str) -> None:
    names = [f"Item {n}" for n in range(5)]
    bodies: dict[str, Any] = {
        "outlets": {"timezone": "Europe/London"},
        "services": {"duration": 30},
        "customers": {},
    }
    created = [
        await owner.post(f"/{collection}", {"name": name, **bodies[collection]}) for name in names
    ]
    everything = await owner.get(f"/{collection}")
    assert everything == {"items": created, "total": 5}
    page = await owner.get(f"/{collection}", params={"limit": 2, "offset": 1})
    assert page == {"items": created[1:3], "total": 5}
    past_the_end = await owner.get(f"/{collection}", params={"limit": 2, "offset": 10})
    assert past_the_end == {"items": [], "total": 5}
    await owner.get(f"/{collection}", params={"limit": 500})
    await owner.get(f"/{collection}", params={"offset": -1}, expect=422)


async def test_services_created_at_once_with_one_name_all_get_their_own_slug(owner: Api) -> None:
    created = await asyncio.gather(
        *(owner.request("POST", "/services", {"name": "Yoga", "duration": 60}) for _ in range(4))
    )
    assert [r.status_code for r in created] == [201] * 4, [r.text for r in created]
    slugs = {r.json()["slug"] for r in created}
    assert len(slugs) == 4
    assert "yoga" in slugs
