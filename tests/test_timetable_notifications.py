"""The timetable tells people: a class that moves, gets a substitute teacher or is
cancelled mails its booked customers and the ones waiting for it, and the worker keeps
laying out the sessions of open-ended schedules day by day."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from slotbook.clock import FixedClock
from slotbook.notifications.service import WorkerConfig, run_once
from slotbook.settings import Settings
from slotbook.storage import Database
from tests.mail_support import RecordingTransport, subject, text_of
from tests.scenarios import Studio, open_studio
from tests.support import Api

Json = dict[str, Any]


@pytest.fixture
def config(settings: Settings) -> WorkerConfig:
    return WorkerConfig.from_settings(settings)


@pytest.fixture
def mail() -> RecordingTransport:
    return RecordingTransport()


async def deliver(
    app: FastAPI, clock: FixedClock, mail: RecordingTransport, config: WorkerConfig
) -> int:
    database: Database = app.state.database
    return await run_once(database, clock, mail, config)


async def vinyasa_studio(api: Api, capacity: int = 1) -> tuple[Studio, Json]:
    """Vinyasa with Maya, Mondays 18:00 from 7 December, ``capacity`` spots, a waitlist;
    Leo teaches it too."""
    studio = await open_studio(api)
    vinyasa = await studio.offer(
        "Vinyasa",
        key="vinyasa",
        parallel=True,
        capacity=capacity,
        booking_mode="timetable",
        waitlist_enabled=True,
    )
    await studio.hire("Maya", [vinyasa], key="maya")
    await studio.hire("Leo", [vinyasa], key="leo")
    plan = await api.post(
        "/class-schedules",
        {
            "service_id": vinyasa["id"],
            "outlet_id": studio.outlet["id"],
            "staff_id": studio.maya["id"],
            "start_time": "18:00",
            "days": ["monday"],
            "first_date": "2026-12-07",
        },
    )
    return studio, plan


async def first_session(studio: Studio, plan: Json) -> Json:
    page = await studio.api.get("/class-sessions", params={"schedule_id": plan["id"], "limit": 1})
    return dict(page["items"][0])


async def test_a_substitute_teacher_and_a_moved_class_are_mailed_to_the_booked_and_the_waiting(
    backend: str,
    app: FastAPI,
    api: Api,
    clock: FixedClock,
    mail: RecordingTransport,
    config: WorkerConfig,
) -> None:
    studio, plan = await vinyasa_studio(api, capacity=1)
    ada = await studio.customer("Ada")
    bea = await studio.customer("Bea")
    await studio.book(studio.vinyasa, studio.maya, customer=ada, start="18:00")
    await studio.join_waitlist(studio.vinyasa, studio.maya, customer=bea, start="18:00")
    session = await first_session(studio, plan)
    await deliver(app, clock, mail, config)
    mail.sent.clear()

    await api.put(f"/class-sessions/{session['id']}/substitute", {"staff_id": studio.leo["id"]})
    await api.put(f"/class-sessions/{session['id']}/move", {"new_start_time": "19:00"})
    await deliver(app, clock, mail, config)

    to_ada = [s for s in mail.sent if s.recipient == ada["email"]]
    assert [subject(s.message) for s in to_ada] == [
        "New teacher: Vinyasa, Mon 7 Dec 2026, 18:00-19:00 (Europe/London)",
        "Booking moved: Vinyasa, now Mon 7 Dec 2026, 19:00-20:00 (Europe/London)",
    ]
    assert "Leo" in text_of(to_ada[0].message)
    to_bea = [s for s in mail.sent if s.recipient == bea["email"]]
    assert [subject(s.message) for s in to_bea] == [
        "The class you wait for has changed: Vinyasa, now Mon 7 Dec 2026, 18:00-19:00 "
        "(Europe/London)",
        "The class you wait for has changed: Vinyasa, now Mon 7 Dec 2026, 19:00-20:00 "
        "(Europe/London)",
    ]
    entry = (await api.get("/waitlist", params={"customer_id": bea["id"]}))["items"][0]
    assert (entry["start_time"], entry["position"]) == ("19:00:00", 1)


async def test_a_cancelled_class_tells_the_waiting_customers_it_is_off(
    backend: str,
    app: FastAPI,
    api: Api,
    clock: FixedClock,
    mail: RecordingTransport,
    config: WorkerConfig,
) -> None:
    studio, plan = await vinyasa_studio(api, capacity=1)
    await studio.book(studio.vinyasa, studio.maya, start="18:00")
    bea = await studio.customer("Bea")
    await studio.join_waitlist(studio.vinyasa, studio.maya, customer=bea, start="18:00")
    session = await first_session(studio, plan)
    await api.put(f"/class-sessions/{session['id']}/cancel", {"reason": "Maya is ill"})
    await deliver(app, clock, mail, config)
    to_bea = [subject(s.message) for s in mail.sent if s.recipient == bea["email"]]
    assert to_bea[-1] == "Class cancelled: Vinyasa, Mon 7 Dec 2026, 18:00-19:00 (Europe/London)"


async def test_the_worker_lays_out_an_open_ended_class_a_day_further_each_day(
    backend: str,
    app: FastAPI,
    api: Api,
    clock: FixedClock,
    mail: RecordingTransport,
    config: WorkerConfig,
) -> None:
    _studio, plan = await vinyasa_studio(api)
    until = plan["sessions_until"]
    before = (await api.get("/class-sessions", params={"schedule_id": plan["id"]}))["total"]
    # The worker runs a fortnight on (the API's clock stays, so the token holds).
    await deliver(app, FixedClock(clock.now() + timedelta(days=14)), mail, config)
    after = await api.get(f"/class-schedules/{plan['id']}")
    assert after["sessions_until"] > until
    total = (await api.get("/class-sessions", params={"schedule_id": plan["id"]}))["total"]
    assert total == before + 2, "two more Mondays come within the horizon"
