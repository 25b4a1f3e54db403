"""A database that is missing or unreachable is answered 503 with Retry-After by every
API call and page that needs it - never a 500, and never a misleading "busy"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from slotbook.app import create_app
from slotbook.settings import Settings
from tests.conftest import TEST_SECRET
from tests.databases import postgres_admin_url

UNREACHABLE = "postgresql+asyncpg://postgres@127.0.0.1:1/slotbook"
SOME_ID = "0" * 24


def _missing_database_url() -> str:
    admin = postgres_admin_url()
    if admin is None:
        pytest.skip("needs SLOTBOOK_TEST_POSTGRES_URL (.ci/run sets it)")
    return admin.rsplit("/", 1)[0] + "/slotbook_no_such_database"


@pytest.fixture(params=["missing", "unreachable"])
async def app_without_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[FastAPI]:
    url = _missing_database_url() if request.param == "missing" else UNREACHABLE
    settings = Settings(
        database_url=url,
        secret_key=TEST_SECRET,
        var_dir=tmp_path / "var",
        db_connect_timeout_seconds=1,
    )
    app = create_app(settings)
    yield app
    await app.state.database.dispose()


CALLS = [
    (
        "POST",
        "/api/v1/auth/signup",
        {"business_name": "Lotus", "email": "a@b.co", "password": "x" * 10},
    ),
    ("POST", "/api/v1/auth/login", {"email": "a@b.co", "password": "x" * 10}),
    ("POST", "/api/v1/auth/token", None),
    ("GET", f"/api/v1/public/lotus/outlets/{SOME_ID}", None),
    ("GET", f"/book/lotus/{SOME_ID}", None),
    ("GET", "/readyz", None),
]


@pytest.mark.parametrize(("method", "path", "body"), CALLS)
async def test_every_call_that_needs_the_database_answers_503_with_retry_after(
    app_without_database: FastAPI, method: str, path: str, body: dict[str, str] | None
) -> None:
    transport = httpx.ASGITransport(app=app_without_database)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        if path == "/api/v1/auth/token":
            response = await client.post(path, data={"username": "a@b.co", "password": "x" * 10})
        else:
            response = await client.request(method, path, json=body)
    assert response.status_code == 503, (path, response.status_code, response.text[:300])
    assert response.headers["retry-after"]
