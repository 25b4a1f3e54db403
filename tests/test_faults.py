"""Faults under load: the database connections die, the database is missing, the pool is
too small. PostgreSQL only (the faults are PostgreSQL's): each runs against the real
server (``slotbook serve``) in subprocesses and is bounded to well under a minute."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.databases import PostgresDatabase, _asyncpg_dsn, postgres_admin_url
from tests.live_server import LiveServer, free_port
from tests.scenarios import Studio, open_studio
from tests.support import Api, appointment_body

pytestmark = pytest.mark.live

HANG_LIMIT = 5.0  # seconds: no request may take longer, whatever happens to the database
CAPACITY = 3
REGULARS = 12


@pytest.fixture
async def postgres_url(backend: str) -> AsyncIterator[str]:
    """A migrated PostgreSQL database of the test's own."""
    if backend == "sqlite":
        pytest.skip("fault injection kills PostgreSQL server connections; SQLite has none")
    admin_url = postgres_admin_url()
    assert admin_url is not None
    database = PostgresDatabase(admin_url)
    await database.create()
    try:
        yield database.url
    finally:
        await database.drop()


@dataclass
class Outcome:
    started: float
    seconds: float
    status: int
    retry_after: str | None
    body: Any

    @classmethod
    def of(cls, started: float, response: httpx.Response) -> Outcome:
        return cls(
            started,
            time.monotonic() - started,
            response.status_code,
            response.headers.get("retry-after"),
            response.json(),
        )


async def spin_studio(client: httpx.AsyncClient) -> Studio:
    """Spin classes a month ahead with four coaches, and a dozen regular customers (a
    customer holds one place per class, so one alone would never fill one)."""
    studio = await open_studio(Api(client), day=(date.today() + timedelta(days=30)).isoformat())
    spin = await studio.offer("Spin class", key="spin", parallel=True, capacity=CAPACITY)
    for n in range(4):
        await studio.hire(f"Coach {n}", [spin])
    await studio.customer(key="regular")
    for n in range(REGULARS - 1):
        await studio.customer(key=f"regular_{n}")
    return studio


def random_booking(studio: Studio, rng: random.Random) -> dict[str, Any]:
    coach = rng.choice(list(studio.staff.values()))
    hour = rng.randrange(8, 21)
    # Half to one day's 52 sessions (which fill up: capacity refusals), half spread
    # over 30 days (so bookings keep being accepted all along).
    days = 0 if rng.random() < 0.5 else rng.randrange(1, 30)
    day = date.fromisoformat(studio.day) + timedelta(days=days)
    customer = rng.choice(list(studio.customers.values()))
    return studio.booking(
        studio.spin, coach, customer, date=day.isoformat(), start=f"{hour:02d}:00"
    )


async def book(studio: Studio, body: dict[str, Any]) -> httpx.Response:
    return await studio.api.request("POST", "/appointments", body)


async def terminate_server_connections(database_url: str) -> int:
    connection = await asyncpg.connect(_asyncpg_dsn(database_url), timeout=5)
    try:
        rows = await connection.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return len(rows)


async def book_continuously(
    studio: Studio, outcomes: list[Outcome], until: float, seed: int
) -> None:
    rng = random.Random(seed)
    while time.monotonic() < until:
        started = time.monotonic()
        try:
            response = await book(studio, random_booking(studio, rng))
        except httpx.TimeoutException:
            outcomes.append(Outcome(started, time.monotonic() - started, 0, None, None))
            continue
        outcomes.append(Outcome.of(started, response))


def live_client(server: LiveServer, connections: int = 20) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.base_url,
        timeout=httpx.Timeout(HANG_LIMIT + 1),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


async def test_bookings_survive_the_database_killing_every_server_connection_twice(
    postgres_url: str, tmp_path: Path
) -> None:
    with LiveServer(postgres_url, workers=2, var_dir=tmp_path / "var") as server:
        async with live_client(server) as client:
            studio = await spin_studio(client)
            outcomes: list[Outcome] = []
            begin = time.monotonic()
            load = asyncio.gather(
                *(book_continuously(studio, outcomes, begin + 12, seed) for seed in range(16))
            )
            kills = []
            for at in (2.0, 4.5):
                await asyncio.sleep(begin + at - time.monotonic())
                kills.append(time.monotonic())
                assert await terminate_server_connections(postgres_url) > 0
            await load
            last_kill = kills[-1]

            # Answers normally again, without a restart.
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text
            after = await book(studio, random_booking(studio, random.Random(99)))
            assert after.status_code in (201, 409), after.text

    statuses = {o.status for o in outcomes}
    counts = {s: sum(o.status == s for o in outcomes) for s in sorted(statuses)}
    print(f"outcomes {counts}, longest {max(o.seconds for o in outcomes):.2f}s")  # shown on failure
    hangs = [o for o in outcomes if o.seconds > HANG_LIMIT]
    assert not hangs, f"{len(hangs)} requests took over {HANG_LIMIT}s"

    assert statuses <= {201, 409, 503}, f"unexpected statuses {statuses}: " + str(
        [o.body for o in outcomes if o.status not in (201, 409, 503)][:3]
    )
    unavailable = [o for o in outcomes if o.status == 503]
    assert all(o.retry_after for o in unavailable), "a 503 without Retry-After"
    assert all("detail" in o.body for o in unavailable)
    refused = [o for o in outcomes if o.status == 409]
    # A regular drawn twice for one class is told they hold a place already.
    codes = {o.body.get("code") for o in refused}
    assert codes <= {"capacity_reached", "already_booked"}, refused[:3]
    assert "capacity_reached" in codes, "no session filled up: the capacity rule was not exercised"
    recovered = [o for o in outcomes if o.started > last_kill + HANG_LIMIT]
    assert recovered, "no requests ran after the recovery window"
    assert all(o.status in (201, 409) for o in recovered), (
        f"still failing {HANG_LIMIT}s after the last kill: "
        f"{[o.status for o in recovered if o.status not in (201, 409)][:5]}"
    )

    accepted = [o.body["id"] for o in outcomes if o.status == 201]
    for kill in kills:  # bookings were being accepted around each kill, not only before
        assert any(o.status == 201 and kill < o.started < kill + 2 for o in outcomes)
    connection = await asyncpg.connect(_asyncpg_dsn(postgres_url), timeout=5)
    try:
        stored = {
            row["id"]
            for row in await connection.fetch(
                "SELECT id FROM appointments WHERE id = ANY($1::varchar[])", accepted
            )
        }
        sessions = await connection.fetch(
            "SELECT staff_id, starts_at, count(*) AS n FROM appointment_lines "
            "WHERE status IN ('pending', 'confirmed', 'completed') "
            "GROUP BY staff_id, starts_at HAVING count(*) > $1",
            CAPACITY,
        )
    finally:
        await connection.close()
    assert set(accepted) == stored, f"{len(set(accepted) - stored)} accepted bookings are missing"
    assert not sessions, f"sessions over capacity: {[dict(r) for r in sessions]}"


def _token_for_unreachable_database() -> str:
    import jwt

    from tests.live_server import LIVE_SECRET

    claims = {"sub": "u" * 24, "tid": "t" * 24, "role": "owner", "exp": int(time.time()) + 600}
    return jwt.encode(claims, LIVE_SECRET, algorithm="HS256")


async def test_an_unreachable_database_answers_503_and_the_process_stays_up(
    backend: str, tmp_path: Path
) -> None:
    if backend == "sqlite":
        pytest.skip("an unreachable database server is a PostgreSQL fault; SQLite is a file")
    closed_port = free_port()  # bound and released: nothing listens there
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port}/nowhere"
    with LiveServer(url, workers=1, var_dir=tmp_path / "var", ready_path="/healthz") as server:
        async with live_client(server) as client:
            started = time.monotonic()
            health = await client.get("/healthz")
            ready = await client.get("/readyz")
            login = await client.post(
                "/api/v1/auth/login", json={"email": "owner@example.com", "password": "whatever1"}
            )
            token = _token_for_unreachable_database()
            listing = await client.get(
                "/api/v1/outlets", headers={"Authorization": f"Bearer {token}"}
            )
            nobody = {"id": "x"}  # no id needs to exist: the database is not reached
            booking = await client.post(
                "/api/v1/appointments",
                json=appointment_body(nobody, nobody, [(nobody, nobody)], date="2030-01-07"),
                headers={"Authorization": f"Bearer {token}"},
            )
            elapsed = time.monotonic() - started
        log = server.log_text()
    assert health.status_code == 200
    assert ready.status_code == 503, ready.text
    for response in (login, listing, booking):
        assert response.status_code == 503, (response.request.url, response.text)
        assert response.headers.get("retry-after"), response.headers
        assert response.json()["code"] == "service_unavailable"
    assert elapsed < 4 * HANG_LIMIT
    assert "Traceback" not in log, log[-2000:]


async def test_a_pool_smaller_than_the_load_makes_callers_wait_a_bounded_time_then_503(
    postgres_url: str, tmp_path: Path
) -> None:
    pool_timeout = 0.5
    env = {
        "SLOTBOOK_DB_POOL_SIZE": "1",
        "SLOTBOOK_DB_MAX_OVERFLOW": "0",
        "SLOTBOOK_DB_POOL_TIMEOUT_SECONDS": str(pool_timeout),
        "SLOTBOOK_LOCK_TIMEOUT_MS": "3000",
    }
    with LiveServer(postgres_url, workers=1, var_dir=tmp_path / "var", extra_env=env) as server:
        async with live_client(server) as client:
            studio = await spin_studio(client)
            coach = studio.staff["Coach 0"]
            # Hold the coach's row lock so the one pooled connection stays busy (waiting
            # for the lock) while 12 more requests queue for the pool.
            holder = await asyncpg.connect(_asyncpg_dsn(postgres_url), timeout=5)
            try:
                transaction = holder.transaction()
                await transaction.start()
                await holder.execute("SELECT id FROM staff WHERE id = $1 FOR UPDATE", coach["id"])

                async def one(hour: int) -> Outcome:
                    body = studio.booking(
                        studio.spin, coach, studio.regular, start=f"{hour:02d}:00"
                    )
                    started = time.monotonic()
                    return Outcome.of(started, await book(studio, body))

                first = asyncio.create_task(one(8))
                await asyncio.sleep(0.3)  # the first request holds the pool's connection
                queued = await asyncio.gather(*(one(9 + n) for n in range(12)))
                await transaction.rollback()
                blocked = await first
            finally:
                await holder.close()
            after = await book(studio, random_booking(studio, random.Random(1)))

    assert blocked.status == 201, blocked
    for outcome in queued:
        assert outcome.status == 503, outcome
        assert outcome.retry_after, outcome
        assert outcome.body["code"] == "service_unavailable"
        assert outcome.seconds < pool_timeout + 1.5, f"waited {outcome.seconds:.2f}s for the pool"
    assert after.status_code in (201, 409), after.text


async def test_connections_killed_while_idle_are_replaced_without_failing_a_request(
    postgres_url: str, tmp_path: Path
) -> None:
    with LiveServer(postgres_url, workers=2, var_dir=tmp_path / "var") as server:
        async with live_client(server) as client:
            studio = await spin_studio(client)
            rng = random.Random(7)
            for _ in range(8):  # warm both workers' pools
                await book(studio, random_booking(studio, rng))
            assert await terminate_server_connections(postgres_url) > 0
            statuses = [
                (await book(studio, random_booking(studio, rng))).status_code for _ in range(12)
            ]
    assert set(statuses) <= {201, 409}, statuses
