"""Races through the real server: many clients at once never overbook a session.

The races run against ``slotbook serve`` in processes of its own (4 workers on
PostgreSQL, 2 on SQLite) on a database of its own, one server per backend for the module
(each test signs up a business of its own; the control starts its own unsafe server).
Each race opens one HTTP connection per client beforehand and then releases all
requests at the same instant. The server runs on the real clock,
so the bookings are made for a Monday a couple of months ahead.

A 503 with ``Retry-After`` is the contract's answer when a lock cannot be had in time;
on a loaded machine a few may appear. A client would retry them, and so do these tests
(counting them), before asserting the exact outcome.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from slotbook.booking.models import AppointmentLine
from tests.databases import POSTGRES_ENV, PostgresDatabase, SqliteTemplate, postgres_admin_url
from tests.live_server import LiveServer
from tests.scenarios import Studio, open_studio
from tests.support import CONFLICT_DETAIL, Api

pytestmark = [pytest.mark.live, pytest.mark.db]

T = TypeVar("T")
WORKERS = {"sqlite": 2, "postgres": 4}
ACTIVE = ("pending", "confirmed", "completed")
RETRY_ROUNDS = 20
TEST_SECONDS = 60  # each test, server start to stop


def race_day() -> date:
    """A Monday at least eight weeks from today (the live server uses the real clock)."""
    day = datetime.now(UTC).date() + timedelta(weeks=8)
    return day + timedelta(days=(7 - day.weekday()) % 7)


@dataclass
class RaceResult:
    responses: list[httpx.Response]
    first_statuses: Counter[int]
    busy: int  # 503 answers (with Retry-After) that were retried
    seconds: float

    def with_status(self, status: int) -> list[httpx.Response]:
        return [r for r in self.responses if r.status_code == status]

    def summary(self) -> str:
        final = Counter(r.status_code for r in self.responses)
        return (
            f"{len(self.responses)} requests in {self.seconds:.2f}s: first answers "
            f"{dict(sorted(self.first_statuses.items()))}, after retrying 503s "
            f"{dict(sorted(final.items()))}, 503s retried {self.busy}"
        )


@dataclass(frozen=True)
class RunningServer:
    backend: str
    database_url: str
    base_url: str


@contextmanager
def started(server: LiveServer) -> Iterator[LiveServer]:
    with server:
        yield server


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def race_server(
    request: pytest.FixtureRequest,
    sqlite_template: SqliteTemplate,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[RunningServer]:
    """One real server per backend for this module's races, on a database of its own;
    every test signs up a business of its own on it."""
    backend = str(request.param)
    admin_url = postgres_admin_url()
    if backend == "postgres" and admin_url is None:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (.ci/run sets it)")
    var_dir = tmp_path_factory.mktemp(f"races-{backend}")
    database = None if backend == "sqlite" else PostgresDatabase(str(admin_url))
    if database is None:
        url = sqlite_template.fresh_url()
    else:
        await database.create()
        url = database.url
    try:
        with started(LiveServer(url, workers=WORKERS[backend], var_dir=var_dir)) as server:
            yield RunningServer(backend, url, server.base_url)
    finally:
        if database is not None:
            await database.drop()


@asynccontextmanager
async def racing_client(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client able to hold a connection per racing request. The test runs inside it and
    fails (rather than hangs) after ``TEST_SECONDS``."""
    # Idle connections are dropped after 2 s, before the server's 5 s keep-alive closes
    # them under a request; a failed connect (nothing sent) is retried.
    limits = httpx.Limits(max_connections=260, max_keepalive_connections=260, keepalive_expiry=2)
    transport = httpx.AsyncHTTPTransport(limits=limits, retries=2)
    async with (
        asyncio.timeout(TEST_SECONDS),
        httpx.AsyncClient(
            base_url=base_url, transport=transport, timeout=httpx.Timeout(TEST_SECONDS)
        ) as http,
    ):
        yield http


async def gather_limited(coroutines: Iterable[Awaitable[T]], limit: int = 8) -> list[T]:
    semaphore = asyncio.Semaphore(limit)

    async def one(coroutine: Awaitable[T]) -> T:
        async with semaphore:
            return await coroutine

    return list(await asyncio.gather(*(one(c) for c in coroutines)))


async def send_until_answered(
    http: httpx.AsyncClient, method: str, path: str, body: Any, headers: dict[str, str]
) -> tuple[httpx.Response, int]:
    """Send, retrying a 503 after its Retry-After as a client would; returns the 503 count."""
    for busy in range(RETRY_ROUNDS):
        response = await http.request(method, path, json=body, headers=headers)
        if response.status_code != 503:
            return response, busy
        assert "Retry-After" in response.headers, response.text
        await asyncio.sleep(min(float(response.headers["Retry-After"]), 2.0))
    raise AssertionError(f"{method} {path} still busy after {RETRY_ROUNDS} tries")


async def setup_call(api: Api, method: str, path: str, body: Any, expect: int) -> Any:
    response, _ = await send_until_answered(api.client, method, f"/api/v1{path}", body, api.headers)
    assert response.status_code == expect, (
        f"{method} {path}: {response.status_code} {response.text}"
    )
    return response.json()


async def race_studio(http: httpx.AsyncClient) -> Studio:
    """A business of its own on the live server, booking for the race day."""
    return await open_studio(Api(http), "Race Studio", day=race_day().isoformat())


async def yoga_class(http: httpx.AsyncClient) -> Studio:
    """John Smith teaches Group Yoga, ten spots a session."""
    studio = await race_studio(http)
    yoga = await studio.offer("Group Yoga", key="yoga", parallel=True, capacity=10)
    await studio.hire("John Smith", [yoga], key="john")
    return studio


async def customers(studio: Studio, count: int) -> list[dict[str, Any]]:
    return await gather_limited(
        setup_call(
            studio.api,
            "POST",
            "/customers",
            {"name": f"Racer {n}", "email": f"racer{n}@example.com"},
            201,
        )
        for n in range(count)
    )


def yoga_booking(studio: Studio, customer: dict[str, Any], start: str) -> dict[str, Any]:
    return studio.booking(studio.yoga, studio.john, customer, start=start)


async def book_beforehand(
    studio: Studio, people: list[dict[str, Any]], start: str
) -> list[dict[str, Any]]:
    """Each of ``people`` books John's yoga class at ``start``."""
    return await gather_limited(
        setup_call(studio.api, "POST", "/appointments", yoga_booking(studio, c, start), 201)
        for c in people
    )


async def warm_connections(http: httpx.AsyncClient, count: int) -> None:
    """Open ``count`` keep-alive connections now, so the race does not wait on connects."""
    answers = await asyncio.gather(*(http.get("/healthz") for _ in range(count)))
    assert all(a.status_code == 200 for a in answers)


async def race(
    studio: Studio, requests: list[tuple[str, str, Any]], allowed: Iterable[int]
) -> RaceResult:
    """Release every request at the same instant; retry the 503s; check the statuses."""
    http, headers = studio.api.client, studio.api.headers
    await warm_connections(http, len(requests))
    go = asyncio.Event()

    async def one(method: str, path: str, body: Any) -> httpx.Response:
        await go.wait()
        return await http.request(method, f"/api/v1{path}", json=body, headers=headers)

    tasks = [asyncio.create_task(one(*request)) for request in requests]
    await asyncio.sleep(0.05)  # every task is now parked on the event
    started = time.monotonic()
    go.set()
    first = await asyncio.gather(*tasks)
    seconds = time.monotonic() - started
    # The 503s (if any) are retried together after their Retry-After, as clients would.
    busy_ones = [n for n, response in enumerate(first) if response.status_code == 503]
    for n in busy_ones:
        assert "Retry-After" in first[n].headers, first[n].text
    if busy_ones:
        await asyncio.sleep(float(first[busy_ones[0]].headers["Retry-After"]))
    retried = await asyncio.gather(
        *(
            send_until_answered(
                http, requests[n][0], f"/api/v1{requests[n][1]}", requests[n][2], headers
            )
            for n in busy_ones
        )
    )
    answers = list(first)
    busy = len(busy_ones)
    for n, (response, more) in zip(busy_ones, retried, strict=True):
        answers[n] = response
        busy += more
    result = RaceResult(answers, Counter(r.status_code for r in first), busy, seconds)
    print(result.summary())
    allowed = set(allowed)
    strange = [r for r in answers if r.status_code not in allowed]
    assert not strange, f"unexpected answers: {[(r.status_code, r.text) for r in strange[:5]]}"
    return result


def assert_conflict(response: httpx.Response, *codes: str) -> dict[str, Any]:
    body = dict(response.json())
    assert body["detail"] == CONFLICT_DETAIL, body
    assert body["code"] in codes, body
    return body


@dataclass(frozen=True)
class StoredLine:
    service_id: str
    starts_at: datetime
    ends_at: datetime


async def stored_active_lines(database_url: str, staff_id: str) -> list[StoredLine]:
    """The staff member's active lines, read straight from the database (not the API)."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                sa.select(
                    AppointmentLine.service_id, AppointmentLine.starts_at, AppointmentLine.ends_at
                )
                .where(AppointmentLine.staff_id == staff_id)
                .where(AppointmentLine.status.in_(ACTIVE))
                .order_by(AppointmentLine.starts_at)
            )
            return [StoredLine(*row) for row in rows]
    finally:
        await engine.dispose()


def session_sizes(lines: list[StoredLine]) -> Counter[tuple[str, datetime, datetime]]:
    return Counter((line.service_id, line.starts_at, line.ends_at) for line in lines)


async def confirmed_of(studio: Studio) -> list[dict[str, Any]]:
    page = await studio.api.get(
        "/appointments",
        params={"staff_id": studio.john["id"], "status": "confirmed", "limit": 500},
    )
    assert page["total"] == len(page["items"])
    return list(page["items"])


def in_session(appointments: list[dict[str, Any]], day: str, start: str) -> list[dict[str, Any]]:
    return [a for a in appointments if a["appointment_date"] == day and a["start_time"] == start]


async def run_capacity_race(
    studio: Studio, start: str, people: list[dict[str, Any]], *, booked: int
) -> RaceResult:
    """``booked`` people book the session first; then all the others race for the rest."""
    await book_beforehand(studio, people[:booked], start)
    racers = people[booked:]
    return await race(
        studio,
        [("POST", "/appointments", yoga_booking(studio, c, start)) for c in racers],
        allowed={201, 409},
    )


async def test_two_hundred_customers_race_for_the_last_five_spots_and_exactly_five_get_in(
    race_server: RunningServer,
) -> None:
    async with racing_client(race_server.base_url) as http:
        studio = await yoga_class(http)
        people = await customers(studio, 205)
        result = await run_capacity_race(studio, "10:00", people, booked=5)

        assert len(result.with_status(201)) == 5
        refused = result.with_status(409)
        assert len(refused) == 200 - 5
        for response in refused:
            body = assert_conflict(response, "capacity_reached")
            # Each refusal was decided under the lock, so it saw the session full.
            assert (body["current_bookings"], body["max_capacity"]) == (10, 10)
        winners = {r.json()["id"] for r in result.with_status(201)}

        confirmed = await confirmed_of(studio)
        assert len(in_session(confirmed, studio.day, "10:00:00")) == 10
        assert winners <= {a["id"] for a in confirmed}
        stored = await stored_active_lines(race_server.database_url, studio.john["id"])
        assert len(stored) == 10
        assert set(session_sizes(stored).values()) == {10}


async def test_sixty_appointments_race_to_reschedule_into_the_last_spot_and_exactly_one_moves(
    race_server: RunningServer,
) -> None:
    async with racing_client(race_server.base_url) as http:
        studio = await yoga_class(http)
        people = await customers(studio, 69)
        # Session B (10:00) has one spot left; six full sessions later that day want to move in.
        await book_beforehand(studio, people[:9], "10:00")
        movers: list[dict[str, Any]] = []
        for hour in range(12, 18):
            chunk = people[9 + (hour - 12) * 10 : 9 + (hour - 11) * 10]
            movers += await book_beforehand(studio, chunk, f"{hour}:00")
        assert len(movers) == 60
        before = {a["id"]: a for a in await confirmed_of(studio)}

        result = await race(
            studio,
            [
                (
                    "PUT",
                    f"/appointments/{m['id']}/reschedule",
                    {"new_date": studio.day, "new_start_time": "10:00"},
                )
                for m in movers
            ],
            allowed={200, 409},
        )

        moved = result.with_status(200)
        assert len(moved) == 1
        winner = moved[0].json()
        assert winner["start_time"] == "10:00:00"
        assert winner["end_time"] == "11:00:00"
        for response in result.with_status(409):
            body = assert_conflict(response, "capacity_reached")
            assert (body["current_bookings"], body["max_capacity"]) == (10, 10)

        after = {a["id"]: a for a in await confirmed_of(studio)}
        assert after.keys() == before.keys()
        assert len(in_session(list(after.values()), studio.day, "10:00:00")) == 10
        for appointment_id, appointment in after.items():
            if appointment_id != winner["id"]:
                assert appointment == before[appointment_id]  # the losers did not move
        history = await studio.api.get(f"/appointments/{winner['id']}/history")
        assert [e["type"] for e in history["items"]] == ["created", "rescheduled"]

        stored = session_sizes(
            await stored_active_lines(race_server.database_url, studio.john["id"])
        )
        # B is exactly full; the winner's old session lost one; the other five stay full.
        assert sorted(stored.values()) == [9, 10, 10, 10, 10, 10, 10]
        assert sum(stored.values()) == 69


async def test_a_group_class_and_a_private_session_race_for_one_teacher_and_only_one_kind_wins(
    race_server: RunningServer,
) -> None:
    async with racing_client(race_server.base_url) as http:
        studio = await race_studio(http)
        group = await studio.offer("Group Yoga", parallel=True, capacity=5)
        private = await studio.offer("Private Session")
        john = await studio.hire("John Smith", [group, private], key="john")
        people = await customers(studio, 120)
        group_id, private_id = group["id"], private["id"]
        winners: list[str] = []
        # Two rounds, each on a fresh hour: a group class at :00-:00 and private sessions
        # starting half an hour in, interleaved; first group-first, then private-first.
        for hour, group_first in ((10, True), (14, False)):
            requests = [
                ("POST", "/appointments", studio.booking(group, john, c, start=f"{hour}:00"))
                if (n % 2 == 0) == group_first
                else ("POST", "/appointments", studio.booking(private, john, c, start=f"{hour}:30"))
                for n, c in enumerate(people)
            ]
            result = await race(studio, requests, allowed={201, 409})

            kinds = Counter(r.json()["services"][0]["service_id"] for r in result.with_status(201))
            group_won = kinds[group_id] > 0
            if group_won:
                assert kinds == Counter({group_id: 5}), kinds
            else:
                assert kinds == Counter({private_id: 1}), kinds
            for (_, _, body), response in zip(requests, result.responses, strict=True):
                if response.status_code != 409:
                    continue
                is_group = body["services"][0]["service_id"] == group_id
                if group_won:
                    expected = "capacity_reached" if is_group else "staff_busy"
                else:
                    expected = "staff_busy" if is_group else "slot_taken"
                assert_conflict(response, expected)
            winners.append("group class (5 of 5)" if group_won else "private session (1 of 1)")
        print(f"winners: {winners}")

        stored = await stored_active_lines(race_server.database_url, studio.john["id"])
        assert len(stored) == sum(5 if w.startswith("group") else 1 for w in winners)
        for a in stored:  # never in two places: overlapping lines are one session
            for b in stored:
                if a.starts_at < b.ends_at and b.starts_at < a.ends_at:
                    assert (a.service_id, a.starts_at, a.ends_at) == (
                        b.service_id,
                        b.starts_at,
                        b.ends_at,
                    )
        assert all(n <= 5 for n in session_sizes(stored).values())
        confirmed = await confirmed_of(studio)
        assert len(confirmed) == len(stored)


CONTROL_ROUNDS = 6
CONTROL_SECONDS = 35  # no new round after this, to stay inside TEST_SECONDS


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_without_booking_locks_the_same_race_overbooks_so_the_race_test_can_fail(
    backend: str, fresh_database_url: str, tmp_path: Path
) -> None:
    """The control: switch the locks off and the first race must catch an overbooking.

    Races are probabilistic, so each round books a fresh session (5 of 10 spots taken,
    200 customers racing) until more than 10 hold a spot; the test fails if no round
    overbooks, since then the race test would prove nothing.

    PostgreSQL only. SQLite cannot overbook even without ``BEGIN IMMEDIATE``: it has a
    single writer and its transactions are serializable. A deferred transaction that
    counted the session and then tries to insert must upgrade to the write lock; if any
    other writer committed after its read, SQLite refuses the upgrade (SQLITE_BUSY /
    BUSY_SNAPSHOT) instead of letting it write on a stale count, so the request fails
    (a 503) rather than overbooks. Tried with locks off on SQLite: 200 racers for 5
    spots gave exactly 5 bookings, the rest 409s and 503s, never a sixth booking.
    """
    unsafe = LiveServer(
        fresh_database_url,
        workers=WORKERS[backend],
        var_dir=tmp_path / "var",
        extra_env={"SLOTBOOK_UNSAFE_DISABLE_BOOKING_LOCKS": "true"},
    )
    with started(unsafe) as server:
        async with racing_client(server.base_url) as http:
            studio = await yoga_class(http)
            people = await customers(studio, 205)
            observed: list[int] = []
            deadline = time.monotonic() + CONTROL_SECONDS
            for round_number in range(CONTROL_ROUNDS):
                if time.monotonic() > deadline:
                    break
                start = f"{10 + round_number}:00"
                result = await run_capacity_race(studio, start, people, booked=5)
                stored = session_sizes(
                    await stored_active_lines(fresh_database_url, studio.john["id"])
                )
                confirmed = await confirmed_of(studio)
                in_this_session = len(in_session(confirmed, studio.day, f"{start}:00"))
                observed.append(in_this_session)
                print(f"round {round_number + 1}: {in_this_session} of 10 spots held")
                assert in_this_session == 5 + len(result.with_status(201))
                if max(stored.values()) > 10:
                    assert in_this_session > 10
                    break
            assert max(observed) > 10, (
                f"no overbooking in {len(observed)} rounds without locks: {observed}; "
                "the race test cannot tell locking from luck"
            )
