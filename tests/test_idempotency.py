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
from tests.scenarios import Studio, open_studio
from tests.support import CONFLICT_DETAIL, Api
from tests.test_races import (
    WORKERS,
    race_day,
    racing_client,
    send_until_answered,
    started,
    stored_active_lines,
    warm_connections,
)


async def front_desk(api: Api, name: str = "Lotus Yoga") -> Studio:
    """A front desk of one business: John Smith gives private sessions to a regular."""
    studio = await open_studio(api, name)
    session = await studio.offer("Private Session", key="session")
    await studio.hire("John Smith", [session], key="john")
    await studio.customer(key="regular")
    return studio


async def book_with_key(
    desk: Studio, key: str, *, start: str = "10:00", **extra: Any
) -> httpx.Response:
    """The regular's private session with John, sent with an ``Idempotency-Key``."""
    body = desk.booking(desk.session, desk.john, desk.regular, start=start, **extra)
    return await desk.api.request("POST", "/appointments", body, headers={"Idempotency-Key": key})


async def appointments(desk: Studio) -> list[dict[str, Any]]:
    page = await desk.api.get("/appointments", params={"limit": 500})
    return list(page["items"])


async def test_a_retried_booking_with_the_same_key_books_once_and_gets_the_first_answer(
    api: Api,
) -> None:
    desk = await front_desk(api)
    first = await book_with_key(desk, "booking-0001", notes="window seat")
    assert first.status_code == 201, first.text
    again = await book_with_key(desk, "booking-0001", notes="window seat")
    assert again.status_code == 201
    assert again.json() == first.json()
    booked = await appointments(desk)
    assert [a["id"] for a in booked] == [first.json()["id"]]
    history = await api.get(f"/appointments/{first.json()['id']}/history")
    assert [e["type"] for e in history["items"]] == ["created"]


async def test_a_refusal_is_replayed_for_its_key_even_after_the_slot_frees_up(api: Api) -> None:
    desk = await front_desk(api)
    blocker = await desk.book(desk.session, desk.john, start="10:00")
    refused = await book_with_key(desk, "try-ten", start="10:00")
    assert refused.status_code == 409
    assert refused.json()["detail"] == CONFLICT_DETAIL
    assert refused.json()["code"] == "slot_taken"

    await api.cancel(blocker)
    replayed = await book_with_key(desk, "try-ten", start="10:00")
    assert (replayed.status_code, replayed.json()) == (409, refused.json())
    # A new key is a new request: now the slot is free.
    fresh = await book_with_key(desk, "try-ten-again", start="10:00")
    assert fresh.status_code == 201, fresh.text
    assert {a["status"] for a in await appointments(desk)} == {"cancelled", "confirmed"}


async def test_the_same_key_with_a_different_request_is_refused_and_changes_nothing(
    api: Api,
) -> None:
    desk = await front_desk(api)
    first = await book_with_key(desk, "booking-0002", start="10:00")
    assert first.status_code == 201
    other = await book_with_key(desk, "booking-0002", start="11:00")
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["detail"]
    also_other = await book_with_key(desk, "booking-0002", start="10:00", notes="changed")
    assert also_other.status_code == 422
    booked = await appointments(desk)
    assert [(a["id"], a["start_time"]) for a in booked] == [(first.json()["id"], "10:00:00")]
    # The key still answers its own request.
    again = await book_with_key(desk, "booking-0002", start="10:00")
    assert (again.status_code, again.json()) == (201, first.json())


async def test_ten_oclock_and_ten_oclock_zero_seconds_are_the_same_request(api: Api) -> None:
    desk = await front_desk(api)
    first = await book_with_key(desk, "booking-0003", start="10:00")
    assert first.status_code == 201
    again = await book_with_key(desk, "booking-0003", start="10:00:00")
    assert (again.status_code, again.json()) == (201, first.json())
    assert len(await appointments(desk)) == 1


async def test_keys_are_per_tenant_so_another_business_can_use_the_same_key(
    api: Api, client: httpx.AsyncClient
) -> None:
    lotus = await front_desk(api, "Lotus Yoga")
    zen = await front_desk(Api(client), "Zen Pilates")
    first = await book_with_key(lotus, "shared-key", start="10:00")
    assert first.status_code == 201
    theirs = await book_with_key(zen, "shared-key", start="10:00")
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["id"] != first.json()["id"]
    assert theirs.json()["outlet_id"] == zen.outlet["id"]
    assert [a["id"] for a in await appointments(zen)] == [theirs.json()["id"]]
    # Neither tenant's use of the key touched the other's answer.
    again = await book_with_key(lotus, "shared-key", start="10:00")
    assert (again.status_code, again.json()) == (201, first.json())
    assert [a["id"] for a in await appointments(lotus)] == [first.json()["id"]]


@pytest.mark.live
async def test_ten_concurrent_retries_with_one_key_through_the_real_server_book_exactly_once(
    backend: str, fresh_database_url: str, tmp_path: Path
) -> None:
    server = LiveServer(fresh_database_url, workers=WORKERS[backend], var_dir=tmp_path / "var")
    with started(server):
        async with racing_client(server.base_url) as http:
            desk = await front_desk(Api(http))
            day = race_day().isoformat()
            headers = {**desk.api.headers, "Idempotency-Key": "checkout-7f3a"}
            body = desk.booking(desk.session, desk.john, desk.regular, date=day)
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
            booked = await appointments(desk)
            assert [a["id"] for a in booked] == [answers[0].json()["id"]]
            stored = await stored_active_lines(fresh_database_url, desk.john["id"])
            assert len(stored) == 1
