"""``slotbook worker`` as a process: it delivers what the server commits, and on
PostgreSQL two of them share the outbox, one killed mid-batch without losing an event."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from slotbook.app import create_app
from slotbook.clock import SystemClock
from slotbook.settings import Settings
from tests.databases import _asyncpg_dsn
from tests.live_server import LIVE_SECRET
from tests.mail_support import calendar_of, subject
from tests.support import Api, unique_email
from tests.worker_process import WorkerProcess, eml_files

pytestmark = pytest.mark.live


@asynccontextmanager
async def live_app(database_url: str, var_dir: Path) -> AsyncIterator[Api]:
    """The app in-process on the real clock, as a signed-in owner."""
    settings = Settings(
        database_url=database_url, secret_key=LIVE_SECRET, var_dir=var_dir, log_level="WARNING"
    )
    app: FastAPI = create_app(settings, clock=SystemClock())
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            api = Api(client)
            await api.signup("Lotus Yoga", email=unique_email("live"))
            yield api
    finally:
        await app.state.database.dispose()


def next_week() -> date:
    return datetime.now(UTC).date() + timedelta(days=7)


async def wait_for(predicate: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_slotbook_worker_delivers_a_booking_as_an_eml_file(
    fresh_database_url: str, tmp_path: Path
) -> None:
    var_dir = tmp_path / "var"
    mail_dir = var_dir / "outbox-mail"
    worker = WorkerProcess(fresh_database_url, var_dir, "one")
    try:
        async with live_app(fresh_database_url, var_dir) as api:
            outlet = await api.outlet(timezone="Europe/London")
            yoga = await api.service("Group Yoga", parallel=True, capacity=10)
            john = await api.staff("John Smith", outlet, [yoga])
            customer = await api.post(
                "/customers", {"name": "Ann Smith", "email": "ann@example.com"}
            )
            booked = await api.book(
                outlet, yoga, john, customer=customer, date=next_week().isoformat()
            )

            async def written() -> bool:
                return len(eml_files(mail_dir)) == 1 if mail_dir.exists() else False

            await wait_for(written, 30, "the worker's .eml file")
        [eml] = eml_files(mail_dir)
        assert str(eml.message["To"]) == "Ann Smith <ann@example.com>"
        assert subject(eml.message).startswith("Booking confirmed: Group Yoga, ")
        [entry] = calendar_of(eml.message).walk("VEVENT")
        assert str(entry["UID"]) == f"{booked['id']}@slotbook"
    finally:
        status = worker.stop()
    assert status == 0, worker.log_text()
    log = worker.log_text()
    assert "email_written" in log and str(eml.path) in log
    assert "worker_stopped" in log


BOOKINGS = 500
CANCELLED = 50
STAFF = 5
CUSTOMERS = 10


async def test_two_workers_one_killed_mid_batch_deliver_every_event(
    backend: str, fresh_database_url: str, tmp_path: Path
) -> None:
    if backend == "sqlite":
        pytest.skip("several workers at once is PostgreSQL's deployment; SQLite runs one")
    started = time.monotonic()
    var_dir = tmp_path / "var"
    mail_dir = var_dir / "outbox-mail"
    worker_env = {"SLOTBOOK_WORKER_LEASE_SECONDS": "3", "SLOTBOOK_WORKER_BATCH_SIZE": "25"}
    database = await asyncpg.connect(_asyncpg_dsn(fresh_database_url))
    workers: list[WorkerProcess] = []
    try:
        async with live_app(fresh_database_url, var_dir) as api:
            outlet = await api.outlet(timezone="Europe/London")
            yoga = await api.service("Group Yoga", parallel=True, capacity=10)
            staff = [await api.staff(f"Teacher {n}", outlet, [yoga]) for n in range(STAFF)]
            customers = [
                await api.post("/customers", {"name": f"C{n}", "email": f"c{n}@example.com"})
                for n in range(CUSTOMERS)
            ]
            day = next_week().isoformat()
            gate = asyncio.Semaphore(8)
            booked: list[dict[str, Any]] = []

            async def book(number: int) -> None:
                # 5 teachers x 10 hours, each session filled by 10 different customers.
                member, hour = staff[number % STAFF], 8 + (number // STAFF) % 10
                customer = customers[number // (STAFF * 10) % CUSTOMERS]
                async with gate:
                    booked.append(
                        await api.book(
                            outlet,
                            yoga,
                            member,
                            customer=customer,
                            date=day,
                            start=f"{hour:02d}:00",
                        )
                    )

            await asyncio.gather(*(book(n) for n in range(150)))
            workers = [
                WorkerProcess(fresh_database_url, var_dir, name, worker_env) for name in ("a", "b")
            ]
            victim = workers[0]
            more = asyncio.gather(*(book(n) for n in range(150, BOOKINGS)))

            # Kill the first worker while it holds claims it has not settled.
            holding = (
                "SELECT count(*) FROM outbox_events WHERE status = 'pending' "
                "AND claimed_by LIKE $1 AND claimed_until > now()"
            )
            pattern = f"%:{victim.pid}:%"
            deadline = time.monotonic() + 20
            while await database.fetchval(holding, pattern) < 5:
                assert time.monotonic() < deadline, victim.log_text()
                await asyncio.sleep(0.002)
            victim.kill()
            orphaned = {
                row["id"]
                for row in await database.fetch(
                    "SELECT id FROM outbox_events WHERE status = 'pending' AND claimed_by LIKE $1",
                    pattern,
                )
            }
            assert orphaned, "the worker was killed mid-batch"
            await more
            for appointment in booked[:CANCELLED]:
                await api.cancel(appointment)

        async def all_delivered() -> bool:
            left = await database.fetchval(
                "SELECT count(*) FROM outbox_events WHERE status <> 'delivered'"
            )
            return int(left) == 0

        try:
            await wait_for(all_delivered, 30, "every event delivered")
        except AssertionError:
            left = await database.fetch(
                "SELECT type, status, count(*), max(attempts), min(available_at), "
                "max(claimed_until), now() FROM outbox_events GROUP BY type, status"
            )
            raise AssertionError(
                f"{[dict(r) for r in left]}\n{workers[1].log_text()[-3000:]}"
            ) from None
    finally:
        for worker in workers[1:]:
            assert worker.stop() == 0, worker.log_text()
        events = await database.fetch("SELECT id, type, payload FROM outbox_events")
        await database.close()

    mailed = {
        row["id"]: row
        for row in events
        if row["type"] in ("appointment.created", "appointment.cancelled")
    }
    assert len(mailed) == BOOKINGS + CANCELLED
    assert {row["type"] for row in events} >= {"session.almost_full", "session.full"}
    files = eml_files(mail_dir)
    by_event: dict[str, list[Any]] = defaultdict(list)
    for eml in files:
        by_event[eml.event_id].append(eml)
    assert set(by_event) == set(mailed), "every event delivered, nothing unknown"
    duplicates = {event_id: copies for event_id, copies in by_event.items() if len(copies) > 1}
    for copies in duplicates.values():
        assert len({str(c.message["Message-ID"]) for c in copies}) == 1
        assert len({str(c.message["To"]) for c in copies}) == 1
    assert set(duplicates) <= orphaned, "only the killed worker's claims may repeat"
    # In order per appointment: a cancellation never before its confirmation.
    first_written: dict[tuple[str, str], int] = {}
    for event_id, copies in by_event.items():
        row = mailed[event_id]
        key = (row["type"], _appointment_of(row["payload"]))
        first_written[key] = min(c.written_ns for c in copies)
    for appointment in booked[:CANCELLED]:
        confirmed = first_written[("appointment.created", appointment["id"])]
        assert confirmed < first_written[("appointment.cancelled", appointment["id"])]
    assert time.monotonic() - started < 60


def _appointment_of(payload: Any) -> str:
    import json

    data = json.loads(payload) if isinstance(payload, str) else payload
    return str(data["appointment_id"])
