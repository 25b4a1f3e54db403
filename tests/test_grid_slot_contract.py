"""One slot type: the grid endpoint's fast JSON, its OpenAPI response model and the public
page all come from the slots the grid computes, and agree field for field."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, time
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import TypeAdapter

from slotbook.availability import schemas
from slotbook.availability import service as availability
from slotbook.clock import FixedClock
from tests.support import MONDAY, Api

GRID = "/availability/availability-grid"
CONTRACT_FIELDS = [
    "start_time",
    "end_time",
    "staff_id",
    "staff_name",
    "is_available",
    "allows_parallel_bookings",
    "available_capacity",
    "max_capacity",
    "waitlist_length",
]
TRICKY_NAME = 'Zoë "Z" O\'Neil \\ </script>\u2028\t2'  # escaped on the wire, intact read back
Json = dict[str, Any]


async def busy_studio(api: Api) -> tuple[str, Json, Json, Json]:
    """A class and a one-to-one service, with every kind of verdict on one Monday."""
    await api.signup()
    me = await api.get("/auth/me")
    outlet = await api.outlet()
    yoga = await api.service("Group Yoga", parallel=True, capacity=3, slot_interval=30)
    haircut = await api.service("Haircut", duration=45)
    ann = await api.staff("Ann", outlet, [yoga, haircut])
    mornings = {"monday": [{"start": "09:00", "end": "12:00"}]}
    zoe = await api.staff(TRICKY_NAME, outlet, [yoga], mornings)
    for _ in range(3):
        await api.book(outlet, yoga, ann, start="10:00")  # full
    await api.book(outlet, yoga, zoe, start="10:00")  # 2 of 3 left
    await api.book(outlet, haircut, ann, start="14:00")  # Ann busy with another service
    return me["tenant_id"], outlet, yoga, zoe


def values(model: Any) -> Json:
    """A validated slot's fields as Python values (``model_dump`` gives times as text)."""
    return {name: getattr(model, name) for name in type(model).model_fields}


def grid_params(outlet: Json, service: Json, start: str, end: str) -> Json:
    return {
        "outlet_id": outlet["id"],
        "service_id": service["id"],
        "start_date": start,
        "end_date": end,
    }


async def test_the_fast_json_validates_against_the_response_model_field_for_field(
    api: Api, app: FastAPI, clock: FixedClock
) -> None:
    tenant_id, outlet, yoga, _zoe = await busy_studio(api)
    params = grid_params(outlet, yoga, MONDAY, "2026-12-13")
    response = await api.request("GET", GRID, params=params, expect=200)
    raw = json.loads(response.content)

    adapter = TypeAdapter(schemas.AvailabilityGrid)
    validated = adapter.validate_json(response.content)
    assert adapter.dump_python(validated, mode="json") == raw  # nothing lost or added
    assert list(validated) == [date(2026, 12, 7 + offset) for offset in range(7)]

    async with app.state.database.transaction(write=False) as session:
        computed = await availability.availability_grid(
            session,
            tenant_id,
            outlet_id=outlet["id"],
            service_id=yoga["id"],
            start_date=date(2026, 12, 7),
            end_date=date(2026, 12, 13),
            staff_id=None,
            now=clock.now(),
        )
    assert list(computed) == list(validated)
    verdicts = set()
    for day, models in validated.items():
        slots = list(computed[day])
        assert len(slots) == len(models) == len(raw[day.isoformat()])
        for slot, model, wire in zip(slots, models, raw[day.isoformat()], strict=True):
            assert list(wire) == CONTRACT_FIELDS  # in the documented order
            assert list(slot.as_dict()) == CONTRACT_FIELDS
            assert values(model) == slot.as_dict()  # the model's values are the slot's
            verdicts.add(tuple(wire.values())[4:])
    monday = raw[MONDAY]
    assert {s["staff_name"] for s in monday} == {"Ann", TRICKY_NAME}
    # Free, partly booked, and full or the teacher busy otherwise all went over the wire.
    assert {
        (True, True, 3, 3, None),
        (True, True, 2, 3, None),
        (False, True, 0, 3, None),
    } <= verdicts


async def test_one_to_one_slots_and_empty_days_validate_too(api: Api) -> None:
    await api.signup()
    outlet = await api.outlet()
    trim = await api.service("Beard trim", duration=30)
    bo = await api.staff("Bo", outlet, [trim], {"tuesday": [{"start": "09:00", "end": "10:00"}]})
    await api.book(outlet, trim, bo, date="2026-12-08", start="09:30")
    response = await api.request(
        "GET", GRID, params=grid_params(outlet, trim, MONDAY, "2026-12-08"), expect=200
    )
    validated = TypeAdapter(schemas.AvailabilityGrid).validate_json(response.content)
    assert validated[date(2026, 12, 7)] == []
    assert [values(slot) for slot in validated[date(2026, 12, 8)]] == [
        {
            "start_time": start,
            "end_time": end,
            "staff_id": bo["id"],
            "staff_name": "Bo",
            "is_available": available,
            "allows_parallel_bookings": False,
            "available_capacity": None,
            "max_capacity": None,
            "waitlist_length": None,
        }
        for start, end, available in [
            (time(9, 0), time(9, 30), True),
            (time(9, 30), time(10, 0), False),
        ]
    ]


def test_the_openapi_schema_documents_exactly_the_slot_fields(app: FastAPI) -> None:
    spec = app.openapi()
    answer = spec["paths"]["/api/v1/availability/availability-grid"]["get"]["responses"]["200"]
    grid_schema = answer["content"]["application/json"]["schema"]
    assert grid_schema["additionalProperties"]["items"]["$ref"].endswith("/AvailabilitySlot")
    slot_schema = spec["components"]["schemas"]["AvailabilitySlot"]
    assert list(slot_schema["properties"]) == CONTRACT_FIELDS
    assert slot_schema["required"] == CONTRACT_FIELDS
    part_fields = [f for part in schemas.SLOT_PARTS for f in dataclasses.fields(part) if f.init]
    assert [f.name for f in part_fields] == CONTRACT_FIELDS
    assert slot_schema["properties"]["end_time"]["description"]
    assert slot_schema["properties"]["start_time"]["pattern"] == r"^\d{2}:\d{2}(:\d{2})?$"


async def test_the_public_page_shows_the_grids_own_slots(
    api: Api, client: httpx.AsyncClient
) -> None:
    _tenant_id, outlet, yoga, zoe = await busy_studio(api)
    slug = (await api.get("/auth/me"))["tenant_slug"]
    grid = await api.get(GRID, params=grid_params(outlet, yoga, MONDAY, MONDAY))
    page = await client.get(
        f"/api/v1/public/{slug}/outlets/{outlet['id']}/slots",
        params={"service_id": yoga["id"], "start_date": MONDAY, "days": 1},
    )
    assert page.status_code == 200, page.text
    shown = page.json()["days"][0]["slots"]
    assert [(s["start_time"], s["staff_id"]) for s in shown] == [
        (s["start_time"], s["staff_id"]) for s in grid[MONDAY]
    ]
    for public_slot, grid_slot in zip(shown, grid[MONDAY], strict=True):
        assert public_slot["end_time"] == grid_slot["end_time"]
        assert public_slot["staff_name"] == grid_slot["staff_name"]
        assert public_slot["bookable"] == grid_slot["is_available"]
        assert public_slot["spots_left"] == grid_slot["available_capacity"]
        assert public_slot["capacity"] == grid_slot["max_capacity"]
    zoe_at_ten = next(
        s for s in shown if s["staff_id"] == zoe["id"] and s["start_time"] == "10:00:00"
    )
    assert zoe_at_ten["label"] == "2/3 spots left"
