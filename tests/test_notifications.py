"""Telling people: every change writes its outbox event in its own transaction, and the
worker (driven in-process through ``run_once``) emails the customer: confirmation with
the private link and an .ics, move, cancellation, reminder; in order, with retries."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from slotbook import links
from slotbook.booking.models import AppointmentEvent
from slotbook.clock import FixedClock
from slotbook.notifications.models import NotificationDelivery
from slotbook.notifications.repository import OutboxRepository
from slotbook.notifications.service import SmtpTransport, Worker, WorkerConfig, run_once
from slotbook.outbox import OutboxEvent
from slotbook.public import service as public_service
from slotbook.settings import Settings
from slotbook.storage import Database
from tests.conftest import NOW, TEST_SECRET
from tests.mail_support import (
    RecordingTransport,
    SmtpServer,
    calendar_of,
    html_of,
    manage_link,
    raw,
    rows,
    subject,
    text_of,
)
from tests.support import MONDAY, Api, unique_email

WHEN_MONDAY = "Mon 7 Dec 2026, 10:00-11:00 (Europe/London)"


@dataclass
class Place:
    api: Api
    business: str
    outlet: dict[str, Any]
    yoga: dict[str, Any]
    massage: dict[str, Any]
    john: dict[str, Any]
    anna: dict[str, Any]
    owner_email: str

    async def login(self) -> None:
        """A fresh token after the clock moved on (they last 12 hours)."""
        body = {"email": self.owner_email, "password": "correct-horse-1"}
        self.api.token = (await self.api.post("/auth/login", body, expect=200))["access_token"]

    async def customer(self, name: str, email: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name}
        if email:
            body["email"] = email
        return dict(await self.api.post("/customers", body))

    async def book(
        self,
        customer: dict[str, Any],
        *,
        service: dict[str, Any] | None = None,
        date: str = MONDAY,
        start: str = "10:00",
    ) -> dict[str, Any]:
        service = service or self.yoga
        staff = self.john if service is self.yoga else self.anna
        return await self.api.book(
            self.outlet, service, staff, customer=customer, date=date, start=start
        )


@pytest.fixture
async def place(api: Api) -> Place:
    owner = unique_email("notify")
    await api.signup("Lotus Yoga", email=owner)
    outlet = await api.outlet(timezone="Europe/London")
    yoga = await api.service("Group Yoga", parallel=True, capacity=10)
    massage = await api.service("Massage")
    john = await api.staff("John Smith", outlet, [yoga])
    anna = await api.staff("Anna Lee", outlet, [massage])
    return Place(api, "Lotus Yoga", outlet, yoga, massage, john, anna, owner)


@pytest.fixture
def config(settings: Settings) -> WorkerConfig:
    return WorkerConfig.from_settings(settings)


@pytest.fixture
def mail() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def database_of(app: FastAPI) -> Database:
    database: Database = app.state.database
    return database


async def deliver(app: FastAPI, clock: FixedClock, transport: Any, config: WorkerConfig) -> int:
    return await run_once(database_of(app), clock, transport, config)


async def outbox(app: FastAPI) -> list[Any]:
    return await rows(
        database_of(app),
        sa.select(
            OutboxEvent.id,
            OutboxEvent.type,
            OutboxEvent.stream,
            OutboxEvent.payload,
            OutboxEvent.status,
            OutboxEvent.attempts,
        ).order_by(OutboxEvent.seq),
    )


async def deliveries(app: FastAPI) -> list[Any]:
    return await rows(
        database_of(app),
        sa.select(
            NotificationDelivery.kind,
            NotificationDelivery.recipient,
            NotificationDelivery.status,
            NotificationDelivery.attempts,
            NotificationDelivery.last_error,
            NotificationDelivery.sent_at,
        ).order_by(NotificationDelivery.created_at, NotificationDelivery.kind),
    )


# The outbox


async def test_every_history_event_writes_one_outbox_event_keyed_by_its_id(
    app: FastAPI, place: Place
) -> None:
    ann = await place.customer("Ann", "ann@example.com")
    first = await place.book(ann)
    await place.api.reschedule(first, "2026-12-08", "11:00")
    await place.api.put(f"/appointments/{first['id']}/cancel", {"reason": "Ill"})
    second = await place.api.book(
        place.outlet, place.massage, place.anna, customer=ann, status="pending"
    )
    for action in ("confirm", "complete"):
        await place.api.put(f"/appointments/{second['id']}/{action}")
    third = await place.book(ann, service=place.massage, start="12:00")
    await place.api.put(f"/appointments/{third['id']}/no-show")

    history = await rows(
        database_of(app),
        sa.select(AppointmentEvent.id, AppointmentEvent.type, AppointmentEvent.appointment_id),
    )
    events = await outbox(app)
    assert len(events) == len(history) == 8
    by_id = {event.id: event for event in events}
    for entry in history:
        event = by_id[entry.id]
        assert event.type == f"appointment.{entry.type}"
        assert event.stream == f"appointment:{entry.appointment_id}"
        assert event.payload["appointment_id"] == entry.appointment_id
        assert event.status == "pending"
    types = {event.type for event in events}
    assert types == {
        "appointment.created",
        "appointment.rescheduled",
        "appointment.cancelled",
        "appointment.confirmed",
        "appointment.completed",
        "appointment.no_show",
    }
    created = next(e for e in events if e.type == "appointment.created")
    assert created.payload["starts_at"] == "2026-12-07T10:00:00+00:00"
    assert created.payload["actor"] == "user"


async def test_a_booking_that_fills_a_class_past_80_percent_and_to_full_writes_session_events(
    app: FastAPI, place: Place
) -> None:
    for number in range(10):
        await place.book(await place.customer(f"C{number}", f"c{number}@example.com"))
    sessions = [e for e in await outbox(app) if e.type.startswith("session.")]
    assert [(e.type, e.payload["bookings"], e.payload["capacity"]) for e in sessions] == [
        ("session.almost_full", 9, 10),
        ("session.full", 10, 10),
    ]
    assert sessions[0].stream == sessions[1].stream
    assert sessions[0].payload["starts_at"] == "2026-12-07T10:00:00+00:00"
    assert sessions[0].payload["service_id"] == place.yoga["id"]


async def test_moving_into_a_class_session_can_fill_it(app: FastAPI, place: Place) -> None:
    for number in range(9):
        await place.book(await place.customer(f"C{number}", None), start="12:00")
    mover = await place.book(await place.customer("Mover", None))
    await place.api.reschedule(mover, MONDAY, "12:00")
    sessions = [(e.type, e.payload["bookings"]) for e in await outbox(app) if "session" in e.type]
    assert sessions == [("session.almost_full", 9), ("session.full", 10)]


def _fail_next_commit(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    original = AsyncSession.commit
    failures: list[int] = []

    async def commit(self: AsyncSession) -> None:
        if not failures:
            failures.append(1)
            raise OperationalError("COMMIT", {}, ConnectionResetError("connection lost"))
        await original(self)

    monkeypatch.setattr(AsyncSession, "commit", commit)
    return failures


async def test_a_request_rolled_back_after_writing_its_event_sends_nothing(
    app: FastAPI,
    place: Place,
    clock: FixedClock,
    mail: RecordingTransport,
    config: WorkerConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ann = await place.customer("Ann", "ann@example.com")
    failures = _fail_next_commit(monkeypatch)
    response = await place.api.book_response(place.outlet, ann, [(place.yoga, place.john)])
    assert failures == [1]
    assert response.status_code == 503, response.text
    assert await outbox(app) == []
    assert await deliver(app, clock, mail, config) == 0
    assert mail.sent == []


# The confirmation, over real SMTP


async def test_the_confirmation_reaches_a_real_smtp_server_with_a_working_link_and_an_ics(
    app: FastAPI,
    client: httpx.AsyncClient,
    place: Place,
    clock: FixedClock,
    config: WorkerConfig,
    smtp: SmtpServer,
) -> None:
    ann = await place.customer("Ann Smith", "ann@example.com")
    booked = await place.book(ann)
    transport = SmtpTransport("127.0.0.1", smtp.port, starttls=False, timeout=10)
    assert await deliver(app, clock, transport, config) == 1

    [received] = smtp.received
    assert received.recipients == ["ann@example.com"]
    message = received.message
    assert parseaddr(str(message["From"])) == ("Lotus Yoga", "bookings@localhost")
    assert parseaddr(str(message["To"])) == ("Ann Smith", "ann@example.com")
    assert subject(message) == f"Booking confirmed: Group Yoga, {WHEN_MONDAY}"
    text = text_of(message)
    assert WHEN_MONDAY in text
    assert "Group Yoga with John Smith, 10:00-11:00 (Europe/London)" in text
    assert WHEN_MONDAY in html_of(message)

    link = manage_link(message)
    assert link.startswith("http://127.0.0.1:8000/my-booking/")
    page = await client.get(urlsplit(link).path)
    assert page.status_code == 200
    assert "Group Yoga" in page.text and "John Smith" in page.text
    token = urlsplit(link).path.rsplit("/", 1)[1]
    shown = await client.get(f"/api/v1/public/bookings/{token}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["status"] == "confirmed"
    assert shown.json()["start_time"] == "10:00:00"
    assert links.read_token(TEST_SECRET, token).appointment_id == booked["id"]

    calendar = calendar_of(message)
    [entry] = calendar.walk("VEVENT")
    assert str(entry["UID"]) == f"{booked['id']}@slotbook"
    assert entry.decoded("DTSTART") == datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    assert entry.decoded("DTEND") == datetime(2026, 12, 7, 11, 0, tzinfo=UTC)
    assert str(entry["URL"]) == link
    assert "Lotus Yoga" in str(entry["SUMMARY"])

    history = await rows(
        database_of(app), sa.select(NotificationDelivery.status, NotificationDelivery.sent_at)
    )
    assert [(status, sent_at) for status, sent_at in history] == [("sent", NOW)]


async def test_delivery_retries_with_backoff_after_an_smtp_failure(
    app: FastAPI, place: Place, clock: FixedClock, config: WorkerConfig, smtp: SmtpServer
) -> None:
    config = dataclasses.replace(config, backoff=timedelta(seconds=30))
    transport = SmtpTransport("127.0.0.1", smtp.port, starttls=False, timeout=10)
    await place.book(await place.customer("Ann", "ann@example.com"))
    smtp.refuse_next = 2

    await deliver(app, clock, transport, config)
    [(kind, _, status, attempts, error, sent_at)] = await deliveries(app)
    assert (kind, status, attempts, sent_at) == ("confirmation", "retrying", 1, None)
    assert "451" in error
    clock.at = NOW + timedelta(seconds=29)
    await deliver(app, clock, transport, config)
    assert (await deliveries(app))[0].attempts == 1, "not before the backoff"
    clock.at = NOW + timedelta(seconds=30)
    await deliver(app, clock, transport, config)
    assert (await deliveries(app))[0].attempts == 2
    clock.at = NOW + timedelta(seconds=30 + 59)
    await deliver(app, clock, transport, config)
    assert (await deliveries(app))[0].attempts == 2, "the second wait doubles"
    clock.at = NOW + timedelta(seconds=30 + 60)
    await deliver(app, clock, transport, config)
    [(_, _, status, attempts, _, sent_at)] = await deliveries(app)
    assert (status, attempts, sent_at) == ("sent", 3, clock.at)
    assert len(smtp.received) == 1
    [event] = [e for e in await outbox(app) if e.type == "appointment.created"]
    assert (event.status, event.attempts) == ("delivered", 3)


async def test_attempts_are_bounded(
    app: FastAPI, place: Place, clock: FixedClock, config: WorkerConfig
) -> None:
    config = dataclasses.replace(config, max_attempts=3, backoff=timedelta(seconds=1))
    mail = RecordingTransport(failures=100)
    await place.book(await place.customer("Ann", "ann@example.com"))
    for seconds in range(0, 60, 5):
        clock.at = NOW + timedelta(seconds=seconds)
        await deliver(app, clock, mail, config)
    assert mail.attempts == 3
    [event] = await outbox(app)
    assert (event.status, event.attempts) == ("failed", 3)
    [delivery] = await deliveries(app)
    assert (delivery.status, delivery.attempts) == ("failed", 3)


# Order, privacy, who gets mail


async def test_events_of_one_appointment_go_out_in_order_even_across_a_failure(
    app: FastAPI, place: Place, clock: FixedClock, config: WorkerConfig
) -> None:
    config = dataclasses.replace(config, backoff=timedelta(seconds=10))
    mail = RecordingTransport(failures=1)
    ann = await place.customer("Ann", "ann@example.com")
    booked = await place.book(ann)
    await place.api.reschedule(booked, MONDAY, "12:00")
    await place.api.cancel(booked)
    other = await place.book(await place.customer("Bob", "bob@example.com"), start="15:00")

    await deliver(app, clock, mail, config)
    # Ann's confirmation failed: her later mails wait for it; Bob's do not.
    assert [s.recipient for s in mail.sent] == ["bob@example.com"]
    clock.at = NOW + timedelta(seconds=10)
    await deliver(app, clock, mail, config)
    ann_mail = [s.message for s in mail.sent if s.recipient == "ann@example.com"]
    assert [subject(m).split(":")[0] for m in ann_mail] == [
        "Booking confirmed",
        "Booking moved",
        "Booking cancelled",
    ]
    assert "Now: Mon 7 Dec 2026, 12:00-13:00 (Europe/London)" in text_of(ann_mail[1])
    assert f"Was: {WHEN_MONDAY}" in text_of(ann_mail[1])
    # The calendar entry keeps its UID and counts its versions.
    entries = [calendar_of(m).walk("VEVENT")[0] for m in ann_mail]
    assert {str(e["UID"]) for e in entries} == {f"{booked['id']}@slotbook"}
    assert [int(e["SEQUENCE"]) for e in entries] == [0, 1, 2]
    assert str(entries[2]["STATUS"]) == "CANCELLED"
    assert other["id"] != booked["id"]


async def test_each_message_goes_to_one_customer_and_names_no_one_else(
    app: FastAPI, place: Place, clock: FixedClock, mail: RecordingTransport, config: WorkerConfig
) -> None:
    emails = [f"guest{number}@example.com" for number in range(4)]
    for number, address in enumerate(emails):
        await place.book(await place.customer(f"Guest {number}", address))
    await deliver(app, clock, mail, config)
    assert sorted(s.recipient for s in mail.sent) == emails
    for sent in mail.sent:
        assert parseaddr(str(sent.message["To"]))[1] == sent.recipient
        assert sent.message["Cc"] is None and sent.message["Bcc"] is None
        others = [address for address in emails if address != sent.recipient]
        body = raw(sent.message)
        assert not any(address.encode() in body for address in others)


async def test_customers_without_email_get_no_mail_and_the_event_is_done(
    app: FastAPI, place: Place, clock: FixedClock, mail: RecordingTransport, config: WorkerConfig
) -> None:
    await place.book(await place.customer("No Mail", None))
    await deliver(app, clock, mail, config)
    assert mail.sent == []
    assert [e.status for e in await outbox(app)] == ["delivered"]
    assert await deliveries(app) == []


async def test_a_pending_booking_is_received_then_confirmed_when_staff_confirm_it(
    app: FastAPI, place: Place, clock: FixedClock, mail: RecordingTransport, config: WorkerConfig
) -> None:
    ann = await place.customer("Ann", "ann@example.com")
    booked = await place.api.book(
        place.outlet, place.yoga, place.john, customer=ann, status="pending"
    )
    await deliver(app, clock, mail, config)
    assert mail.subjects() == [f"Booking received: Group Yoga, {WHEN_MONDAY}"]
    assert "we will confirm it shortly" in text_of(mail.sent[0].message)
    await place.api.put(f"/appointments/{booked['id']}/confirm")
    await deliver(app, clock, mail, config)
    assert mail.subjects()[1:] == [f"Booking confirmed: Group Yoga, {WHEN_MONDAY}"]
    entries = [calendar_of(sent.message).walk("VEVENT")[0] for sent in mail.sent]
    assert [(str(e["STATUS"]), int(e["SEQUENCE"])) for e in entries] == [
        ("TENTATIVE", 0),
        ("CONFIRMED", 1),
    ]


# Reminders


async def test_the_reminder_fires_at_its_instant_and_once(
    app: FastAPI, place: Place, clock: FixedClock, mail: RecordingTransport, config: WorkerConfig
) -> None:
    await place.book(await place.customer("Ann", "ann@example.com"))
    await deliver(app, clock, mail, config)
    assert len(mail.sent) == 1  # the confirmation
    clock.at = datetime(2026, 12, 6, 9, 59, 59, tzinfo=UTC)
    await deliver(app, clock, mail, config)
    assert len(mail.sent) == 1, "nothing before it is due"
    clock.at = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    await deliver(app, clock, mail, config)
    assert mail.subjects()[1:] == [f"Reminder: Group Yoga, {WHEN_MONDAY}"]
    assert "/my-booking/" in text_of(mail.sent[1].message)
    clock.at = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    await deliver(app, clock, mail, config)
    assert len(mail.sent) == 2, "once"


async def test_the_reminder_counts_elapsed_hours_across_the_autumn_clock_change(
    app: FastAPI, place: Place, clock: FixedClock, mail: RecordingTransport, config: WorkerConfig
) -> None:
    clock.at = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)
    await place.login()
    # 10:00 on Sunday 25 October is GMT (clocks went back at 02:00 BST that morning):
    # 24 hours before it is 10:00 UTC on the 24th, 11:00 on the London clock.
    await place.book(await place.customer("Ann", "ann@example.com"), date="2026-10-25")
    await deliver(app, clock, mail, config)
    clock.at = datetime(2026, 10, 24, 9, 30, tzinfo=UTC)  # past 10:00 BST, the naive answer
    await deliver(app, clock, mail, config)
    assert len(mail.sent) == 1
    clock.at = datetime(2026, 10, 24, 10, 0, tzinfo=UTC)
    await deliver(app, clock, mail, config)
    assert mail.subjects()[1:] == [
        "Reminder: Group Yoga, Sun 25 Oct 2026, 10:00-11:00 (Europe/London)"
    ]


async def test_a_booking_cancelled_before_its_reminder_gets_none(
    app: FastAPI, place: Place, clock: FixedClock, mail: RecordingTransport, config: WorkerConfig
) -> None:
    booked = await place.book(await place.customer("Ann", "ann@example.com"))
    await place.api.cancel(booked)
    for day in (6, 7):
        clock.at = datetime(2026, 12, day, 10, 0, tzinfo=UTC)
        await deliver(app, clock, mail, config)
    assert [s.split(":")[0] for s in mail.subjects()] == ["Booking confirmed", "Booking cancelled"]


async def test_a_reminder_scheduled_then_cancelled_before_it_goes_out_is_dropped(
    app: FastAPI, place: Place, clock: FixedClock, config: WorkerConfig
) -> None:
    booked = await place.book(await place.customer("Ann", "ann@example.com"))
    await deliver(app, clock, RecordingTransport(), config)
    clock.at = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    down = RecordingTransport(failures=1)
    await deliver(app, clock, down, config)  # the reminder is written, its send fails
    await place.login()
    await place.api.cancel(booked)
    clock.at = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    mail = RecordingTransport()
    await deliver(app, clock, mail, config)
    assert [s.split(":")[0] for s in mail.subjects()] == ["Booking cancelled"]


async def test_a_rescheduled_booking_is_reminded_at_its_new_time(
    app: FastAPI, place: Place, clock: FixedClock, mail: RecordingTransport, config: WorkerConfig
) -> None:
    booked = await place.book(await place.customer("Ann", "ann@example.com"))
    await place.api.reschedule(booked, "2026-12-08", "15:00")
    clock.at = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    await deliver(app, clock, mail, config)
    assert not any(s.startswith("Reminder") for s in mail.subjects())
    clock.at = datetime(2026, 12, 7, 14, 59, tzinfo=UTC)
    await deliver(app, clock, mail, config)
    assert not any(s.startswith("Reminder") for s in mail.subjects())
    clock.at = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
    await deliver(app, clock, mail, config)
    assert mail.subjects()[-1] == (
        "Reminder: Group Yoga, Tue 8 Dec 2026, 15:00-16:00 (Europe/London)"
    )
    # Moved again after that reminder went out: reminded again for the new time.
    await place.login()
    await place.api.reschedule(booked, "2026-12-09", "15:00")
    clock.at = datetime(2026, 12, 8, 15, 0, tzinfo=UTC)
    await deliver(app, clock, mail, config)
    assert mail.subjects()[-1] == (
        "Reminder: Group Yoga, Wed 9 Dec 2026, 15:00-16:00 (Europe/London)"
    )
    assert sum(s.startswith("Reminder") for s in mail.subjects()) == 2


async def test_a_booking_made_inside_the_reminder_window_gets_no_reminder(
    app: FastAPI, place: Place, clock: FixedClock, mail: RecordingTransport, config: WorkerConfig
) -> None:
    clock.at = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    await place.login()
    await place.book(await place.customer("Ann", "ann@example.com"))
    clock.at = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    await deliver(app, clock, mail, config)
    assert [s.split(":")[0] for s in mail.subjects()] == ["Booking confirmed"]


# Leases


async def test_a_claim_takes_at_most_its_batch(
    app: FastAPI, place: Place, clock: FixedClock, config: WorkerConfig
) -> None:
    """Twelve bookings, twelve streams all due: a claim of five leases exactly five, the
    earliest (a locking ``IN (subquery)`` could run once per row and take more)."""
    for number in range(12):
        guest = await place.customer(f"Guest {number}", f"guest{number}@example.com")
        await place.book(guest, start=f"{8 + number:02d}:00")
    async with database_of(app).transaction(write=True) as session:
        claimed = await OutboxRepository(session).claim(
            clock.now(), "worker", config.lease, 5, config.max_attempts
        )
    seqs = await rows(database_of(app), sa.select(OutboxEvent.seq).order_by(OutboxEvent.seq))
    assert len(seqs) >= 12
    assert [c.seq for c in claimed] == [seq for (seq,) in seqs[:5]]


async def test_claims_of_a_worker_that_died_are_taken_over_when_its_lease_runs_out(
    app: FastAPI, place: Place, clock: FixedClock, mail: RecordingTransport, config: WorkerConfig
) -> None:
    await place.book(await place.customer("Ann", "ann@example.com"))
    async with database_of(app).transaction(write=True) as session:
        [claimed] = await OutboxRepository(session).claim(
            clock.now(), "dead-worker", config.lease, 10, config.max_attempts
        )
    survivor = Worker(database_of(app), clock, mail, config, name="survivor")
    assert await survivor.run_once() == 0, "the lease still holds"
    clock.at = NOW + config.lease
    assert await survivor.run_once() == 1
    assert [s.event_id for s in mail.sent] == [claimed.id]
    [event] = await outbox(app)
    assert (event.status, event.attempts) == ("delivered", 2)


async def test_a_stopping_worker_hands_back_the_claims_it_did_not_start(
    app: FastAPI, place: Place, clock: FixedClock, mail: RecordingTransport, config: WorkerConfig
) -> None:
    await place.book(await place.customer("Ann", "ann@example.com"))
    stopping = Worker(database_of(app), clock, mail, config, name="stopping")
    stopping.stopping.set()
    assert await stopping.step() == 1
    assert mail.sent == []
    [event] = await rows(
        database_of(app),
        sa.select(OutboxEvent.status, OutboxEvent.attempts, OutboxEvent.claimed_by),
    )
    assert tuple(event) == ("pending", 0, None)
    assert await Worker(database_of(app), clock, mail, config).run_once() == 1
    assert len(mail.sent) == 1


# The shared link


def test_emails_and_the_public_pages_sign_links_alike() -> None:
    tenant, appointment = "0" * 12 + "a" * 12, "1" * 12 + "b" * 12
    token = links.booking_token(TEST_SECRET, tenant, appointment)
    assert token == public_service.booking_token(TEST_SECRET, tenant, appointment)
    assert links.manage_path(token) == public_service.manage_path(token)
