"""Availability grid latency: the real server against a naive one-query-per-slot grid.

Run from the repository root (PostgreSQL must be running):

    .venv/bin/python bench/grid_benchmark.py

Another checkout's code: run this script with that tree's interpreter, e.g.
``/work/before/.venv/bin/python bench/grid_benchmark.py`` (its ``slotbook`` package, migrations
and server binary; ``bench/compare.py`` does this). After the timed runs it counts SQL
statements per request in the PostgreSQL log (``statement_count.py``, ``--count-requests``).

It creates a database of its own (dropped at the end), migrates it, starts
``slotbook serve --workers 2`` on it and sets up one outlet with 30 staff who offer a
group class (capacity 10) and personal training, working 08:00-22:00 every day. It
then inserts 20,000 appointments over 31 days straight into PostgreSQL (no session
over capacity, some cancelled, some personal training that keeps the teacher busy)
and measures, one request at a time:

- GET /api/v1/availability/availability-grid for 1, 7 and 31 days over HTTP (one
  keep-alive connection, ``http_client``: httpx would add its own parsing of the
  response to every sample);
- the same grids computed the NAIVE way, in this process: one count query per slot
  (the brief's "before optimisation"), straight through asyncpg, without HTTP. The
  naive answers are checked equal to the server's, so both compute the same thing.

``--timetable`` measures a class timetable instead (its own database and server; needs a
tree with class schedules, migration 0009): one outlet, 30 instructors working 06:00-22:00
and one timetable service, Vinyasa (capacity 30), whose 200 weekly classes are laid out by
60 class schedules through ``POST /api/v1/class-schedules`` (each instructor a morning
class on 3-4 days and an evening class on 3, so nobody teaches two at once; some rooms
seat 20 or 40), for 31 days: ~886 sessions. 20,000 one-line bookings of those sessions
(5% cancelled, 10% for a party of two, each customer at most once per session, no session
over its capacity) go straight into PostgreSQL, and the grid of Vinyasa is measured for
1, 7 and 31 days as above, beside a NAIVE timetable grid (one query per session, checked
equal to the server's).

Environment: SLOTBOOK_BENCH_POSTGRES_URL (admin URL, default
postgresql+asyncpg://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from booking_throughput import process_tree_cpu  # noqa: E402
from http_client import HttpConnection  # noqa: E402
from statement_count import count_statements, describe  # noqa: E402
from tests.live_server import LiveServer  # noqa: E402

from slotbook.ids import new_id  # noqa: E402
from slotbook.migrations.runner import upgrade  # noqa: E402

try:  # the storage-layer refactor moved the rules; older trees (7ef6429) have them here
    from slotbook.scheduling import rules
except ImportError:
    from slotbook.booking import rules  # type: ignore[no-redef]

DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
GRID = "/api/v1/availability/availability-grid"
TIMEZONE = "Europe/London"
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
OPENING, CLOSING = 8, 22
STAFF_COUNT = 30
RANGE_DAYS = 31
APPOINTMENTS = 20_000
CLASS_CAPACITY = 10
TRAINING_SHARE = 0.08  # of sessions given to personal training instead of the class
CANCELLED_SHARE = 0.05
RANGES = (1, 7, 31)
# The timetable case (--timetable)
TIMETABLE_CLASSES = 200  # weekly
TIMETABLE_CAPACITY = 30  # the service's; some schedules seat SMALL_ROOM or BIG_ROOM
SMALL_ROOM, BIG_ROOM = 20, 40
TIMETABLE_BOOKINGS = 20_000
TIMETABLE_CUSTOMERS = 4_000
PARTY_OF_TWO_SHARE = 0.10
TIMETABLE_OPENING, TIMETABLE_CLOSING = 6, 22


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class BenchDatabase:
    """A database of the benchmark's own, created and migrated here and dropped at the end."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.name = f"slotbook_bench_grid_{uuid.uuid4().hex[:8]}"
        self.url = make_url(admin_url).set(database=self.name).render_as_string(hide_password=False)
        self.dsn = asyncpg_dsn(self.url)

    async def create(self) -> None:
        connection = await asyncpg.connect(asyncpg_dsn(self.admin_url), timeout=10)
        try:
            await connection.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            await connection.close()
        await asyncio.to_thread(upgrade, self.url)

    async def drop(self) -> None:
        connection = await asyncpg.connect(asyncpg_dsn(self.admin_url), timeout=10)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await connection.close()


@dataclass(frozen=True)
class Business:
    tenant_id: str
    token: str
    outlet_id: str
    class_id: str
    training_id: str
    staff_ids: list[str]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def set_up_business(http: httpx.AsyncClient) -> Business:
    """The catalog through the API, as a client would create it."""

    async def post(path: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await http.post(f"/api/v1{path}", json=body, headers=headers)
        response.raise_for_status()
        created: dict[str, Any] = response.json()
        return created

    signup = await post(
        "/auth/signup",
        {"business_name": "Grid Bench", "email": "bench@example.com", "password": "bench-pass-1"},
    )
    token = signup["access_token"]
    outlet = await post("/outlets", {"name": "Main Studio", "timezone": TIMEZONE}, token)
    group_class = await post(
        "/services",
        {
            "name": "Group Yoga Class",
            "duration": 60,
            "allow_parallel_bookings": True,
            "max_parallel_bookings": CLASS_CAPACITY,
        },
        token,
    )
    training = await post("/services", {"name": "Personal Training", "duration": 60}, token)
    hours = {day: [{"start": f"{OPENING:02d}:00", "end": f"{CLOSING:02d}:00"}] for day in DAYS}
    staff_ids = []
    for number in range(STAFF_COUNT):
        member = await post(
            "/staff",
            {
                "name": f"Teacher {number:02d}",
                "outlet_id": outlet["id"],
                "service_ids": [group_class["id"], training["id"]],
                "working_hours": hours,
            },
            token,
        )
        staff_ids.append(member["id"])
    return Business(
        signup["tenant_id"], token, outlet["id"], group_class["id"], training["id"], staff_ids
    )


async def fill_appointments(dsn: str, business: Business, first_day: date, seed: int) -> int:
    """20,000 one-line appointments, inserted with COPY; no session goes over capacity."""
    rng = random.Random(seed)
    zone = ZoneInfo(TIMEZONE)
    sessions = [
        (staff_id, first_day + timedelta(days=offset), hour)
        for staff_id in business.staff_ids
        for offset in range(RANGE_DAYS)
        for hour in range(OPENING, CLOSING)
    ]
    training = set(rng.sample(range(len(sessions)), int(len(sessions) * TRAINING_SHARE)))
    held = [0] * len(sessions)
    now = datetime.now(UTC)
    customer_ids = [new_id() for _ in range(200)]
    appointments: list[tuple[Any, ...]] = []
    lines: list[tuple[Any, ...]] = []
    while len(appointments) < APPOINTMENTS:
        index = rng.randrange(len(sessions))
        capacity = 1 if index in training else CLASS_CAPACITY
        if held[index] >= capacity:
            continue
        status = "cancelled" if rng.random() < CANCELLED_SHARE else "confirmed"
        if status != "cancelled":
            held[index] += 1
        staff_id, day, hour = sessions[index]
        starts_at = rules.local_instant(day, clock_time(hour), zone)
        assert starts_at is not None
        ends_at = starts_at + timedelta(hours=1)
        appointment_id = new_id()
        service_id = business.training_id if index in training else business.class_id
        appointments.append(
            (
                appointment_id, business.tenant_id, business.outlet_id,
                rng.choice(customer_ids), status, day, clock_time(hour),
                clock_time(hour + 1), starts_at, ends_at, now,
                now if status == "cancelled" else None,
            )
        )  # fmt: skip
        lines.append(
            (
                new_id(), business.tenant_id, appointment_id, 0, staff_id, service_id,
                status, starts_at, ends_at,
            )
        )  # fmt: skip
    connection = await asyncpg.connect(dsn)
    try:
        await connection.copy_records_to_table(
            "customers",
            records=[
                (c, business.tenant_id, f"Customer {n}", now) for n, c in enumerate(customer_ids)
            ],
            columns=["id", "tenant_id", "name", "created_at"],
        )
        await connection.copy_records_to_table(
            "appointments",
            records=appointments,
            columns=[
                "id", "tenant_id", "outlet_id", "customer_id", "status", "appointment_date",
                "start_time", "end_time", "starts_at", "ends_at", "created_at", "cancelled_at",
            ],
        )  # fmt: skip
        await connection.copy_records_to_table(
            "appointment_lines",
            records=lines,
            columns=[
                "id", "tenant_id", "appointment_id", "position", "staff_id", "service_id",
                "status", "starts_at", "ends_at",
            ],
        )  # fmt: skip
        # The state autovacuum leaves a table in soon after a bulk load: fresh statistics
        # and a visibility map, so runs do not depend on whether it has come by yet.
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    return len(appointments)


# The timetable case (--timetable): schedules through the API, bookings with COPY


@dataclass(frozen=True)
class Timetable(Business):
    """The timetable studio: ``class_id`` is the timetable service measured (Vinyasa);
    there is no personal training (``training_id`` empty)."""

    schedules: int = 0


def weekly_classes() -> list[tuple[int, str, list[str], int | None]]:
    """The 200 weekly classes as schedules: (instructor, start, days, capacity or None
    for the service's). Instructor i teaches a morning class (07:00-11:00 starts) on 4
    days (i < 20) or 3, and an evening class (16:00-21:00 starts) on 3 other or the same
    days: 20 x 7 + 10 x 6 = 200 classes, and no instructor is ever in two at once."""
    plans: list[tuple[int, str, list[str], int | None]] = []
    for i in range(STAFF_COUNT):
        mornings = 4 if i < 20 else 3
        morning_days = sorted((i + 2 * k) % 7 for k in range(mornings))
        evening_days = sorted((i + 1 + 2 * k) % 7 for k in range(3))
        small = SMALL_ROOM if i % 5 == 1 else None
        big = BIG_ROOM if i % 4 == 0 else None
        plans.append((i, f"{7 + i % 5:02d}:00", [DAYS[d] for d in morning_days], small))
        plans.append((i, f"{16 + i % 6:02d}:00", [DAYS[d] for d in evening_days], big))
    assert sum(len(days) for _, _, days, _ in plans) == TIMETABLE_CLASSES
    return plans


async def set_up_timetable(http: httpx.AsyncClient, first_day: date) -> Timetable:
    """Outlet, service, instructors and schedules through the API; the schedules lay out
    the sessions of the 31 days (``last_date`` the last day of the range)."""

    async def post(path: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await http.post(f"/api/v1{path}", json=body, headers=headers)
        if response.status_code >= 400:
            raise SystemExit(f"POST {path} failed: {response.status_code} {response.text[:500]}")
        created: dict[str, Any] = response.json()
        return created

    signup = await post(
        "/auth/signup",
        {"business_name": "Timetable Bench", "email": "tt@example.com", "password": "bench-pass-1"},
    )
    token = signup["access_token"]
    outlet = await post("/outlets", {"name": "Main Studio", "timezone": TIMEZONE}, token)
    vinyasa = await post(
        "/services",
        {
            "name": "Vinyasa",
            "duration": 60,
            "allow_parallel_bookings": True,
            "max_parallel_bookings": TIMETABLE_CAPACITY,
            "booking_mode": "timetable",
        },
        token,
    )
    hours = {
        day: [{"start": f"{TIMETABLE_OPENING:02d}:00", "end": f"{TIMETABLE_CLOSING:02d}:00"}]
        for day in DAYS
    }
    staff_ids = []
    for number in range(STAFF_COUNT):
        member = await post(
            "/staff",
            {
                "name": f"Instructor {number:02d}",
                "outlet_id": outlet["id"],
                "service_ids": [vinyasa["id"]],
                "working_hours": hours,
            },
            token,
        )
        staff_ids.append(member["id"])
    plans = weekly_classes()
    for instructor, start, days, capacity in plans:
        body: dict[str, Any] = {
            "service_id": vinyasa["id"],
            "outlet_id": outlet["id"],
            "staff_id": staff_ids[instructor],
            "start_time": start,
            "days": days,
            "first_date": first_day.isoformat(),
            "last_date": (first_day + timedelta(days=RANGE_DAYS - 1)).isoformat(),
        }
        if capacity is not None:
            body["capacity"] = capacity
        await post("/class-schedules", body, token)
    return Timetable(
        signup["tenant_id"], token, outlet["id"], vinyasa["id"], "", staff_ids, len(plans)
    )


async def fill_timetable_bookings(dsn: str, business: Timetable, seed: int) -> tuple[int, int]:
    """20,000 one-line bookings of the scheduled sessions, inserted with COPY: each
    customer at most once per session, no session over its capacity (a cancelled booking
    holds no spot). Sessions differ in popularity, so some fill up. Returns (sessions,
    bookings)."""
    rng = random.Random(seed)
    connection = await asyncpg.connect(dsn)
    try:
        sessions = await connection.fetch(
            "SELECT staff_id, session_date, start_time, end_time, starts_at, ends_at, capacity"
            " FROM class_sessions WHERE tenant_id = $1 AND service_id = $2"
            " AND status = 'scheduled' ORDER BY starts_at, staff_id",
            business.tenant_id, business.class_id,
        )  # fmt: skip
        weights = [rng.uniform(0.3, 2.0) for _ in sessions]
        held = [0] * len(sessions)
        seen: list[set[int]] = [set() for _ in sessions]
        now = datetime.now(UTC)
        customer_ids = [new_id() for _ in range(TIMETABLE_CUSTOMERS)]
        appointments: list[tuple[Any, ...]] = []
        lines: list[tuple[Any, ...]] = []
        while len(appointments) < TIMETABLE_BOOKINGS:
            index = rng.choices(range(len(sessions)), weights)[0]
            session = sessions[index]
            party = 2 if rng.random() < PARTY_OF_TWO_SHARE else 1
            if held[index] + party > session["capacity"]:
                weights[index] = 0.0  # full (or nearly): no more bookings here
                continue
            customer = rng.randrange(TIMETABLE_CUSTOMERS)
            if customer in seen[index]:
                continue
            seen[index].add(customer)
            status = "cancelled" if rng.random() < CANCELLED_SHARE else "confirmed"
            if status != "cancelled":
                held[index] += party
            appointment_id = new_id()
            customer_id = customer_ids[customer]
            appointments.append(
                (
                    appointment_id, business.tenant_id, business.outlet_id, customer_id,
                    status, session["session_date"], session["start_time"],
                    session["end_time"], session["starts_at"], session["ends_at"], now,
                    now if status == "cancelled" else None, party,
                )
            )  # fmt: skip
            lines.append(
                (
                    new_id(), business.tenant_id, appointment_id, 0, session["staff_id"],
                    business.class_id, status, session["starts_at"], session["ends_at"],
                    party, customer_id,
                )
            )  # fmt: skip
        await connection.copy_records_to_table(
            "customers",
            records=[
                (c, business.tenant_id, f"Customer {n}", now) for n, c in enumerate(customer_ids)
            ],
            columns=["id", "tenant_id", "name", "created_at"],
        )
        await connection.copy_records_to_table(
            "appointments",
            records=appointments,
            columns=[
                "id", "tenant_id", "outlet_id", "customer_id", "status", "appointment_date",
                "start_time", "end_time", "starts_at", "ends_at", "created_at", "cancelled_at",
                "party_size",
            ],
        )  # fmt: skip
        await connection.copy_records_to_table(
            "appointment_lines",
            records=lines,
            columns=[
                "id", "tenant_id", "appointment_id", "position", "staff_id", "service_id",
                "status", "starts_at", "ends_at", "party_size", "customer_id",
            ],
        )  # fmt: skip
        over = await connection.fetchval(
            "SELECT count(*) FROM class_sessions s WHERE s.tenant_id = $1 AND s.capacity <"
            " (SELECT coalesce(sum(l.party_size), 0) FROM appointment_lines l"
            "  WHERE l.tenant_id = s.tenant_id AND l.staff_id = s.staff_id"
            "  AND l.service_id = s.service_id AND l.starts_at = s.starts_at"
            "  AND l.ends_at = s.ends_at AND l.status <> 'cancelled')",
            business.tenant_id,
        )  # fmt: skip
        if over:
            raise SystemExit(f"{over} sessions over capacity after seeding")
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    return len(sessions), len(appointments)


# The fast path: the real server over HTTP


def grid_params(business: Business, first_day: date, days: int) -> dict[str, str]:
    return {
        "outlet_id": business.outlet_id,
        "service_id": business.class_id,
        "start_date": first_day.isoformat(),
        "end_date": (first_day + timedelta(days=days - 1)).isoformat(),
    }


@dataclass
class Timing:
    samples_ms: list[float]
    slots: int
    response_bytes: int
    # CPU of the server's processes (all workers) over the timed requests, per request
    server_cpu_ms: float | None = None

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p99(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


async def measure_server(
    port: int,
    business: Business,
    first_day: date,
    days: int,
    requests: int,
    server_pid: int | None = None,
) -> tuple[Timing, dict[str, Any]]:
    path = f"{GRID}?{urlencode(grid_params(business, first_day, days))}"
    connection = HttpConnection("127.0.0.1", port)
    try:
        for _ in range(5):  # warm-up: connections, caches, lazy imports
            await get_grid(connection, path, business)
        samples = []
        body = b""
        cpu_before = process_tree_cpu(server_pid) if server_pid else 0.0
        for _ in range(requests):
            started = time.perf_counter()
            body = await get_grid(connection, path, business)
            samples.append((time.perf_counter() - started) * 1000)
        server_cpu = (
            (process_tree_cpu(server_pid) - cpu_before) * 1000 / requests if server_pid else None
        )
    finally:
        await connection.close()
    grid: dict[str, Any] = json.loads(body)
    return Timing(samples, sum(len(v) for v in grid.values()), len(body), server_cpu), grid


async def get_grid(connection: HttpConnection, path: str, business: Business) -> bytes:
    status, body = await connection.request("GET", path, headers=business.headers)
    if status != 200:
        raise SystemExit(f"grid request failed: {status} {body[:200]!r}")
    return body


# The NAIVE path: one count query per slot (for comparison only)

NAIVE_COUNT_SQL = """
SELECT count(*) FILTER (WHERE service_id = $3 AND starts_at = $4 AND ends_at = $5),
       count(*) FILTER (WHERE NOT (service_id = $3 AND starts_at = $4 AND ends_at = $5)),
       count(*) FILTER (WHERE service_id = $3)
FROM appointment_lines
WHERE tenant_id = $1 AND staff_id = $2 AND status = ANY($6::varchar[])
  AND starts_at > $4 - interval '1 day' AND starts_at < $5 AND ends_at > $4
"""


async def naive_grid(
    connection: asyncpg.Connection, business: Business, first_day: date, days: int
) -> dict[str, list[dict[str, Any]]]:
    """NAIVE: the same answer as the endpoint, but one count query for every slot."""
    tenant = business.tenant_id
    zone = ZoneInfo(
        await connection.fetchval(
            "SELECT timezone FROM outlets WHERE tenant_id = $1 AND id = $2",
            tenant, business.outlet_id,
        )
    )  # fmt: skip
    service = await connection.fetchrow(
        "SELECT id, duration, slot_interval, allow_parallel_bookings, max_parallel_bookings"
        " FROM services WHERE tenant_id = $1 AND id = $2",
        tenant, business.class_id,
    )  # fmt: skip
    staff = await connection.fetch(
        "SELECT s.id, s.name, s.working_hours FROM staff s JOIN staff_services o"
        " ON o.staff_id = s.id WHERE s.tenant_id = $1 AND o.service_id = $2 AND s.active"
        " AND s.outlet_id = $3 ORDER BY s.name, s.id",
        tenant, business.class_id, business.outlet_id,
    )  # fmt: skip
    capacity = service["max_parallel_bookings"] if service["allow_parallel_bookings"] else 1
    duration = timedelta(minutes=service["duration"])
    active = sorted(rules.ACTIVE_STATUSES)
    now = datetime.now(UTC)
    grid: dict[str, list[dict[str, Any]]] = {}
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        slots: list[tuple[int, dict[str, Any]]] = []
        for member in staff:
            time_off = [
                (row["start"], row["end"])
                for row in await connection.fetch(
                    "SELECT start, \"end\" FROM time_off WHERE tenant_id = $1 AND staff_id = $2",
                    tenant, member["id"],
                )
            ]  # fmt: skip
            hours = rules.parse_working_hours(_json(member["working_hours"]))
            schedule = rules.Schedule(zone, hours, tuple(time_off))
            for begin, finish in hours.get(DAYS[day.weekday()], ()):
                first = begin.hour * 60 + begin.minute
                for minute in range(
                    first, finish.hour * 60 + finish.minute, service["slot_interval"]
                ):
                    starts_at = rules.local_instant(
                        day, clock_time(minute // 60, minute % 60), zone
                    )
                    if starts_at is None:
                        continue
                    ends_at = starts_at + duration
                    if not rules.within_schedule(schedule, starts_at, ends_at):
                        continue
                    same, other, _ = await connection.fetchrow(
                        NAIVE_COUNT_SQL, tenant, member["id"], service["id"], starts_at, ends_at,
                        active,
                    )  # fmt: skip
                    free = other == 0
                    available = free and same < capacity and starts_at >= now
                    left = max(0, capacity - same) if free else 0
                    parallel = service["allow_parallel_bookings"]
                    slots.append(
                        (
                            minute,
                            {
                                "start_time": f"{starts_at.astimezone(zone):%H:%M:%S}",
                                "end_time": f"{ends_at.astimezone(zone):%H:%M:%S}",
                                "staff_id": member["id"],
                                "staff_name": member["name"],
                                "is_available": available,
                                "allows_parallel_bookings": parallel,
                                "available_capacity": left if parallel else None,
                                "max_capacity": capacity if parallel else None,
                            },
                        )
                    )
        slots.sort(key=lambda entry: entry[0])
        grid[day.isoformat()] = [slot for _, slot in slots]
    return grid


NAIVE_SESSION_SQL = """
SELECT coalesce(sum(party_size), 0)::int FROM appointment_lines
WHERE tenant_id = $1 AND staff_id = $2 AND service_id = $3 AND starts_at = $4 AND ends_at = $5
  AND status = ANY($6::varchar[])
"""


async def naive_timetable_grid(
    connection: asyncpg.Connection, business: Business, first_day: date, days: int
) -> dict[str, list[dict[str, Any]]]:
    """NAIVE timetable grid: the service's sessions in the range, then one query per
    session for the spots its bookings hold (the benchmark's instructors teach nothing
    else, so a session's own bookings decide it)."""
    tenant = business.tenant_id
    zone = ZoneInfo(
        await connection.fetchval(
            "SELECT timezone FROM outlets WHERE tenant_id = $1 AND id = $2",
            tenant, business.outlet_id,
        )
    )  # fmt: skip
    staff = await connection.fetch(
        "SELECT s.id, s.name FROM staff s JOIN staff_services o"
        " ON o.staff_id = s.id WHERE s.tenant_id = $1 AND o.service_id = $2 AND s.active"
        " AND s.outlet_id = $3 ORDER BY s.name, s.id",
        tenant, business.class_id, business.outlet_id,
    )  # fmt: skip
    order = {member["id"]: n for n, member in enumerate(staff)}
    names = {member["id"]: member["name"] for member in staff}
    last_day = first_day + timedelta(days=days - 1)
    sessions = await connection.fetch(
        "SELECT staff_id, starts_at, ends_at, capacity FROM class_sessions"
        " WHERE tenant_id = $1 AND service_id = $2 AND status = 'scheduled'"
        " AND session_date BETWEEN $3 AND $4",
        tenant, business.class_id, first_day, last_day,
    )  # fmt: skip
    active = sorted(rules.ACTIVE_STATUSES)
    now = datetime.now(UTC)
    by_day: dict[str, list[tuple[Any, ...]]] = {
        (first_day + timedelta(days=offset)).isoformat(): [] for offset in range(days)
    }
    for session in sessions:
        if session["staff_id"] not in order:
            continue
        starts_at, ends_at, capacity = session["starts_at"], session["ends_at"], session["capacity"]
        spots = await connection.fetchval(
            NAIVE_SESSION_SQL, tenant, session["staff_id"], business.class_id, starts_at,
            ends_at, active,
        )  # fmt: skip
        local_start, local_end = starts_at.astimezone(zone), ends_at.astimezone(zone)
        slot = {
            "start_time": f"{local_start:%H:%M:%S}",
            "end_time": f"{local_end:%H:%M:%S}",
            "staff_id": session["staff_id"],
            "staff_name": names[session["staff_id"]],
            "is_available": spots + 1 <= capacity and starts_at >= now,
            "allows_parallel_bookings": True,
            "available_capacity": max(0, capacity - spots),
            "max_capacity": capacity,
        }
        key = (slot["start_time"], slot["end_time"], order[session["staff_id"]])
        by_day[local_start.date().isoformat()].append((key, slot))
    return {day: [slot for _, slot in sorted(slots)] for day, slots in by_day.items()}


NaiveGrid = Callable[
    [asyncpg.Connection, Business, date, int], Awaitable[dict[str, list[dict[str, Any]]]]
]


def without_waitlist(grid: Any) -> Any:
    """The server's grid without ``waitlist_length`` (null here: the benchmark's class
    keeps no waitlist), which the naive grid does not compute; older servers have none."""
    return {
        day: [{k: v for k, v in slot.items() if k != "waitlist_length"} for slot in slots]
        for day, slots in grid.items()
    }


def _json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value


async def measure_naive(
    dsn: str,
    business: Business,
    first_day: date,
    days: int,
    requests: int,
    naive: NaiveGrid = naive_grid,
) -> tuple[Timing, dict[str, Any]]:
    connection = await asyncpg.connect(dsn)
    try:
        grid = await naive(connection, business, first_day, days)  # warm-up
        samples = []
        for _ in range(requests):
            started = time.perf_counter()
            grid = await naive(connection, business, first_day, days)
            samples.append((time.perf_counter() - started) * 1000)
    finally:
        await connection.close()
    return Timing(samples, sum(len(v) for v in grid.values()), 0), grid


# Report


def machine() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs (nproc {_nproc()}), {model}, Python {platform.python_version()}"


def _nproc() -> str:
    return subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def report(
    server: dict[int, Timing],
    naive: dict[int, Timing],
    appointments: int,
    load: tuple[str, str],
    data: str | None = None,
) -> str:
    rows = [
        "| grid | slots | response | requests | p50 ms | p99 ms | server CPU/req ms "
        "| naive requests | naive p50 ms | naive p99 ms | speed-up (p50) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for days in RANGES:
        fast, slow = server[days], naive[days]
        rows.append(
            f"| {days} day{'s' if days > 1 else ''} | {fast.slots} "
            f"| {fast.response_bytes / 1024:.0f} KiB | {len(fast.samples_ms)} "
            f"| {fast.p50:.1f} | {fast.p99:.1f} | {_cpu(fast)} | {len(slow.samples_ms)} "
            f"| {slow.p50:.0f} | {slow.p99:.0f} | {slow.p50 / fast.p50:.0f}x |"
        )
    return "\n".join(
        [
            f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            f"Machine: {machine()}",
            f"Load average (1, 5, 15 min) before: {load[0]}; after: {load[1]}",
            data
            or f"Data: 1 outlet, {STAFF_COUNT} staff, {RANGE_DAYS} days, {appointments} "
            f"appointments ({CANCELLED_SHARE:.0%} cancelled), class capacity {CLASS_CAPACITY}",
            "Server: slotbook serve --workers 2, PostgreSQL on the same machine; "
            "requests one at a time over one keep-alive connection",
            "",
            *rows,
        ]
    )


def _cpu(timing: Timing) -> str:
    return "-" if timing.server_cpu_ms is None else f"{timing.server_cpu_ms:.1f}"


def write_json(
    path: str,
    fast: dict[int, Timing],
    slow: dict[int, Timing],
    load_before: str,
    counted: dict[str, Any] | None,
    case: str = "class",
) -> None:
    Path(path).write_text(
        json.dumps(
            {
                "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC",
                "python": sys.executable,
                "load_before": load_before,
                "case": case,
                "grids": {
                    str(days): {
                        "p50_ms": fast[days].p50,
                        "p99_ms": fast[days].p99,
                        "requests": len(fast[days].samples_ms),
                        "slots": fast[days].slots,
                        "server_cpu_ms_per_request": fast[days].server_cpu_ms,
                        "naive_p50_ms": slow[days].p50,
                    }
                    for days in RANGES
                },
                "statements": counted,
            },
            indent=2,
        )
    )


async def main(args: argparse.Namespace) -> None:
    admin_url = os.environ.get("SLOTBOOK_BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL)
    database = BenchDatabase(admin_url)
    await database.create()
    first_day = datetime.now(ZoneInfo(TIMEZONE)).date() + timedelta(days=1)
    try:
        var_dir = ROOT / "var" / "bench-grid"
        with LiveServer(database.url, workers=2, var_dir=var_dir) as server:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=120) as http:
                business: Business
                naive: NaiveGrid = naive_grid
                data = None
                if args.timetable:
                    business = timetable = await set_up_timetable(http, first_day)
                    sessions, appointments = await fill_timetable_bookings(
                        database.dsn, timetable, args.seed
                    )
                    naive = naive_timetable_grid
                    data = (
                        f"Data: 1 outlet, {STAFF_COUNT} instructors, timetable service Vinyasa "
                        f"(capacity {TIMETABLE_CAPACITY}, some sessions {SMALL_ROOM} or "
                        f"{BIG_ROOM}): {TIMETABLE_CLASSES} weekly classes from "
                        f"{timetable.schedules} schedules, {RANGE_DAYS} days, {sessions} "
                        f"sessions, {appointments} bookings ({CANCELLED_SHARE:.0%} cancelled, "
                        f"{PARTY_OF_TWO_SHARE:.0%} parties of two); grid of Vinyasa"
                    )
                    print(data, flush=True)
                else:
                    business = await set_up_business(http)
                    appointments = await fill_appointments(
                        database.dsn, business, first_day, args.seed
                    )
                load_before = load_average()
                print(f"load average before measuring: {load_before}", flush=True)
                fast: dict[int, Timing] = {}
                slow: dict[int, Timing] = {}
                for days in RANGES:
                    pid = server.process.pid if server.process else None
                    fast[days], served = await measure_server(
                        server.port, business, first_day, days, args.requests, pid
                    )
                    print(
                        f"server {days:>2} days: p50 {fast[days].p50:.1f} ms, "
                        f"server CPU {_cpu(fast[days])} ms/request",
                        flush=True,
                    )
                    slow[days], computed = await measure_naive(
                        database.dsn, business, first_day, days, args.naive_requests, naive
                    )
                    print(f"naive  {days:>2} days: p50 {slow[days].p50:.0f} ms", flush=True)
                    if without_waitlist(served) != computed:
                        raise SystemExit(f"naive and server grids differ for {days} days")
                counted = None
                if args.count_requests:
                    counted = await count_grid_statements(
                        admin_url, database, server.port, business, first_day, args.count_requests
                    )
                    print(describe(counted, "7-day grid"), flush=True)
        print()
        print(report(fast, slow, appointments, (load_before, load_average()), data))
        if args.json:
            case = "timetable" if args.timetable else "class"
            write_json(args.json, fast, slow, load_before, counted, case)
    finally:
        await database.drop()


async def count_grid_statements(
    admin_url: str,
    database: BenchDatabase,
    port: int,
    business: Business,
    first_day: date,
    n: int,
) -> dict[str, Any]:
    """N 7-day grid requests, one at a time, with statement logging on."""
    path = f"{GRID}?{urlencode(grid_params(business, first_day, 7))}"

    async def run() -> None:
        connection = HttpConnection("127.0.0.1", port)
        try:
            for _ in range(n):
                await get_grid(connection, path, business)
        finally:
            await connection.close()

    return await count_statements(
        asyncpg_dsn(admin_url), database.dsn, database.name, n, run
    )  # fmt: skip


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50, help="HTTP requests per range")
    parser.add_argument(
        "--naive-requests", type=int, default=10, help="naive computations per range"
    )
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument(
        "--count-requests",
        type=int,
        default=20,
        help="7-day grids sent with log_statement = 'all' after the timed runs, to count "
        "statements per grid in the PostgreSQL log (0: skip; default 20)",
    )
    parser.add_argument(
        "--timetable",
        action="store_true",
        help="measure the grid of a timetable service (200 weekly classes, 30 instructors, "
        "20,000 bookings) instead of the open class (needs class schedules, migration 0009)",
    )
    parser.add_argument("--json", help="also write the figures to this JSON file")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
