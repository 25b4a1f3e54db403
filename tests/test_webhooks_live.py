"""``slotbook worker`` as a process sends webhooks on the real clock: the receiver checks
every signature with ``standardwebhooks`` as it ships (its five-minute tolerance against
the real time), a 500 is retried after the configured backoff with the same
``webhook-id``, and the settings come from ``SLOTBOOK_WEBHOOK_*``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from slotbook.app import create_app
from slotbook.clock import SystemClock
from slotbook.settings import Settings
from tests.live_server import LIVE_SECRET
from tests.support import Api, unique_email
from tests.webhook_support import Receiver
from tests.worker_process import WorkerProcess

pytestmark = pytest.mark.live


@asynccontextmanager
async def live_app(database_url: str, var_dir: Path) -> AsyncIterator[Api]:
    """The app in-process on the real clock, allowing the receiver's loopback address,
    as a signed-in owner."""
    settings = Settings(
        database_url=database_url,
        secret_key=LIVE_SECRET,
        var_dir=var_dir,
        log_level="WARNING",
        webhook_allow_private_addresses=True,
    )
    app: FastAPI = create_app(settings, clock=SystemClock())
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            api = Api(client)
            await api.signup("Lotus Yoga", email=unique_email("live-hooks"))
            yield api
    finally:
        await app.state.database.dispose()


async def wait_for(predicate: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_the_worker_process_signs_retries_and_delivers_on_the_real_clock(
    fresh_database_url: str, tmp_path: Path
) -> None:
    var_dir = tmp_path / "var"
    worker = WorkerProcess(
        fresh_database_url,
        var_dir,
        "hooks",
        extra_env={
            "SLOTBOOK_WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
            "SLOTBOOK_WEBHOOK_BACKOFF_SECONDS": "1",
            "SLOTBOOK_WEBHOOK_TIMEOUT_SECONDS": "5",
        },
    )
    try:
        with Receiver() as receiver:
            receiver.script["/hook"] = [500]
            async with live_app(fresh_database_url, var_dir) as api:
                endpoint = await api.post(
                    "/webhooks", {"url": receiver.url("/hook"), "event_types": ["*"]}
                )
                receiver.secrets["/hook"] = endpoint["secret"]
                outlet = await api.outlet(timezone="Europe/London")
                yoga = await api.service("Group Yoga", parallel=True, capacity=10)
                john = await api.staff("John Smith", outlet, [yoga])
                day = (datetime.now(UTC).date() + timedelta(days=7)).isoformat()
                booked = await api.book(outlet, yoga, john, date=day)
                await api.cancel(booked)

                await wait_for(lambda: len(receiver.hits) >= 3, 30, "three requests")
                log = await api.get(f"/webhooks/{endpoint['id']}/deliveries")
    finally:
        status = worker.stop()
    assert status == 0, worker.log_text()
    assert receiver.failures == [], receiver.failures
    hits = receiver.hits
    assert [(hit.type, hit.answered) for hit in hits] == [
        ("appointment.created", 500),
        ("appointment.created", 200),
        ("appointment.cancelled", 200),
    ], "the cancellation waits for the booking's delivery"
    assert hits[0].webhook_id == hits[1].webhook_id
    retried_after = int(hits[1].headers["webhook-timestamp"]) - int(
        hits[0].headers["webhook-timestamp"]
    )
    assert 1 <= retried_after <= 5
    assert all(hit.payload["data"]["appointment_id"] == booked["id"] for hit in hits)
    items = {item["event_type"]: item for item in log["items"]}
    assert items["appointment.created"]["attempts"] == 2
    assert "webhook_delivered" in worker.log_text()
