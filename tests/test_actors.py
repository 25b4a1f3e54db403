"""Every change names who made it: a signed-in user, or the customer through the public
booking page (never a made-up user)."""

from __future__ import annotations

from fastapi import FastAPI

from tests.scenarios import open_staffed_studio
from tests.support import Api, client_for, public_booking_body


async def test_a_booking_made_on_the_public_page_is_the_customers_own_in_its_history(
    api: Api, app: FastAPI
) -> None:
    place = await open_staffed_studio(api)
    async with client_for(app) as public:
        booked = await public.post(
            f"{place.base}/bookings", json=public_booking_body(place.yoga, place.john)
        )
    assert booked.status_code == 201, booked.text
    [appointment] = (await api.get("/appointments"))["items"]
    created = (await api.get(f"/appointments/{appointment['id']}/history"))["items"][0]
    assert created["type"] == "created"
    assert created["actor"] == "customer"
    assert created["user_id"] is None


async def test_a_receptionists_booking_and_cancel_name_the_receptionist(api: Api) -> None:
    place = await open_staffed_studio(api)
    me = await api.get("/auth/me")
    appointment = await place.book(place.yoga, place.john)
    await api.cancel(appointment)
    history = (await api.get(f"/appointments/{appointment['id']}/history"))["items"]
    assert [(item["type"], item["actor"], item["user_id"]) for item in history] == [
        ("created", "user", me["id"]),
        ("cancelled", "user", me["id"]),
    ]
