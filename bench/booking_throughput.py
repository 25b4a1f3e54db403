"""Booking throughput: the engine's SQL ceiling against the real server.

Run from the repository root (PostgreSQL must be running):

    .venv/bin/python bench/booking_throughput.py

Another checkout's code: run this script with that tree's interpreter, e.g.
``/work/before/.venv/bin/python bench/booking_throughput.py`` (its ``slotbook`` package, migrations
and server binary; ``bench/compare.py`` does this). After the timed runs it counts SQL
statements per request in the PostgreSQL log (``statement_count.py``, ``--count-requests``).

It creates a database of its own (dropped at the end), migrates it, starts
``slotbook serve --workers 2`` on it, sets up a tenant with 200 staff, and measures:

(a) ceiling: the engine's booking transaction (lock the staff row, read the active
    lines, insert appointment + line + event) driven directly with asyncpg;
(b) bookings through the API, spread over the 200 staff;
(c) one class of capacity 1,000 on one staff member (all on one row lock);
(d) GET /healthz: the framework floor;
(e) cancellations of full classes, half of them with 50 customers waiting (each such
    cancel promotes the next in line in its own transaction) and half without, in one
    run: the cost of promotion beside a plain cancel. Skipped on code without a
    waitlist.

Every booking is made for a customer of its own (a customer holds one place per
session), from a pool of customers written with SQL before the runs.

The load generator speaks HTTP/1.1 over keep-alive sockets itself (one connection per
client): httpx in one process costs more CPU per request than the server does.
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
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from http_client import HttpConnection  # noqa: E402
from statement_count import count_statements, describe  # noqa: E402
from tests.live_server import LiveServer  # noqa: E402

from slotbook.ids import new_id  # noqa: E402
from slotbook.migrations.runner import upgrade  # noqa: E402

DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ALL_DAY = {day: [{"start": "00:00", "end": "23:55"}] for day in DAYS}
STAFF_COUNT = 200
SLOT_MINUTES = 5
CUSTOMER_COUNT = 4000
# (e): classes of this many places, full, half of them with as many customers waiting.
WAITLIST_CLASSES = 10
WAITLIST_CLASS_SIZE = 50


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# Measurement


@dataclass
class Result:
    name: str
    ok: int = 0
    other: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float | None = None

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ppid, utime, stime = int(fields[1]), int(fields[11]), int(fields[12])
        if int(entry.name) == pid or ppid == pid:
            total += (utime + stime) / ticks
    return total


async def run_clients(
    result: Result,
    clients: int,
    seconds: float,
    one: Callable[[int, int], Awaitable[int]],
    *,
    server_pid: int | None = None,
    stop_when: Callable[[], bool] | None = None,
) -> Result:
    """``one(client, n)`` does one operation and returns its status (2xx counts as ok)."""
    deadline = time.perf_counter() + seconds
    cpu0 = time.process_time()
    server0 = process_tree_cpu(server_pid) if server_pid else 0.0

    async def client(index: int) -> None:
        n = 0
        while time.perf_counter() < deadline and not (stop_when and stop_when()):
            started = time.perf_counter()
            status = await one(index, n)
            result.latencies.append(time.perf_counter() - started)
            n += 1
            if 200 <= status < 300:
                result.ok += 1
            else:
                result.other[status] = result.other.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    result.seconds = time.perf_counter() - started
    result.client_cpu = time.process_time() - cpu0
    if server_pid:
        result.server_cpu = process_tree_cpu(server_pid) - server0
    return result


# Setup through the API


@dataclass
class Tenant:
    token: str
    tenant_id: str
    user_id: str
    outlet_id: str
    customer_id: str
    service_id: str
    class_service_id: str
    staff_ids: list[str]
    class_staff_id: str
    customer_ids: list[str] = field(default_factory=list)
    _next_customer: int = 0

    def next_customer(self) -> str:
        """Customers in turn: no two bookings of one session share a customer."""
        customer = self.customer_ids[self._next_customer % len(self.customer_ids)]
        self._next_customer += 1
        return customer


async def add_customers(dsn: str, tenant: Tenant, count: int) -> None:
    """The customer pool, written with SQL (the API would take minutes)."""
    con = await asyncpg.connect(dsn)
    now = datetime.now(UTC)
    rows = [
        (new_id(), tenant.tenant_id, f"Bench Customer {n}", f"bench{n}@example.com", None, now)
        for n in range(count)
    ]
    try:
        await con.executemany(
            "INSERT INTO customers (id, tenant_id, name, email, phone, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            rows,
        )
    finally:
        await con.close()
    tenant.customer_ids = [row[0] for row in rows]


async def api(
    conn: HttpConnection, method: str, path: str, body: Any = None, token: str | None = None
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = json.dumps(body).encode() if body is not None else b""
    status, payload = await conn.request(method, f"/api/v1{path}", data, headers)
    if status >= 300:
        raise RuntimeError(f"{method} {path}: {status} {payload[:300]!r}")
    return json.loads(payload)


async def set_up_tenant(port: int) -> Tenant:
    conn = HttpConnection("127.0.0.1", port)
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    signup = await api(
        conn,
        "POST",
        "/auth/signup",
        {"business_name": "Bench Studio", "email": email, "password": "bench-password-1"},
    )
    token = signup["access_token"]
    outlet = await api(conn, "POST", "/outlets", {"name": "Main", "timezone": "UTC"}, token)
    service = await api(
        conn, "POST", "/services", {"name": "Quick check", "duration": SLOT_MINUTES}, token
    )
    klass = await api(
        conn,
        "POST",
        "/services",
        {
            "name": "Big class",
            "duration": 60,
            "allow_parallel_bookings": True,
            "max_parallel_bookings": 100,
        },
        token,
    )
    customer = await api(conn, "POST", "/customers", {"name": "Bench Customer"}, token)
    conns = [HttpConnection("127.0.0.1", port) for _ in range(8)]

    async def make_staff(worker: int) -> list[str]:
        ids = []
        for n in range(worker, STAFF_COUNT, len(conns)):
            body = {
                "name": f"Staff {n:03d}",
                "outlet_id": outlet["id"],
                "service_ids": [service["id"]],
                "working_hours": ALL_DAY,
            }
            ids.append((await api(conns[worker], "POST", "/staff", body, token))["id"])
        return ids

    staff_ids = [i for chunk in await asyncio.gather(*map(make_staff, range(8))) for i in chunk]
    class_staff = await api(
        conn,
        "POST",
        "/staff",
        {
            "name": "Class teacher",
            "outlet_id": outlet["id"],
            "service_ids": [klass["id"]],
            "working_hours": ALL_DAY,
        },
        token,
    )
    for c in [conn, *conns]:
        await c.close()
    return Tenant(
        token=token,
        tenant_id=signup["tenant_id"],
        user_id=signup["user"]["id"],
        outlet_id=outlet["id"],
        customer_id=customer["id"],
        service_id=service["id"],
        class_service_id=klass["id"],
        staff_ids=staff_ids,
        class_staff_id=class_staff["id"],
    )


class SlotCursor:
    """Hands out distinct (staff, start) pairs, cycling over the staff."""

    def __init__(self, staff_ids: list[str], first_day: date) -> None:
        self.staff_ids = staff_ids
        self.first = datetime.combine(first_day, datetime.min.time(), tzinfo=UTC)
        self.n = 0

    def next(self) -> tuple[str, datetime]:
        n = self.n
        self.n += 1
        staff = self.staff_ids[n % len(self.staff_ids)]
        slot = n // len(self.staff_ids)  # 287 five-minute slots a day (00:00-23:55)
        day, index = divmod(slot, 287)
        return staff, self.first + timedelta(days=day, minutes=SLOT_MINUTES * index)


# (a) the ceiling: the engine's transaction, straight through asyncpg

LOCK_SQL = (
    "SELECT id FROM staff WHERE tenant_id = $1 AND id = ANY($2::varchar[]) ORDER BY id FOR UPDATE"
)
LINES_SQL = """
SELECT staff_id, appointment_id, service_id, starts_at, ends_at FROM appointment_lines
WHERE tenant_id = $1 AND staff_id = ANY($2::varchar[]) AND starts_at > $3 AND starts_at < $4
  AND ends_at > $5 AND status = ANY($6::varchar[]) ORDER BY starts_at
"""
APPOINTMENT_SQL = """
INSERT INTO appointments (id, tenant_id, outlet_id, customer_id, status, appointment_date,
  start_time, end_time, starts_at, ends_at, notes, created_by, created_at, cancelled_at,
  cancel_reason)
VALUES ($1, $2, $3, $4, 'confirmed', $5, $6, $7, $8, $9, NULL, $10, $11, NULL, NULL)
"""
LINE_SQL = """
INSERT INTO appointment_lines (id, tenant_id, appointment_id, position, staff_id, service_id,
  status, starts_at, ends_at) VALUES ($1, $2, $3, 0, $4, $5, 'confirmed', $6, $7)
"""
EVENT_SQL = """
INSERT INTO appointment_events (id, tenant_id, appointment_id, type, at, user_id, data)
VALUES ($1, $2, $3, 'created', $4, $5, $6)
"""
ACTIVE = ["completed", "confirmed", "pending"]


async def ceiling(
    dsn: str, tenant: Tenant, cursor: SlotCursor, clients: int, seconds: float
) -> Result:
    pool = await asyncpg.create_pool(dsn, min_size=clients, max_size=clients)
    assert pool is not None

    async def one(_client: int, _n: int) -> int:
        staff_id, start = cursor.next()
        end = start + timedelta(minutes=SLOT_MINUTES)
        appointment_id = new_id()
        now = datetime.now(UTC)
        async with pool.acquire() as con, con.transaction():
            await con.fetch(LOCK_SQL, tenant.tenant_id, [staff_id])
            rows = await con.fetch(
                LINES_SQL,
                tenant.tenant_id,
                [staff_id],
                start - timedelta(days=1),
                end,
                start,
                ACTIVE,
            )
            if rows:
                return 409
            await con.execute(
                APPOINTMENT_SQL,
                appointment_id,
                tenant.tenant_id,
                tenant.outlet_id,
                tenant.customer_id,
                start.date(),
                start.time(),
                end.time(),
                start,
                end,
                tenant.user_id,
                now,
            )
            await con.execute(
                LINE_SQL,
                new_id(),
                tenant.tenant_id,
                appointment_id,
                staff_id,
                tenant.service_id,
                start,
                end,
            )
            await con.execute(
                EVENT_SQL,
                new_id(),
                tenant.tenant_id,
                appointment_id,
                now,
                tenant.user_id,
                json.dumps({"status": "confirmed", "date": start.date().isoformat()}),
            )
        return 201

    try:
        return await run_clients(Result("(a) SQL ceiling, asyncpg"), clients, seconds, one)
    finally:
        await pool.close()


async def prefill_class(dsn: str, tenant: Tenant, when: datetime, count: int) -> None:
    """Book ``count`` places of the class with SQL, so (c) reaches the capacity of 1,000
    within its run and each booking counts a big session, as a full class does."""
    con = await asyncpg.connect(dsn)
    end = when + timedelta(minutes=60)
    now = datetime.now(UTC)
    try:
        async with con.transaction():
            for _ in range(count):
                appointment_id = new_id()
                await con.execute(
                    APPOINTMENT_SQL,
                    appointment_id,
                    tenant.tenant_id,
                    tenant.outlet_id,
                    tenant.customer_id,
                    when.date(),
                    when.time(),
                    end.time(),
                    when,
                    end,
                    tenant.user_id,
                    now,
                )
                await con.execute(
                    LINE_SQL,
                    new_id(),
                    tenant.tenant_id,
                    appointment_id,
                    tenant.class_staff_id,
                    tenant.class_service_id,
                    when,
                    end,
                )
        await con.execute("ANALYZE appointment_lines")
    finally:
        await con.close()


# (b), (c), (d) through the server


def booking_body(tenant: Tenant, service_id: str, staff_id: str, start: datetime) -> bytes:
    return json.dumps(
        {
            "outlet_id": tenant.outlet_id,
            "customer_id": tenant.next_customer(),
            "appointment_date": start.date().isoformat(),
            "start_time": start.strftime("%H:%M"),
            "services": [{"service_id": service_id, "staff_id": staff_id}],
        }
    ).encode()


async def api_bookings(
    port: int, server_pid: int, tenant: Tenant, cursor: SlotCursor, clients: int, seconds: float
) -> Result:
    conns = [HttpConnection("127.0.0.1", port) for _ in range(clients)]
    headers = {"Authorization": f"Bearer {tenant.token}"}

    async def one(client: int, _n: int) -> int:
        staff_id, start = cursor.next()
        body = booking_body(tenant, tenant.service_id, staff_id, start)
        status, _ = await conns[client].request("POST", "/api/v1/appointments", body, headers)
        return status

    try:
        return await run_clients(
            Result("(b) API bookings, 200 staff"), clients, seconds, one, server_pid=server_pid
        )
    finally:
        for conn in conns:
            await conn.close()


async def class_bookings(
    port: int, server_pid: int, tenant: Tenant, when: datetime, clients: int, seconds: float
) -> tuple[Result, int]:
    conns = [HttpConnection("127.0.0.1", port) for _ in range(clients)]
    headers = {"Authorization": f"Bearer {tenant.token}"}
    full = {"refusals": 0}

    async def one(client: int, _n: int) -> int:
        body = booking_body(tenant, tenant.class_service_id, tenant.class_staff_id, when)
        status, payload = await conns[client].request("POST", "/api/v1/appointments", body, headers)
        if status == 409 and b"capacity_reached" in payload:
            full["refusals"] += 1
        return status

    try:
        result = await run_clients(
            Result("(c) one class, capacity 1000"),
            clients,
            seconds,
            one,
            server_pid=server_pid,
            stop_when=lambda: full["refusals"] >= 2 * clients,
        )
    finally:
        for conn in conns:
            await conn.close()
    return result, full["refusals"]


async def healthz(port: int, server_pid: int, clients: int, seconds: float) -> Result:
    conns = [HttpConnection("127.0.0.1", port) for _ in range(clients)]

    async def one(client: int, _n: int) -> int:
        status, _ = await conns[client].request("GET", "/healthz")
        return status

    try:
        return await run_clients(
            Result("(d) GET /healthz"), clients, seconds, one, server_pid=server_pid
        )
    finally:
        for conn in conns:
            await conn.close()


async def cancellations(
    port: int, server_pid: int, tenant: Tenant, day: date, clients: int
) -> tuple[Result, Result] | None:
    """(e): cancel every place of full classes, half with a waitlist as long as the class.

    Set up through the API: 2 x WAITLIST_CLASSES classes, each with its own teacher (so
    classes do not share a lock), every place booked, and WAITLIST_CLASS_SIZE customers
    waiting for each class of the waitlist service. Then all their places are cancelled
    by ``clients`` clients, the two kinds shuffled together in one run; each cancel of a
    waitlist class promotes one waiting customer. None when the server has no waitlist.
    """
    conn = HttpConnection("127.0.0.1", port)
    token = tenant.token
    try:
        status, _ = await conn.request(
            "GET", "/api/v1/waitlist", b"", {"Authorization": f"Bearer {token}"}
        )
        if status == 404:
            return None
        services = {}
        for kind, waitlist in (("waitlist", True), ("plain", False)):
            body: dict[str, Any] = {
                "name": f"Class ({kind})",
                "duration": 60,
                "allow_parallel_bookings": True,
                "max_parallel_bookings": WAITLIST_CLASS_SIZE,
            }
            if waitlist:
                body["waitlist_enabled"] = True
            services[kind] = (await api(conn, "POST", "/services", body, token))["id"]
        start = datetime.combine(day, datetime.min.time(), tzinfo=UTC).replace(hour=10)
        sessions = []
        for kind, service_id in services.items():
            for n in range(WAITLIST_CLASSES):
                teacher = await api(
                    conn,
                    "POST",
                    "/staff",
                    {
                        "name": f"Teacher {kind} {n}",
                        "outlet_id": tenant.outlet_id,
                        "service_ids": [service_id],
                        "working_hours": ALL_DAY,
                    },
                    token,
                )
                sessions.append((kind, service_id, teacher["id"]))
    finally:
        await conn.close()
    setup = [HttpConnection("127.0.0.1", port) for _ in range(8)]
    to_cancel: list[tuple[str, str]] = []

    async def fill(worker: int) -> None:
        for index in range(worker, len(sessions), len(setup)):
            kind, service_id, staff_id = sessions[index]
            for _ in range(WAITLIST_CLASS_SIZE):
                body = booking_body(tenant, service_id, staff_id, start)
                booked = await api(setup[worker], "POST", "/appointments", json.loads(body), token)
                to_cancel.append((kind, booked["id"]))
            if kind != "waitlist":
                continue
            for _ in range(WAITLIST_CLASS_SIZE):
                join = {
                    "outlet_id": tenant.outlet_id,
                    "customer_id": tenant.next_customer(),
                    "service_id": service_id,
                    "staff_id": staff_id,
                    "date": start.date().isoformat(),
                    "start_time": start.strftime("%H:%M"),
                }
                await api(setup[worker], "POST", "/waitlist", join, token)

    try:
        await asyncio.gather(*(fill(w) for w in range(len(setup))))
    finally:
        for c in setup:
            await c.close()
    random.Random(7).shuffle(to_cancel)
    queue = iter(to_cancel)
    results = {
        "waitlist": Result("(e) cancel, 50 waiting: promotes"),
        "plain": Result("(e) cancel, nobody waiting"),
    }
    conns = [HttpConnection("127.0.0.1", port) for _ in range(clients)]
    headers = {"Authorization": f"Bearer {token}"}
    cpu0 = time.process_time()
    server0 = process_tree_cpu(server_pid)

    async def client(index: int) -> None:
        for kind, appointment_id in queue:
            result = results[kind]
            began = time.perf_counter()
            status, _ = await conns[index].request(
                "PUT", f"/api/v1/appointments/{appointment_id}/cancel", b"", headers
            )
            result.latencies.append(time.perf_counter() - began)
            if 200 <= status < 300:
                result.ok += 1
            else:
                result.other[status] = result.other.get(status, 0) + 1

    began = time.perf_counter()
    try:
        await asyncio.gather(*(client(i) for i in range(clients)))
    finally:
        for c in conns:
            await c.close()
    elapsed = time.perf_counter() - began
    server_cpu = process_tree_cpu(server_pid) - server0
    total = sum(r.ok + sum(r.other.values()) for r in results.values())
    for result in results.values():
        # One run, two kinds: rates are each kind's cancels over the run's time, and the
        # server's CPU is shared out by request count.
        result.seconds = elapsed
        result.client_cpu = time.process_time() - cpu0
        share = (result.ok + sum(result.other.values())) / max(1, total)
        result.server_cpu = server_cpu * share
    return results["waitlist"], results["plain"]


async def promoted_count(dsn: str, tenant: Tenant) -> int:
    con = await asyncpg.connect(dsn)
    try:
        return int(
            await con.fetchval(
                "SELECT count(*) FROM waitlist_entries WHERE tenant_id = $1"
                " AND status = 'promoted'",
                tenant.tenant_id,
            )
        )
    finally:
        await con.close()


async def set_class_capacity(port: int, tenant: Tenant, capacity: int) -> None:
    conn = HttpConnection("127.0.0.1", port)
    try:
        await api(
            conn,
            "PATCH",
            f"/services/{tenant.class_service_id}",
            {"max_parallel_bookings": capacity},
            tenant.token,
        )
    except RuntimeError:
        # The contract caps max_parallel_bookings at 100: raise it in the database instead.
        pass
    finally:
        await conn.close()


def profile_workers(
    server: LiveServer, seconds: int, out_dir: Path
) -> list[subprocess.Popen[bytes]]:
    """py-spy on each worker during (b), when ``--profile`` is given and py-spy exists."""
    py_spy = Path(sys.executable).parent / "py-spy"
    if not py_spy.exists() or server.process is None:
        print("py-spy not found; skipping the profile", file=sys.stderr)
        return []
    workers = [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and _ppid(entry) == server.process.pid
    ]
    procs = []
    for pid in workers:
        procs.append(
            subprocess.Popen(
                [
                    str(py_spy),
                    "record",
                    "-p",
                    str(pid),
                    "-d",
                    str(seconds),
                    "-r",
                    "200",
                    "-f",
                    "raw",
                    "-o",
                    str(out_dir / f"profile-{pid}.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    return procs


def _ppid(entry: Path) -> int:
    try:
        return int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


async def main(args: argparse.Namespace) -> int:
    admin_url = os.environ.get("SLOTBOOK_BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL)
    name = f"slotbook_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    admin = await asyncpg.connect(asyncpg_dsn(admin_url), timeout=10)
    await admin.execute(f'CREATE DATABASE "{name}"')
    var_dir = Path(tempfile.mkdtemp(prefix="slotbook-bench-"))
    results: list[Result] = []
    try:
        await asyncio.to_thread(upgrade, url)
        extra_env = {"SLOTBOOK_LOG_LEVEL": args.log_level, **dict(args.env)}
        with LiveServer(url, workers=args.workers, var_dir=var_dir, extra_env=extra_env) as server:
            assert server.process is not None
            pid = server.process.pid
            tenant = await set_up_tenant(server.port)
            dsn = asyncpg_dsn(url)
            await add_customers(dsn, tenant, CUSTOMER_COUNT)
            con = await asyncpg.connect(dsn)
            await con.execute(
                "UPDATE services SET max_parallel_bookings = 1000 WHERE id = $1",
                tenant.class_service_id,
            )
            await con.execute("ANALYZE")
            await con.close()
            today = datetime.now(UTC).date()
            s = args.seconds
            # Warm-up (connections, statement caches), not measured.
            await api_bookings(
                server.port,
                pid,
                tenant,
                SlotCursor(tenant.staff_ids, today + timedelta(days=400)),
                16,
                2,
            )
            a = await ceiling(
                dsn, tenant, SlotCursor(tenant.staff_ids, today + timedelta(days=10)), 16, s
            )
            profilers = profile_workers(server, int(s), var_dir) if args.profile else []
            b = await api_bookings(
                server.port,
                pid,
                tenant,
                SlotCursor(tenant.staff_ids, today + timedelta(days=100)),
                16,
                s,
            )
            for proc in profilers:
                proc.wait(timeout=60)
            when = datetime.combine(today + timedelta(days=30), datetime.min.time(), tzinfo=UTC)
            when = when.replace(hour=10)
            await prefill_class(dsn, tenant, when, args.class_prefill)
            c, refusals = await class_bookings(server.port, pid, tenant, when, 32, s)
            d = await healthz(server.port, pid, 16, s)
            results = [a, b, c, d]
            e = await cancellations(server.port, pid, tenant, today + timedelta(days=60), 16)
            promoted = 0
            if e is not None:
                results.extend(e)
                promoted = await promoted_count(dsn, tenant)
            con = await asyncpg.connect(dsn)
            in_db = await con.fetchval(
                "SELECT count(*) FROM appointment_lines"
                " WHERE service_id = $1 AND status = 'confirmed'",
                tenant.class_service_id,
            )
            await con.close()
            requests_c = c.ok + sum(c.other.values())
            report(
                results,
                args,
                in_db=in_db,
                requests_c=requests_c,
                refusals=refusals,
                promoted=promoted,
            )
            counted = None
            if args.count_requests:
                counted = await count_booking_statements(
                    admin_url, dsn, name, server.port, tenant, today, args.count_requests
                )
                print(describe(counted, "booking (b)"))
            if args.json:
                write_json(
                    args, results, counted, in_db=in_db, refusals=refusals, promoted=promoted
                )
            in_db -= args.class_prefill
            # 503s are lock waits past SLOTBOOK_LOCK_TIMEOUT_MS: bounded, refused, retryable.
            decided = c.ok + refusals
            expected = min(decided, 1000 - args.class_prefill)
            unexpected = {k: v for k, v in c.other.items() if k not in (409, 503)}
            if c.ok != expected or in_db != expected or unexpected:
                print(f"FAIL: class accepted {c.ok} (in DB {in_db}), expected {expected}")
                print(f"unexpected answers: {unexpected}")
                return 1
            waiting = WAITLIST_CLASSES * WAITLIST_CLASS_SIZE
            if e is not None and promoted != waiting:
                print(f"FAIL: {promoted} promoted, expected {waiting}")
                return 1
    finally:
        print(f"server log and profiles: {var_dir}")
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return 0


async def count_booking_statements(
    admin_url: str, dsn: str, name: str, port: int, tenant: Tenant, today: date, n: int
) -> dict[str, Any]:
    """N bookings like (b), one at a time on one connection, with statement logging on."""
    cursor = SlotCursor(tenant.staff_ids, today + timedelta(days=700))
    headers = {"Authorization": f"Bearer {tenant.token}"}

    async def run() -> None:
        conn = HttpConnection("127.0.0.1", port)
        try:
            for _ in range(n):
                staff_id, start = cursor.next()
                body = booking_body(tenant, tenant.service_id, staff_id, start)
                status, payload = await conn.request("POST", "/api/v1/appointments", body, headers)
                if status != 201:
                    raise RuntimeError(f"counting booking: {status} {payload[:200]!r}")
        finally:
            await conn.close()

    return await count_statements(asyncpg_dsn(admin_url), dsn, name, n, run)


def write_json(
    args: argparse.Namespace, results: list[Result], counted: dict[str, Any] | None, **info: int
) -> None:
    runs = {}
    for key, r in zip(("a", "b", "c", "d", "e_promote", "e_plain"), results, strict=False):
        requests = r.ok + sum(r.other.values())
        runs[key] = {
            "name": r.name,
            "rate": r.rate,
            "p50_ms": r.pct(0.5),
            "p99_ms": r.pct(0.99),
            "ok": r.ok,
            "other": {str(k): v for k, v in r.other.items()},
            "seconds": r.seconds,
            "client_cpu_share": r.client_cpu / r.seconds,
            "server_cpu_share": None if r.server_cpu is None else r.server_cpu / r.seconds,
            "server_cpu_ms_per_request": (
                None if r.server_cpu is None else r.server_cpu * 1000 / max(1, requests)
            ),
        }
    out = {
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC",
        "python": sys.executable,
        "server": str(Path(sys.executable).parent / "slotbook"),
        "seconds": args.seconds,
        "runs": runs,
        "class": info,
        "statements": counted,
        "loadavg_end": os.getloadavg(),
    }
    Path(args.json).write_text(json.dumps(out, indent=2))


def report(results: list[Result], args: argparse.Namespace, **c_info: int) -> None:
    a, b, c, d = results[:4]
    print()
    print(
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  machine: {platform.node()} "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    env = " ".join(f"{k}={v}" for k, v in args.env)
    print(
        f"server: slotbook serve --workers {args.workers}, "
        f"SLOTBOOK_LOG_LEVEL={args.log_level} {env}".rstrip()
    )
    print()
    print(
        "| run | ok/s | p50 ms | p99 ms | ok | other | client CPU | server CPU | server CPU/req |"
    )
    print("|---|---:|---:|---:|---:|---|---:|---:|---:|")
    for r in results:
        server_cpu = per_request = "-"
        if r.server_cpu is not None:
            server_cpu = f"{r.server_cpu / r.seconds:.0%}"
            per_request = f"{r.server_cpu * 1000 / max(1, r.ok + sum(r.other.values())):.2f} ms"
        print(
            f"| {r.name} | {r.rate:.0f} | {r.pct(0.5):.1f} | {r.pct(0.99):.1f} | {r.ok} "
            f"| {r.other or '-'} | {r.client_cpu / r.seconds:.0%} | {server_cpu} | {per_request} |"
        )
    print()
    print(f"(b)/(a) = {b.rate / a.rate:.2f}   (target >= 0.25)")
    print(f"(c)/(b) = {c.rate / b.rate:.2f}")
    print(f"(b)/(d) = {b.rate / d.rate:.2f}")
    print(f"p99 of (b) = {b.pct(0.99):.1f} ms  (target <= 50 ms)")
    print(
        f"(c): {c_info['requests_c']} requests, {c.ok} accepted, {c_info['refusals']} refused "
        f"capacity_reached, {c_info['in_db']} in the database "
        f"(incl. {args.class_prefill} prefilled by SQL); "
        f"(c) rate is accepted bookings over {c.seconds:.1f} s"
    )
    if len(results) > 4:
        promote, plain = results[4:6]
        print(
            f"(e): {promote.ok + plain.ok} cancels, {c_info['promoted']} customers promoted; "
            f"p99 with promotion {promote.pct(0.99):.1f} ms vs plain {plain.pct(0.99):.1f} ms"
        )
    print("CPU: share of one core (client = this process; server = all workers), and server")
    print("CPU seconds per request (load-independent: what the request costs the server).")
    print(f"load average at the end: {os.getloadavg()}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--log-level", default="INFO", help="SLOTBOOK_LOG_LEVEL of the server")
    parser.add_argument(
        "--class-prefill",
        type=int,
        default=600,
        help="places of the 1,000-place class booked with SQL before (c) (default 600)",
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the workers during (b)")
    parser.add_argument(
        "--count-requests",
        type=int,
        default=50,
        help="bookings sent one at a time with log_statement = 'all' after the timed runs, to "
        "count statements per booking in the PostgreSQL log (0: skip; default 50)",
    )
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        type=lambda item: tuple(item.split("=", 1)),
        metavar="SLOTBOOK_X=VALUE",
        help="extra server environment (repeatable), e.g. SLOTBOOK_DB_POOL_PRE_PING=false",
    )
    return parser.parse_args()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    sys.exit(asyncio.run(main(parse_args())))
