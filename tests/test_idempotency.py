"""Idempotent booking: a client that retries with the same ``Idempotency-Key`` books once.

The contract: the same key with the same request (compared after validation) returns the
first answer, whatever it was, and books at most once, also when the repeats arrive
concurrently; the same key with another request is 422; keys are per tenant.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live_server import LiveServer
from tests.support import CONFLICT_DETAIL, MONDAY, Api
from tests.test_races import (
    WORKERS,
    race_day,
    racing_client,
    send_until_answered,
    started,
    stored_active_lines,
    warm_connections,
)


class Desk:
    """A front desk of one business: an outlet, a one-to-one service, a teacher."""

    def __init__(self, api: Api) -> None:
        self.api = api

    async def open(self, name: str = "Lotus Yoga") -> Desk:
        await self.api.signup(business_name=name)
        self.outlet = await self.api.outlet()
        self.service = await self.api.service("Private Session")
        self.staff = await self.api.staff("John Smith", self.outlet, [self.service])
        self.customer = await self.api.customer()
        return self

    def booking(self, start: str = "10:00", day: str = MONDAY, **extra: Any) -> dict[str, Any]:
        return {
            "outlet_id": self.outlet["id"],
            "customer_id": self.customer["id"],
            "appointment_date": day,
            "start_time": start,
            "services": [{"service_id": self.service["id"], "staff_id": self.staff["id"]}],
            **extra,
        }

    async def book(self, body: dict[str, Any], key: str) -> httpx.Response:
        return await self.api.request(
            "POST", "/appointments", body, headers={"Idempotency-Key": key}
        )

    async def appointments(self) -> list[dict[str, Any]]:
        page = await self.api.get("/appointments", params={"limit": 500})
        return list(page["items"])


async def test_a_retried_booking_with_the_same_key_books_once_and_gets_the_first_answer(
    api: Api,
) -> None:
    desk = await Desk(api).open()
    first = await desk.book(desk.booking(notes="window seat"), "booking-0001")
    assert first.status_code == 201, first.text
    again = await desk.book(desk.booking(notes="window seat"), "booking-0001")
    assert again.status_code == 201
    assert again.json() == first.json()
    booked = await desk.appointments()
    assert [a["id"] for a in booked] == [first.json()["id"]]
    history = await api.get(f"/appointments/{first.json()['id']}/history")
    assert [e["type"] for e in history["items"]] == ["created"]


async def test_a_refusal_is_replayed_for_its_key_even_after_the_slot_frees_up(api: Api) -> None:
    desk = await Desk(api).open()
    blocker = await api.book(desk.outlet, desk.service, desk.staff, start="10:00")
    refused = await desk.book(desk.booking("10:00"), "try-ten")
    assert refused.status_code == 409
    assert refused.json()["detail"] == CONFLICT_DETAIL
    assert refused.json()["code"] == "slot_taken"

    await api.cancel(blocker)
    replayed = await desk.book(desk.booking("10:00"), "try-ten")
    assert (replayed.status_code, replayed.json()) == (409, refused.json())
    # A new key is a new request: now the slot is free.
    fresh = await desk.book(desk.booking("10:00"), "try-ten-again")
    assert fresh.status_code == 201, fresh.text
    assert {a["status"] for a in await desk.appointments()} == {"cancelled", "confirmed"}


async def test_the_same_key_with_a_different_request_is_refused_and_changes_nothing(
    api: Api,
) -> None:
    desk = await Desk(api).open()
    first = await desk.book(desk.booking("10:00"), "booking-0002")
    assert first.status_code == 201
    other = await desk.book(desk.booking("11:00"), "booking-0002")
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["detail"]
    also_other = await desk.book(desk.booking("10:00", notes="changed"), "booking-0002")
    assert also_other.status_code == 422
    booked = await desk.appointments()
    assert [(a["id"], a["start_time"]) for a in booked] == [(first.json()["id"], "10:00:00")]
    # The key still answers its own request.
    again = await desk.book(desk.booking("10:00"), "booking-0002")
    assert (again.status_code, again.json()) == (201, first.json())


async def test_ten_oclock_and_ten_oclock_zero_seconds_are_the_same_request(api: Api) -> None:
    desk = await Desk(api).open()
    first = await desk.book(desk.booking("10:00"), "booking-0003")
    assert first.status_code == 201
    again = await desk.book(desk.booking("10:00:00"), "booking-0003")
    assert (again.status_code, again.json()) == (201, first.json())
    assert len(await desk.appointments()) == 1


async def test_keys_are_per_tenant_so_another_business_can_use_the_same_key(
    api: Api, client: httpx.AsyncClient
) -> None:
    lotus = await Desk(api).open("Lotus Yoga")
    zen = await Desk(Api(client)).open("Zen Pilates")
    first = await lotus.book(lotus.booking("10:00"), "shared-key")
    assert first.status_code == 201
    theirs = await zen.book(zen.booking("10:00"), "shared-key")
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["id"] != first.json()["id"]
    assert theirs.json()["outlet_id"] == zen.outlet["id"]
    assert [a["id"] for a in await zen.appointments()] == [theirs.json()["id"]]
    # Neither tenant's use of the key touched the other's answer.
    again = await lotus.book(lotus.booking("10:00"), "shared-key")
    assert (again.status_code, again.json()) == (201, first.json())
    assert [a["id"] for a in await lotus.appointments()] == [first.json()["id"]]


@pytest.mark.live
async def test_ten_concurrent_retries_with_one_key_through_the_real_server_book_exactly_once(
    backend: str, fresh_database_url: str, tmp_path: Path
) -> None:
    server = LiveServer(fresh_database_url, workers=WORKERS[backend], var_dir=tmp_path / "var")
    with started(server):
        async with racing_client(server.base_url) as http:
            desk = await Desk(Api(http)).open()
            day = race_day().isoformat()
            headers = {**desk.api.headers, "Idempotency-Key": "checkout-7f3a"}
            body = desk.booking("10:00", day=day)
            await warm_connections(http, 10)
            go = asyncio.Event()

            async def retry() -> httpx.Response:
                await go.wait()
                response, _ = await send_until_answered(
                    http, "POST", "/api/v1/appointments", body, headers
                )
                return response

            tasks = [asyncio.create_task(retry()) for _ in range(10)]
            await asyncio.sleep(0.05)
            go.set()
            answers = await asyncio.gather(*tasks)

            assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
            assert all(a.json() == answers[0].json() for a in answers)
            assert len({a.json()["id"] for a in answers}) == 1
            booked = await desk.appointments()
            assert [a["id"] for a in booked] == [answers[0].json()["id"]]
            stored = await stored_active_lines(fresh_database_url, desk.staff["id"])
            assert len(stored) == 1
