from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from slotbook.app import create_app
from slotbook.auth import security
from slotbook.clock import FixedClock
from slotbook.settings import Settings
from tests.databases import POSTGRES_ENV, PostgresDatabase, SqliteTemplate, postgres_admin_url
from tests.support import Api

# Tests stand on a Tuesday; the brief's scenarios book the following Monday.
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
TEST_SECRET = "test-secret-key-for-slotbook-tests-0123456789"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "backend" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at production cost takes ~0.3 s a hash; tests sign up many businesses."""
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    return SqliteTemplate(tmp_path_factory.mktemp("sqlite"))


@pytest.fixture(scope="session")
async def postgres_database() -> AsyncIterator[PostgresDatabase | None]:
    admin_url = postgres_admin_url()
    if admin_url is None:
        yield None
        return
    database = PostgresDatabase(admin_url)
    await database.create()  # a set but unreachable URL fails here, loudly
    yield database
    await database.drop()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres" and postgres_admin_url() is None:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (.ci/run sets it)")
    return str(request.param)


@pytest.fixture
async def database_url(
    backend: str,
    sqlite_template: SqliteTemplate,
    postgres_database: PostgresDatabase | None,
) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield sqlite_template.fresh_url()
        return
    assert postgres_database is not None
    await postgres_database.truncate()
    yield postgres_database.url


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key=TEST_SECRET,
        var_dir=tmp_path / "var",
        log_json=True,
    )


@pytest.fixture
async def app(settings: Settings, clock: FixedClock) -> AsyncIterator[FastAPI]:
    application = create_app(settings, clock=clock)
    yield application
    await application.state.database.dispose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    return Api(client)


@pytest.fixture(autouse=True)
def _no_env_leak() -> Iterator[None]:
    before = {
        k: v for k, v in os.environ.items() if k.startswith("SLOTBOOK_") and k != POSTGRES_ENV
    }
    yield
    after = {k: v for k, v in os.environ.items() if k.startswith("SLOTBOOK_") and k != POSTGRES_ENV}
    assert before == after, "a test changed SLOTBOOK_* environment variables"


@pytest.fixture
async def fresh_database_url(
    backend: str, sqlite_template: SqliteTemplate, tmp_path: Path
) -> AsyncIterator[str]:
    """A migrated database of the test's own, for a live server (which uses real time)."""
    if backend == "sqlite":
        yield sqlite_template.fresh_url()
        return
    admin_url = postgres_admin_url()
    assert admin_url is not None
    database = PostgresDatabase(admin_url)
    await database.create()
    try:
        yield database.url
    finally:
        await database.drop()
