"""Deadlocks and serialization failures are retried a bounded number of times, then 503."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.storage import LockTargets
from slotbook.storage.backend import PostgresStorage
from tests.scenarios import Studio, open_studio
from tests.support import Api


class _DriverDeadlock(Exception):
    sqlstate = "40P01"


def _wrapped_deadlock() -> Exception:
    """A deadlock as SQLAlchemy raises it."""
    return DBAPIError("SELECT ... FOR UPDATE", {}, _DriverDeadlock("deadlock detected"))


def _driver_deadlock() -> Exception:
    """A deadlock as asyncpg raises it, for statements sent to the driver directly."""
    return asyncpg.exceptions.DeadlockDetectedError("deadlock detected")


DEADLOCKS = pytest.mark.parametrize("deadlock", [_wrapped_deadlock, _driver_deadlock])


def _deadlocking(times: int, deadlock: Callable[[], Exception]) -> Any:
    real_lock = PostgresStorage.lock
    calls = {"count": 0}

    async def lock(
        self: PostgresStorage, session: AsyncSession, tenant_id: str, targets: LockTargets
    ) -> None:
        calls["count"] += 1
        if calls["count"] <= times:
            raise deadlock()
        await real_lock(self, session, tenant_id, targets)

    return lock, calls


@pytest.fixture
async def massage_with_john(api: Api, backend: str) -> Studio:
    if backend != "postgres":
        pytest.skip("SQLite's single writer cannot deadlock")
    studio = await open_studio(api)
    massage = await studio.offer("Massage", key="massage")
    await studio.hire("John", [massage], key="john")
    return studio


@DEADLOCKS
async def test_a_deadlock_is_retried_and_the_booking_lands(
    api: Api,
    massage_with_john: Studio,
    monkeypatch: pytest.MonkeyPatch,
    deadlock: Callable[[], Exception],
) -> None:
    studio = massage_with_john
    lock_staff, calls = _deadlocking(times=2, deadlock=deadlock)
    monkeypatch.setattr(PostgresStorage, "lock", lock_staff)
    await studio.book(studio.massage, studio.john)
    assert calls["count"] == 3
    assert (await api.get("/appointments"))["total"] == 1


@DEADLOCKS
async def test_a_deadlock_that_persists_answers_503_and_writes_nothing(
    api: Api,
    massage_with_john: Studio,
    monkeypatch: pytest.MonkeyPatch,
    deadlock: Callable[[], Exception],
) -> None:
    studio = massage_with_john
    lock_staff, calls = _deadlocking(times=100, deadlock=deadlock)
    monkeypatch.setattr(PostgresStorage, "lock", lock_staff)
    response = await studio.book_response(studio.massage, studio.john)
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.json()["detail"]
    assert calls["count"] == 4
    monkeypatch.undo()
    assert (await api.get("/appointments"))["total"] == 0
