"""A request's writes are committed before its answer: a failed commit is never a 2xx."""

from __future__ import annotations

from typing import Any

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
    PostgreSQL (``db.DriverQuery``); they belong to the request's transaction all the same."""
    studio = await open_studio(api)
    massage = await api.service("Massage")
    john = await api.staff("John", studio.outlet, [massage])
    customer = await api.customer()
    failures = _fail_next_commit(
        monkeypatch, OperationalError("COMMIT", {}, ConnectionResetError("connection lost"))
    )
    response = await api.book_response(studio.outlet, customer, [(massage, john)])
    assert failures == [1], "the commit was never attempted"
    assert response.status_code == 503, response.text
    assert await api.get("/appointments") == {"items": [], "total": 0}
    await api.book(studio.outlet, massage, john)  # and the slot is still free
