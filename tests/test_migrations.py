"""The migrations build the schema from nothing, repeat as a no-op and match the models."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import slotbook.models  # noqa: F401  (registers every table on the metadata)
from slotbook.migrations.runner import alembic_config, upgrade
from slotbook.storage import Base
from tests.databases import postgres_admin_url

CLI = Path(sys.executable).parent / "slotbook"
HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
async def empty_database_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no tables at all."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    admin_url = postgres_admin_url()
    assert admin_url is not None
    name = f"slotbook_migrations_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(_dsn(admin_url), timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(_dsn(admin_url), timeout=10)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def _schema(url: str) -> dict[str, Any]:
    """Tables, their columns and indexes, and the recorded revision."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:

            def inspect(sync: sa.Connection) -> dict[str, Any]:
                inspector = sa.inspect(sync)
                tables = sorted(inspector.get_table_names())
                return {
                    "tables": {
                        table: (
                            [c["name"] for c in inspector.get_columns(table)],
                            sorted(i["name"] or "" for i in inspector.get_indexes(table)),
                        )
                        for table in tables
                    },
                    "revision": MigrationContext.configure(sync).get_current_revision(),
                }

            return await connection.run_sync(inspect)
    finally:
        await engine.dispose()


async def test_the_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:

            def diff(sync: sa.Connection) -> list[Any]:
                context = MigrationContext.configure(sync, opts={"compare_type": True})
                return list(compare_metadata(context, Base.metadata))

            differences = await connection.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == [], "the models and the migrations disagree; add a migration"


def _cli_upgrade(url: str, var_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLOTBOOK_DATABASE_URL": url, "SLOTBOOK_VAR_DIR": str(var_dir)}
    return subprocess.run(
        [str(CLI), "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120
    )


async def test_migrations_build_an_empty_database_and_repeating_them_changes_nothing(
    empty_database_url: str, tmp_path: Path
) -> None:
    assert (await _schema(empty_database_url))["tables"] == {}
    first = await asyncio.to_thread(_cli_upgrade, empty_database_url, tmp_path / "var")
    assert first.returncode == 0, first.stderr
    assert "up to date" in first.stdout
    built = await _schema(empty_database_url)
    assert built["revision"] == HEAD
    assert set(Base.metadata.tables) <= set(built["tables"])
    await asyncio.to_thread(upgrade, empty_database_url)
    assert await _schema(empty_database_url) == built
    second = await asyncio.to_thread(_cli_upgrade, empty_database_url, tmp_path / "var")
    assert second.returncode == 0, second.stderr
    assert await _schema(empty_database_url) == built
    if empty_database_url.startswith("sqlite"):
        path = empty_database_url.split("///", 1)[1]
        with sqlite3.connect(path) as raw:
            assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
