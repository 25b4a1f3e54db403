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
from collections.abc import Sequence
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

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p99(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


async def measure_server(
    port: int, business: Business, first_day: date, days: int, requests: int
) -> tuple[Timing, dict[str, Any]]:
    path = f"{GRID}?{urlencode(grid_params(business, first_day, days))}"
    connection = HttpConnection("127.0.0.1", port)
    try:
        for _ in range(5):  # warm-up: connections, caches, lazy imports
            await get_grid(connection, path, business)
        samples = []
        body = b""
        for _ in range(requests):
            started = time.perf_counter()
            body = await get_grid(connection, path, business)
            samples.append((time.perf_counter() - started) * 1000)
    finally:
        await connection.close()
    grid: dict[str, Any] = json.loads(body)
    return Timing(samples, sum(len(v) for v in grid.values()), len(body)), grid


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
    dsn: str, business: Business, first_day: date, days: int, requests: int
) -> tuple[Timing, dict[str, Any]]:
    connection = await asyncpg.connect(dsn)
    try:
        grid = await naive_grid(connection, business, first_day, days)  # warm-up
        samples = []
        for _ in range(requests):
            started = time.perf_counter()
            grid = await naive_grid(connection, business, first_day, days)
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
    server: dict[int, Timing], naive: dict[int, Timing], appointments: int, load: tuple[str, str]
) -> str:
    rows = [
        "| grid | slots | response | requests | p50 ms | p99 ms | naive requests "
        "| naive p50 ms | naive p99 ms | speed-up (p50) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for days in RANGES:
        fast, slow = server[days], naive[days]
        rows.append(
            f"| {days} day{'s' if days > 1 else ''} | {fast.slots} "
            f"| {fast.response_bytes / 1024:.0f} KiB | {len(fast.samples_ms)} "
            f"| {fast.p50:.1f} | {fast.p99:.1f} | {len(slow.samples_ms)} "
            f"| {slow.p50:.0f} | {slow.p99:.0f} | {slow.p50 / fast.p50:.0f}x |"
        )
    return "\n".join(
        [
            f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            f"Machine: {machine()}",
            f"Load average (1, 5, 15 min) before: {load[0]}; after: {load[1]}",
            f"Data: 1 outlet, {STAFF_COUNT} staff, {RANGE_DAYS} days, {appointments} "
            f"appointments ({CANCELLED_SHARE:.0%} cancelled), class capacity {CLASS_CAPACITY}",
            "Server: slotbook serve --workers 2, PostgreSQL on the same machine; "
            "requests one at a time over one keep-alive connection",
            "",
            *rows,
        ]
    )


def write_json(
    path: str,
    fast: dict[int, Timing],
    slow: dict[int, Timing],
    load_before: str,
    counted: dict[str, Any] | None,
) -> None:
    Path(path).write_text(
        json.dumps(
            {
                "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC",
                "python": sys.executable,
                "load_before": load_before,
                "grids": {
                    str(days): {
                        "p50_ms": fast[days].p50,
                        "p99_ms": fast[days].p99,
                        "requests": len(fast[days].samples_ms),
                        "slots": fast[days].slots,
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
                business = await set_up_business(http)
                appointments = await fill_appointments(database.dsn, business, first_day, args.seed)
                load_before = load_average()
                print(f"load average before measuring: {load_before}", flush=True)
                fast: dict[int, Timing] = {}
                slow: dict[int, Timing] = {}
                for days in RANGES:
                    fast[days], served = await measure_server(
                        server.port, business, first_day, days, args.requests
                    )
                    print(f"server {days:>2} days: p50 {fast[days].p50:.1f} ms", flush=True)
                    slow[days], computed = await measure_naive(
                        database.dsn, business, first_day, days, args.naive_requests
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
        print(report(fast, slow, appointments, (load_before, load_average())))
        if args.json:
            write_json(args.json, fast, slow, load_before, counted)
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
    parser.add_argument("--json", help="also write the figures to this JSON file")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
