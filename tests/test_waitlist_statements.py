"""Speed by design: freeing a spot costs a fixed number of statements, however many
customers wait for it and however many of them it promotes."""

from __future__ import annotations

from fastapi import FastAPI

from tests.scenarios import Studio, open_studio
from tests.support import Api, Json, counted_statements


async def full_class(api: Api, waiting: int) -> tuple[Studio, list[Json]]:
    """A yoga class of 3 spots, full, with ``waiting`` customers in line."""
    studio = await open_studio(api)
    yoga = await studio.offer(
        "Group Yoga", key="yoga", parallel=True, capacity=3, waitlist_enabled=True
    )
    john = await studio.hire("John Smith", [yoga], key="john")
    attendees = [await studio.book(yoga, john, start="10:00") for _ in range(3)]
    for _ in range(waiting):
        await studio.join_waitlist(yoga, john, start="10:00")
    return studio, attendees


async def statements_of_cancel(app: FastAPI, studio: Studio, attendee: Json) -> list[str]:
    async with counted_statements(app) as statements:
        await studio.api.cancel(attendee)
    return statements


async def test_a_cancel_costs_the_same_whether_one_or_twelve_wait(api: Api, app: FastAPI) -> None:
    one_waiting, attendees = await full_class(api, waiting=1)
    promoting_one = await statements_of_cancel(app, one_waiting, attendees[0])

    twelve_waiting, attendees = await full_class(api, waiting=12)
    promoting_of_twelve = await statements_of_cancel(app, twelve_waiting, attendees[0])

    assert len(promoting_of_twelve) == len(promoting_one), (promoting_one, promoting_of_twelve)
    entries = await twelve_waiting.api.get("/waitlist", params={"status": "promoted"})
    assert entries["total"] == 1


async def test_a_cancel_with_nobody_waiting_reads_the_line_once_and_stops(
    api: Api, app: FastAPI
) -> None:
    nobody_waiting, attendees = await full_class(api, waiting=0)
    plain = await statements_of_cancel(app, nobody_waiting, attendees[0])

    one_waiting, attendees = await full_class(api, waiting=1)
    promoting = await statements_of_cancel(app, one_waiting, attendees[0])

    # The line is read once; promotion then reads the class, its teacher, their lines and
    # hours, and writes the booking, its line, the entry, its history and the outbox.
    assert (
        sum("waitlist_entries" in s and s.lstrip().upper().startswith("SELECT") for s in plain) == 1
    )
    assert len(promoting) - len(plain) <= 10, (plain, promoting)
