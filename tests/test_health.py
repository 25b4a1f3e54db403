"""Probes: the process is up (/healthz) and the database answers (/readyz)."""

from __future__ import annotations

from pathlib import Path

import httpx

from slotbook.app import create_app
from slotbook.settings import Settings
from tests.conftest import TEST_SECRET

UNREACHABLE_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:1/x"


async def test_the_process_and_database_are_ready(client: httpx.AsyncClient) -> None:
    health = await client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok"}


async def test_an_unreachable_database_is_not_ready_but_the_process_is_up(tmp_path: Path) -> None:
    settings = Settings(
        database_url=UNREACHABLE_POSTGRES, secret_key=TEST_SECRET, var_dir=tmp_path / "var"
    )
    app = create_app(settings)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/healthz")).status_code == 200
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["status"] == "unavailable"
            assert ready.headers["retry-after"]
            # API calls that need the database answer 503 too, never 500.
            login = await client.post(
                "/api/v1/auth/login", json={"email": "a@example.com", "password": "whatever1"}
            )
            assert login.status_code == 503, login.text
            assert login.json()["code"] == "service_unavailable"
    finally:
        await app.state.database.dispose()


async def test_probes_need_no_token(client: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/readyz"):
        response = await client.get(path, headers={"Authorization": "Bearer forged"})
        assert response.status_code == 200, path
