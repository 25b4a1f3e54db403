"""One business never sees or touches another's catalog: foreign ids look unknown."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.scenarios import Studio, open_studio
from tests.support import Api

UNKNOWN_ID = "0123456789abcdef01234567"
TIME_OFF = {"start": "2026-12-24T00:00", "end": "2026-12-27T00:00", "reason": "Holiday"}


async def _studio(client: httpx.AsyncClient, name: str) -> Studio:
    """A yoga class, its teacher (off at Christmas) and a regular customer."""
    studio = await open_studio(Api(client), name)
    yoga = await studio.offer("Group Yoga Class", key="yoga", parallel=True, capacity=10)
    teacher = await studio.hire(f"{name} Teacher", [yoga], key="teacher")
    await studio.customer(f"{name} Regular", key="regular")
    await studio.give_time_off(teacher, **TIME_OFF)
    return studio


@pytest.fixture
async def mine(client: httpx.AsyncClient) -> Studio:
    return await _studio(client, "Lotus Yoga")


@pytest.fixture
async def theirs(client: httpx.AsyncClient) -> Studio:
    return await _studio(client, "Rival Fitness")


async def _same_as_unknown(
    api: Api, method: str, foreign_path: str, unknown_path: str, body: Any = None
) -> dict[str, Any]:
    foreign = await api.request(method, foreign_path, body)
    unknown = await api.request(method, unknown_path, body)
    assert foreign.status_code == 404, f"{method} {foreign_path}: {foreign.text}"
    assert unknown.status_code == 404, f"{method} {unknown_path}: {unknown.text}"
    assert foreign.json() == unknown.json()
    return dict(foreign.json())


@pytest.mark.parametrize(
    ("collection", "attribute", "patch"),
    [
        ("outlets", "outlet", {"name": "Taken Over"}),
        ("services", "yoga", {"name": "Taken Over"}),
        ("staff", "teacher", {"name": "Taken Over"}),
        ("customers", "regular", {"name": "Taken Over"}),
    ],
)
async def test_another_tenants_catalog_item_is_not_found(
    mine: Studio, theirs: Studio, collection: str, attribute: str, patch: dict[str, Any]
) -> None:
    foreign = getattr(theirs, attribute)
    foreign_path = f"/{collection}/{foreign['id']}"
    unknown_path = f"/{collection}/{UNKNOWN_ID}"
    body = await _same_as_unknown(mine.api, "GET", foreign_path, unknown_path)
    assert body["code"] == "not_found"
    await _same_as_unknown(mine.api, "PATCH", foreign_path, unknown_path, patch)
    # The owner still sees the item unchanged.
    assert await theirs.api.get(foreign_path) == foreign


async def test_another_tenants_staff_time_off_is_not_found(mine: Studio, theirs: Studio) -> None:
    their_staff = theirs.teacher["id"]
    await _same_as_unknown(
        mine.api, "GET", f"/staff/{their_staff}/time-off", f"/staff/{UNKNOWN_ID}/time-off"
    )
    await _same_as_unknown(
        mine.api,
        "POST",
        f"/staff/{their_staff}/time-off",
        f"/staff/{UNKNOWN_ID}/time-off",
        TIME_OFF,
    )
    their_time_off = theirs.time_off[0]["id"]
    # Their staff member with their time off, and my staff member with their time off.
    await _same_as_unknown(
        mine.api,
        "DELETE",
        f"/staff/{their_staff}/time-off/{their_time_off}",
        f"/staff/{their_staff}/time-off/{UNKNOWN_ID}",
    )
    await _same_as_unknown(
        mine.api,
        "DELETE",
        f"/staff/{mine.teacher['id']}/time-off/{their_time_off}",
        f"/staff/{mine.teacher['id']}/time-off/{UNKNOWN_ID}",
    )
    listed = await theirs.api.get(f"/staff/{their_staff}/time-off")
    assert [item["id"] for item in listed["items"]] == [their_time_off]


async def test_time_off_of_another_staff_member_is_not_deleted_through_this_one(
    mine: Studio,
) -> None:
    colleague = await mine.hire("Colleague", [mine.yoga])
    await mine.api.request(
        "DELETE", f"/staff/{colleague['id']}/time-off/{mine.time_off[0]['id']}", expect=404
    )
    listed = await mine.api.get(f"/staff/{mine.teacher['id']}/time-off")
    assert listed["total"] == 1


async def test_another_tenants_ids_in_a_body_are_invalid_input(
    mine: Studio, theirs: Studio
) -> None:
    create = {"name": "Newcomer", "outlet_id": theirs.outlet["id"], "service_ids": []}
    refused = await mine.api.post("/staff", create, expect=422)
    assert refused["field"] == "outlet_id"
    assert "outlet_id" in refused["detail"]
    unknown = await mine.api.post("/staff", {**create, "outlet_id": UNKNOWN_ID}, expect=422)
    assert unknown == refused

    create = {
        "name": "Newcomer",
        "outlet_id": mine.outlet["id"],
        "service_ids": [mine.yoga["id"], theirs.yoga["id"]],
    }
    refused = await mine.api.post("/staff", create, expect=422)
    assert refused["field"] == "service_ids"
    assert "service_ids" in refused["detail"]

    staff_path = f"/staff/{mine.teacher['id']}"
    refused = await mine.api.patch(staff_path, {"outlet_id": theirs.outlet["id"]}, expect=422)
    assert refused["field"] == "outlet_id"
    refused = await mine.api.patch(staff_path, {"service_ids": [theirs.yoga["id"]]}, expect=422)
    assert refused["field"] == "service_ids"
    assert await mine.api.get(staff_path) == mine.teacher
    assert (await mine.api.get("/staff"))["total"] == 1


async def test_lists_show_only_the_callers_own_rows(mine: Studio, theirs: Studio) -> None:
    for collection, attribute in (
        ("outlets", "outlet"),
        ("services", "yoga"),
        ("staff", "teacher"),
        ("customers", "regular"),
    ):
        for studio in (mine, theirs):
            listed = await studio.api.get(f"/{collection}", params={"limit": 500})
            assert listed == {"items": [getattr(studio, attribute)], "total": 1}, collection
    by_foreign_outlet = await mine.api.get("/staff", params={"outlet_id": theirs.outlet["id"]})
    assert by_foreign_outlet["items"] == []
    assert by_foreign_outlet["total"] == 0
    searched = await mine.api.get("/customers", params={"q": "Rival"})
    assert searched == {"items": [], "total": 0}
    # Both businesses may use the same service slug.
    assert mine.yoga["slug"] == theirs.yoga["slug"] == "group-yoga-class"
