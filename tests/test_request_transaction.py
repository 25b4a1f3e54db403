"""A request's writes are committed before its answer: a failed commit is never a 2xx."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from tests.scenarios import open_studio
from tests.support import Api


def _fail_next_commit(monkeypatch: pytest.MonkeyPatch, error: Exception) -> list[int]:
    """Make the next ``AsyncSession.commit`` raise ``error`` (after the endpoint ran)."""
    original = AsyncSession.commit
    failures: list[int] = []

    async def commit(self: AsyncSession) -> None:
        if not failures:
            failures.append(1)
            raise error
        await original(self)

    monkeypatch.setattr(AsyncSession, "commit", commit)
    return failures


async def test_a_commit_that_fails_is_answered_503_and_writes_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await api.signup()
    await api.customer("Kept")
    failures = _fail_next_commit(
        monkeypatch, OperationalError("COMMIT", {}, ConnectionResetError("connection lost"))
    )
    response = await api.request("POST", "/customers", {"name": "Lost Forever"})
    assert failures == [1], "the commit was never attempted"
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "service_unavailable"
    assert response.headers["retry-after"]
    listed = await api.get("/customers")
    assert [c["name"] for c in listed["items"]] == ["Kept"]
    assert listed["total"] == 1


async def test_a_commit_that_conflicts_is_answered_409_and_writes_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await api.signup()
    outlet = await api.outlet()
    yoga = await api.service("Yoga")
    body: dict[str, Any] = {"name": "John", "outlet_id": outlet["id"], "service_ids": [yoga["id"]]}
    failures = _fail_next_commit(
        monkeypatch, IntegrityError("COMMIT", {}, Exception("deferred constraint"))
    )
    response = await api.request("POST", "/staff", body)
    assert failures == [1]
    assert response.status_code == 409, response.text
    assert await api.get("/staff") == {"items": [], "total": 0}


async def test_a_failed_signup_leaves_no_business_behind(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    failures = _fail_next_commit(
        monkeypatch, OperationalError("COMMIT", {}, ConnectionResetError("connection lost"))
    )
    body = {"business_name": "Lotus Yoga", "email": "lost@example.com", "password": "x" * 10}
    response = await api.request("POST", "/auth/signup", body)
    assert failures == [1]
    assert response.status_code == 503, response.text
    # The same email signs up afresh, and the slug was not taken by the lost attempt.
    again = await api.post("/auth/signup", body)
    api.token = again["access_token"]
    assert (await api.get("/auth/me"))["tenant_slug"] == "lotus-yoga"


async def test_a_booking_whose_commit_fails_writes_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A booking's lock, reads and inserts go to the database driver directly on
    PostgreSQL (the storage layer's fast path); they belong to the request's transaction
    all the same."""
    studio = await open_studio(api)
    massage = await studio.offer("Massage")
    john = await studio.hire("John", [massage])
    customer = await api.customer()
    failures = _fail_next_commit(
        monkeypatch, OperationalError("COMMIT", {}, ConnectionResetError("connection lost"))
    )
    response = await api.book_response(studio.outlet, customer, [(massage, john)])
    assert failures == [1], "the commit was never attempted"
    assert response.status_code == 503, response.text
    assert await api.get("/appointments") == {"items": [], "total": 0}
    await studio.book(massage, john)  # and the slot is still free


# A connection the driver itself finds broken (the server ended it between the pool's
# check and the request's first statement, leaving asyncpg's protocol stuck
# mid-operation): seen under tests/test_faults.py's connection kills.
_STUCK = "cannot switch to state 15; another operation (2) is in progress"


def _break_once_at_begin(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    broken: list[Any] = []
    begins: list[int] = []
    original = asyncpg.Connection.execute

    async def execute(self: asyncpg.Connection, query: str, *args: Any, **kw: Any) -> Any:
        if not broken and query.lstrip().upper().startswith("BEGIN"):
            begins.append(1)
            # The first BEGIN of a checkout is the pool's pre-ping, which replaces a
            # broken connection by itself; the second is the request's transaction.
            if len(begins) == 2:
                broken.append(self)
                raise asyncpg.InternalClientError(_STUCK)
        return await original(self, query, *args, **kw)

    monkeypatch.setattr(asyncpg.Connection, "execute", execute)
    return broken


def _break_once_at_a_statement(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    broken: list[Any] = []
    original = asyncpg.Connection.fetch

    async def fetch(self: asyncpg.Connection, query: str, *args: Any, **kw: Any) -> Any:
        if not broken:
            broken.append(self)
            raise asyncpg.InternalClientError(_STUCK)
        return await original(self, query, *args, **kw)

    monkeypatch.setattr(asyncpg.Connection, "fetch", fetch)
    return broken


@pytest.mark.parametrize("break_once", [_break_once_at_begin, _break_once_at_a_statement])
async def test_a_connection_the_driver_finds_broken_is_answered_503_and_replaced(
    api: Api,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
    break_once: Callable[[pytest.MonkeyPatch], list[Any]],
) -> None:
    if backend != "postgres":
        pytest.skip("statements go to the asyncpg driver directly on PostgreSQL only")
    studio = await open_studio(api)
    massage = await studio.offer("Massage")
    john = await studio.hire("John", [massage])
    customer = await api.customer()
    broken = break_once(monkeypatch)
    response = await api.book_response(studio.outlet, customer, [(massage, john)])
    assert len(broken) == 1, "the fault was never reached"
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"]
    assert response.json()["detail"]
    assert broken[0].is_closed(), "a broken connection went back to the pool"
    await studio.book(massage, john)
    assert (await api.get("/appointments"))["total"] == 1
