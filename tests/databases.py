"""Test databases, built by the migrations: SQLite copies a migrated template file per
test; PostgreSQL gets one migrated database per run, emptied between tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from slotbook.migrations.runner import upgrade

POSTGRES_ENV = "SLOTBOOK_TEST_POSTGRES_URL"
TABLES = (
    "notification_deliveries",
    "notification_reminders",
    "outbox_events",
    "public_rate_limits",
    "idempotency_records",
    "appointment_events",
    "appointment_lines",
    "appointments",
    "time_off",
    "staff_services",
    "staff",
    "services",
    "customers",
    "outlets",
    "users",
    "tenants",
)


def postgres_admin_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class SqliteTemplate:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.template = directory / "template.sqlite3"
        upgrade(f"sqlite+aiosqlite:///{self.template}")

    def fresh_url(self) -> str:
        path = self.directory / f"{uuid.uuid4().hex}.sqlite3"
        shutil.copyfile(self.template, path)
        return f"sqlite+aiosqlite:///{path}"


class PostgresDatabase:
    """A database of its own per test run, so parallel runs never meet."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.name = f"slotbook_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self.url = make_url(admin_url).set(database=self.name).render_as_string(hide_password=False)

    async def create(self) -> None:
        connection = await asyncpg.connect(_asyncpg_dsn(self.admin_url), timeout=10)
        try:
            await connection.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            await connection.close()
        await asyncio.to_thread(upgrade, self.url)

    async def truncate(self) -> None:
        connection = await asyncpg.connect(_asyncpg_dsn(self.url), timeout=10)
        try:
            await connection.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
        finally:
            await connection.close()

    async def drop(self) -> None:
        connection = await asyncpg.connect(_asyncpg_dsn(self.admin_url), timeout=10)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await connection.close()
