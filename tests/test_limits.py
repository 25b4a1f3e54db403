"""Limits that keep one caller from hurting the others: body size, page size, lock waits."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from slotbook.app import create_app
from slotbook.clock import FixedClock
from slotbook.settings import Settings
from tests.databases import SqliteTemplate, _asyncpg_dsn
from tests.live_server import LiveServer
from tests.scenarios import open_studio
from tests.support import Api

MIB = 1024 * 1024


def _big_json(size: int) -> bytes:
    """A syntactically broken JSON body: parsing it would answer 422, not 413."""
    return b'{"email": "' + b"x" * size


async def test_a_body_over_one_mib_with_content_length_gets_413_before_parsing(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/v1/auth/login",
        content=_big_json(MIB + 1),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "payload_too_large"
    assert "detail" in response.json()


async def test_a_declared_length_over_one_mib_is_refused_without_reading_the_body(
    client: httpx.AsyncClient,
) -> None:
    # An authenticated route: 413 comes before the 401 the missing token would give.
    response = await client.post(
        "/api/v1/appointments",
        content=b"{" + b" " * (MIB + 10) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text


async def test_a_chunked_body_over_one_mib_gets_413(client: httpx.AsyncClient) -> None:
    chunks_sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal chunks_sent
        yield b'{"email": "'
        for _ in range(40):  # 40 x 64 KiB = 2.5 MiB
            chunks_sent += 1
            yield b"x" * 65536

    response = await client.post(
        "/api/v1/auth/login", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413, response.text
    assert "content-length" not in response.request.headers
    assert chunks_sent < 40, "the whole body was read before refusing it"


async def test_a_chunked_body_over_one_mib_gets_413_from_the_real_server(
    sqlite_template: SqliteTemplate, tmp_path: Path
) -> None:

    with LiveServer(sqlite_template.fresh_url(), workers=1, var_dir=tmp_path / "var") as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(
                b"POST /api/v1/auth/login HTTP/1.1\r\nHost: test\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            chunk = b"x" * 65536
            try:
                for _ in range(40):
                    writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    await writer.drain()
                writer.write(b"0\r\n\r\n")
                await writer.drain()
            except ConnectionError:
                pass  # the server may answer and close before the whole body is sent
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
    assert head.startswith(b"HTTP/1.1 413"), head


async def test_a_body_of_exactly_one_mib_is_parsed_normally(client: httpx.AsyncClient) -> None:
    body = b'{"email": "a@example.com", "password": "' + b"p" * (MIB - 60) + b'"}'
    assert len(body) <= MIB
    response = await client.post(
        "/api/v1/auth/login", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (401, 422), response.text


@pytest.mark.parametrize("path", ["/outlets", "/services", "/staff", "/customers", "/appointments"])
async def test_a_list_limit_over_500_is_refused_and_500_is_served(api: Api, path: str) -> None:
    await api.signup()
    too_many = await api.request("GET", path, params={"limit": 501}, expect=422)
    assert "limit" in str(too_many.json()["detail"])
    page = await api.get(path, params={"limit": 500})
    assert page["items"] == [] or len(page["items"]) <= 500
    await api.request("GET", path, params={"limit": 0}, expect=422)
    await api.request("GET", path, params={"offset": -1}, expect=422)


@pytest.fixture
async def tight_client(settings: Settings, clock: FixedClock) -> AsyncIterator[httpx.AsyncClient]:
    """The app with short lock and busy timeouts."""
    application = create_app(
        settings.model_copy(update={"lock_timeout_ms": 300, "sqlite_busy_timeout_ms": 300}),
        clock=clock,
    )
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http
    await application.state.database.dispose()


async def test_a_booking_that_cannot_get_its_lock_in_time_answers_503_with_retry_after(
    backend: str, tight_client: httpx.AsyncClient, database_url: str
) -> None:
    studio = await open_studio(Api(tight_client))
    yoga = await studio.offer("Yoga", parallel=True, capacity=5)
    coach = await studio.hire("Coach", [yoga])
    customer = await studio.customer()
    if backend == "postgres":
        holder: Any = await asyncpg.connect(_asyncpg_dsn(database_url), timeout=5)
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute("SELECT id FROM staff WHERE id = $1 FOR UPDATE", coach["id"])
    else:
        holder = sqlite3.connect(database_url.split("///", 1)[1], isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # SQLite's one write lock
    try:
        started = time.monotonic()
        response = await studio.book_response(yoga, coach, customer=customer)
        waited = time.monotonic() - started
    finally:
        if backend == "postgres":
            await transaction.rollback()
            await holder.close()
        else:
            holder.execute("ROLLBACK")
            holder.close()
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"]
    assert response.json()["code"] == "service_unavailable"
    assert waited < 3, f"waited {waited:.1f}s for a 300 ms lock timeout"
    # The worker is not stuck: the same booking goes through once the lock is free.
    await studio.book(yoga, coach, customer=customer)
