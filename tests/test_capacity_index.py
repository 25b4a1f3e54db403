"""The capacity query uses idx_appointment_parallel_booking_capacity on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import make_url

from slotbook.booking.repository import AppointmentRepository
from tests.scenarios import open_studio
from tests.support import Api


async def test_capacity_query_uses_the_capacity_index(
    api: Api, backend: str, database_url: str
) -> None:
    if backend != "postgres":
        pytest.skip("EXPLAIN plans are PostgreSQL's")
    studio = await open_studio(api)
    yoga = await studio.offer("Group Yoga", parallel=True, capacity=100)
    staff = [await studio.hire(f"Teacher {i:02d}", [yoga]) for i in range(10)]
    customer = await api.customer()
    tenant_id = (await api.get("/auth/me"))["tenant_id"]

    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        start = datetime(2027, 1, 4, 8, tzinfo=UTC)
        appointments, lines = [], []
        for n in range(6000):
            begins = start + timedelta(hours=n % 12 + 24 * (n // 120))
            appointment_id = uuid.uuid4().hex[:24]
            appointments.append(
                (
                    appointment_id,
                    tenant_id,
                    studio.outlet["id"],
                    customer["id"],
                    "confirmed",
                    begins.date(),
                    begins.time(),
                    (begins + timedelta(hours=1)).time(),
                    begins,
                    begins + timedelta(hours=1),
                    begins,
                )
            )
            lines.append(
                (
                    uuid.uuid4().hex[:24],
                    tenant_id,
                    appointment_id,
                    0,
                    staff[n % 10]["id"],
                    yoga["id"],
                    "confirmed",
                    begins,
                    begins + timedelta(hours=1),
                )
            )
        await connection.executemany(
            "INSERT INTO appointments (id, tenant_id, outlet_id, customer_id, status,"
            " appointment_date, start_time, end_time, starts_at, ends_at, created_at)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
            appointments,
        )
        await connection.executemany(
            "INSERT INTO appointment_lines (id, tenant_id, appointment_id, position, staff_id,"
            " service_id, status, starts_at, ends_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
            lines,
        )
        await connection.execute("ANALYZE appointment_lines")

        query = AppointmentRepository(None, tenant_id).active_lines_query(  # type: ignore[arg-type]
            [staff[3]["id"]], start + timedelta(days=20), start + timedelta(days=20, hours=1)
        )
        expanded = query.compile(dialect=asyncpg_dialect()).construct_expanded_state()
        plan = "\n".join(
            row[0]
            for row in await connection.fetch(
                f"EXPLAIN {expanded.statement}", *expanded.positional_parameters
            )
        )
    finally:
        await connection.close()
    print(plan)
    assert "idx_appointment_parallel_booking_capacity" in plan, plan
    assert "Seq Scan" not in plan, plan
