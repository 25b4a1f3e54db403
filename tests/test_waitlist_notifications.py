"""The waitlist tells people: the worker (driven in-process through ``run_once``) emails
a customer who joins (place in line, private link), whose class started without a place
(the worker expires the entry), who left or whose waitlist was closed; a promotion sends
one message, the booking's confirmation ("A place opened up"); and webhook endpoints can
subscribe to every ``waitlist.*`` event."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from slotbook import links
from slotbook.booking.models import WaitlistEntry
from slotbook.clock import FixedClock
from slotbook.notifications.models import NotificationDelivery
from slotbook.notifications.service import Worker, WorkerConfig, run_once
from slotbook.notifications.service import worker as worker_module
from slotbook.outbox import OutboxEvent
from slotbook.settings import Settings
from slotbook.storage import Database
from tests.conftest import NOW, TEST_SECRET
from tests.mail_support import (
    RecordingTransport,
    Sent,
    calendar_of,
    html_of,
    manage_link,
    raw,
    rows,
    subject,
    text_of,
)
from tests.scenarios import Studio, open_studio
from tests.support import Api
from tests.webhook_support import Receiver, clock_time

Json = dict[str, Any]
WHEN = "Mon 7 Dec 2026, 10:00-11:00 (Europe/London)"
CLASS_STARTS = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # London is on UTC in December
WAITLIST_LINK = re.compile(r"https?://\S+/my-waitlist/\S+")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """As everywhere, plus webhooks to the tests' receiver on 127.0.0.1."""
    return Settings(
        database_url=database_url,
        secret_key=TEST_SECRET,
        var_dir=tmp_path / "var",
        log_json=True,
        webhook_allow_private_addresses=True,
        webhook_timeout_seconds=5,
    )


@pytest.fixture
def config(settings: Settings) -> WorkerConfig:
    return WorkerConfig.from_settings(settings)


@pytest.fixture
def mail() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
async def studio(api: Api) -> Studio:
    return await open_studio(api)


@pytest.fixture
def receiver(clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setattr("standardwebhooks.webhooks.datetime", clock_time(clock.now))
    with Receiver() as server:
        yield server


async def open_class(studio: Studio, capacity: int = 1) -> tuple[Json, Json]:
    """Group Yoga with a waitlist, ``capacity`` spots a class, taught by John Smith."""
    yoga = await studio.offer(
        "Group Yoga", key="yoga", parallel=True, capacity=capacity, waitlist_enabled=True
    )
    john = await studio.hire("John Smith", [yoga], key="john")
    return yoga, john


async def book(studio: Studio, name: str, party_size: int = 1) -> Json:
    """A new customer books Monday's 10:00 class."""
    customer = await studio.customer(name)
    return await studio.book(
        studio.yoga, studio.john, customer=customer, start="10:00", party_size=party_size
    )


async def wait(studio: Studio, name: str, party_size: int = 1) -> Json:
    """A new customer joins the waitlist of Monday's 10:00 class."""
    customer = await studio.customer(name)
    return await studio.join_waitlist(
        studio.yoga, studio.john, customer=customer, start="10:00", party_size=party_size
    )


def database_of(app: FastAPI) -> Database:
    database: Database = app.state.database
    return database


async def deliver(
    app: FastAPI, clock: FixedClock, mail: RecordingTransport, config: WorkerConfig
) -> int:
    return await run_once(database_of(app), clock, mail, config)


def address_of(studio: Studio, name: str) -> str:
    return str(studio.customers[name]["email"])


def to(mail: RecordingTransport, address: str) -> list[Sent]:
    return [sent for sent in mail.sent if sent.recipient == address]


def waitlist_link(message: EmailMessage) -> str:
    found = WAITLIST_LINK.search(text_of(message))
    assert found, "the message carries the entry's private link"
    return found.group(0)


def assert_private(mail: RecordingTransport, addresses: list[str]) -> None:
    """Each message goes to its customer alone and names no one else's address."""
    for sent in mail.sent:
        assert parseaddr(str(sent.message["To"]))[1] == sent.recipient
        assert sent.message["Cc"] is None and sent.message["Bcc"] is None
        body = raw(sent.message)
        others = [address for address in addresses if address != sent.recipient]
        assert not any(address.encode() in body for address in others), subject(sent.message)


async def outbox(app: FastAPI, *types: str) -> list[Any]:
    statement = sa.select(
        OutboxEvent.id,
        OutboxEvent.type,
        OutboxEvent.stream,
        OutboxEvent.payload,
        OutboxEvent.status,
    ).order_by(OutboxEvent.seq)
    if types:
        statement = statement.where(OutboxEvent.type.in_(types))
    return await rows(database_of(app), statement)


async def stored_status(app: FastAPI, entry: Json) -> str:
    [(status,)] = await rows(
        database_of(app), sa.select(WaitlistEntry.status).where(WaitlistEntry.id == entry["id"])
    )
    return str(status)


async def stand_at(studio: Studio, clock: FixedClock, at: datetime) -> None:
    """Move the clock; the owner logs in again (the signup token has expired by then)."""
    me = await studio.api.get("/auth/me")
    clock.at = at
    login = {"email": me["email"], "password": "correct-horse-1"}
    studio.api.token = (await studio.api.post("/auth/login", login, expect=200))["access_token"]


# Joining


async def test_joining_mails_the_place_in_line_and_the_private_link(
    app: FastAPI,
    client: httpx.AsyncClient,
    studio: Studio,
    clock: FixedClock,
    mail: RecordingTransport,
    config: WorkerConfig,
) -> None:
    await open_class(studio, capacity=2)
    await book(studio, "Carl", party_size=2)
    ann = await wait(studio, "Ann")
    bea = await wait(studio, "Bea", party_size=2)
    await deliver(app, clock, mail, config)

    [to_ann] = to(mail, address_of(studio, "Ann"))
    [to_bea] = to(mail, address_of(studio, "Bea"))
    assert subject(to_ann.message) == f"You're on the waitlist: Group Yoga, {WHEN}"
    assert subject(to_bea.message) == f"You're on the waitlist: Group Yoga, {WHEN}"
    assert parseaddr(str(to_bea.message["From"]))[0] == "Lotus Yoga"
    assert parseaddr(str(to_bea.message["To"])) == ("Bea", address_of(studio, "Bea"))
    text = text_of(to_bea.message)
    assert f"When: {WHEN}" in text
    assert "Your place in line: 2" in text
    assert "Group Yoga with John Smith, 10:00-11:00 (Europe/London)" in text
    assert "For 2 people" in text
    assert "Your place in line: 1" in text_of(to_ann.message)
    assert "For 1 people" not in text_of(to_ann.message)
    html = html_of(to_bea.message)
    assert WHEN in html and "<strong>2</strong>" in html

    tenant_id = (await studio.api.get("/auth/me"))["tenant_id"]
    for entry, sent in ((ann, to_ann), (bea, to_bea)):
        link = waitlist_link(sent.message)
        assert link.startswith("http://127.0.0.1:8000/my-waitlist/")
        assert link in html_of(sent.message)
        token = urlsplit(link).path.rsplit("/", 1)[1]
        linked = links.read_waitlist_token(TEST_SECRET, token)
        assert (linked.tenant_id, linked.entry_id) == (tenant_id, entry["id"])
        assert not list(sent.message.iter_attachments()), "no calendar entry for a wait"
    assert_private(mail, [address_of(studio, name) for name in ("Carl", "Ann", "Bea")])

    logged = await rows(
        database_of(app),
        sa.select(
            NotificationDelivery.kind,
            NotificationDelivery.recipient,
            NotificationDelivery.status,
            NotificationDelivery.appointment_id,
        ).where(NotificationDelivery.event_type == "waitlist.joined"),
    )
    assert sorted(tuple(row) for row in logged) == sorted(
        [
            ("waitlist_joined", address_of(studio, "Ann"), "sent", None),
            ("waitlist_joined", address_of(studio, "Bea"), "sent", None),
        ]
    )
    assert {event.status for event in await outbox(app)} == {"delivered"}


# Promotion


async def test_a_promotion_mails_the_booking_once_with_its_manage_link_and_calendar(
    app: FastAPI,
    client: httpx.AsyncClient,
    studio: Studio,
    clock: FixedClock,
    mail: RecordingTransport,
    config: WorkerConfig,
) -> None:
    await open_class(studio, capacity=2)
    carl = await book(studio, "Carl")
    await book(studio, "Dora")
    ann = await wait(studio, "Ann")
    await wait(studio, "Bea")
    await deliver(app, clock, mail, config)
    assert len(to(mail, address_of(studio, "Ann"))) == 1, "the joined mail"
    mail.sent.clear()

    await studio.api.cancel(carl)
    entry = await studio.waitlist_entry(ann)
    assert entry["status"] == "promoted"
    await deliver(app, clock, mail, config)

    [promoted] = to(mail, address_of(studio, "Ann"))
    message = promoted.message
    assert subject(message) == f"A place opened up: Group Yoga, {WHEN}"
    text = text_of(message)
    assert "a place opened up in Group Yoga with Lotus Yoga" in text
    assert "you are now booked" in text
    assert f"When: {WHEN}" in text
    assert "a place opened up" in html_of(message)
    assert parseaddr(str(message["From"]))[0] == "Lotus Yoga"

    link = manage_link(message)
    token = urlsplit(link).path.rsplit("/", 1)[1]
    assert links.read_token(TEST_SECRET, token).appointment_id == entry["appointment_id"]
    shown = await client.get(f"/api/v1/public/bookings/{token}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["status"] == "confirmed"
    [event] = calendar_of(message).walk("VEVENT")
    assert str(event["UID"]) == f"{entry['appointment_id']}@slotbook"
    assert event.decoded("DTSTART") == CLASS_STARTS
    assert str(event["STATUS"]) == "CONFIRMED"

    # Carl hears of his cancellation; Bea, still waiting, and Dora hear nothing.
    assert [subject(s.message) for s in to(mail, address_of(studio, "Carl"))] == [
        f"Booking cancelled: Group Yoga, {WHEN}"
    ]
    assert len(mail.sent) == 2
    assert_private(mail, [address_of(studio, name) for name in ("Carl", "Dora", "Ann", "Bea")])

    # "waitlist.promoted" was handled (for webhooks) and emailed nobody.
    [handled] = await outbox(app, "waitlist.promoted")
    assert handled.status == "delivered"
    assert handled.payload["appointment_id"] == entry["appointment_id"]
    sent_for = await rows(
        database_of(app),
        sa.select(NotificationDelivery.event_type, NotificationDelivery.kind).where(
            NotificationDelivery.recipient == address_of(studio, "Ann")
        ),
    )
    assert sorted(tuple(row) for row in sent_for) == [
        ("appointment.created", "confirmation"),
        ("waitlist.joined", "waitlist_joined"),
    ]
    assert await deliver(app, clock, mail, config) == 0
    assert len(mail.sent) == 2


# Expiry


async def test_an_entry_whose_class_starts_expires_once_with_one_mail(
    app: FastAPI,
    studio: Studio,
    clock: FixedClock,
    mail: RecordingTransport,
    config: WorkerConfig,
) -> None:
    await open_class(studio)
    await book(studio, "Carl")
    ann = await wait(studio, "Ann")
    await deliver(app, clock, mail, config)
    bea = await wait(studio, "Bea")  # the worker next runs after the start
    mail.sent.clear()

    # At its start instant the class has not started yet: the sweep leaves it.
    await stand_at(studio, clock, CLASS_STARTS)
    assert await Worker(database_of(app), clock, mail, config).expire_waitlist() == 0
    assert await stored_status(app, ann) == "waiting"

    await stand_at(studio, clock, CLASS_STARTS + timedelta(minutes=1))
    assert (await studio.waitlist_entry(ann))["status"] == "expired", "reads expired at once"
    await deliver(app, clock, mail, config)
    for entry in (ann, bea):
        assert await stored_status(app, entry) == "expired"
        shown = await studio.waitlist_entry(entry)
        assert (shown["status"], shown["position"]) == ("expired", None)
    expired = await outbox(app, "waitlist.expired")
    assert sorted(event.payload["entry_id"] for event in expired) == sorted([ann["id"], bea["id"]])
    assert {event.status for event in expired} == {"delivered"}
    assert {event.stream for event in expired} == {f"waitlist:{ann['id']}", f"waitlist:{bea['id']}"}
    assert {event.payload["actor"] for event in expired} == {"system"}

    [to_ann] = to(mail, address_of(studio, "Ann"))
    assert subject(to_ann.message) == f"No place opened up: Group Yoga, {WHEN}"
    assert "has started, and no place opened up for you" in text_of(to_ann.message)
    # Bea's "you're on the waitlist" came too late to be true: she hears only this.
    assert [subject(s.message) for s in to(mail, address_of(studio, "Bea"))] == [
        f"No place opened up: Group Yoga, {WHEN}"
    ]
    assert len(mail.sent) == 2
    assert_private(mail, [address_of(studio, name) for name in ("Carl", "Ann", "Bea")])

    await deliver(app, clock, mail, config)
    await stand_at(studio, clock, CLASS_STARTS + timedelta(hours=2))
    await deliver(app, clock, mail, config)
    assert len(mail.sent) == 2
    assert len(await outbox(app, "waitlist.expired")) == 2
    await studio.api.put(f"/waitlist/{ann['id']}/cancel", expect=409)


async def test_the_sweep_runs_in_bounded_batches_across_businesses_and_workers(
    app: FastAPI,
    client: httpx.AsyncClient,
    studio: Studio,
    clock: FixedClock,
    mail: RecordingTransport,
    config: WorkerConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = await open_studio(Api(client), "Other Studio")
    entries: list[Json] = []
    for place in (studio, other):
        await open_class(place)
        await book(place, "Carl")
        entries += [await wait(place, name) for name in ("Ann", "Bea", "Cy")]
    await deliver(app, clock, mail, config)
    mail.sent.clear()
    # Two entries a transaction, one transaction a scan: a run goes on until all are done.
    monkeypatch.setattr(worker_module, "WAITLIST_EXPIRY_BATCH", 2)
    monkeypatch.setattr(worker_module, "WAITLIST_EXPIRY_BATCHES", 1)
    clock.at = CLASS_STARTS + timedelta(minutes=5)

    # Two workers sweep at once (side by side on PostgreSQL, one after the other on
    # SQLite): each entry expires once.
    workers = [Worker(database_of(app), clock, mail, config, name=f"w{n}") for n in range(2)]
    counts = await asyncio.gather(*(w.expire_waitlist() for w in workers))
    assert sum(counts) == 4, "one bounded batch each"
    await deliver(app, clock, mail, config)

    expired = await outbox(app, "waitlist.expired")
    assert sorted(event.payload["entry_id"] for event in expired) == sorted(
        e["id"] for e in entries
    )
    for entry in entries:
        assert await stored_status(app, entry) == "expired"
    assert sorted(sent.recipient for sent in mail.sent) == sorted(
        address_of(place, name) for place in (studio, other) for name in ("Ann", "Bea", "Cy")
    )
    senders = {parseaddr(str(sent.message["From"]))[0] for sent in mail.sent}
    assert senders == {"Lotus Yoga", "Other Studio"}


# Leaving


async def test_leaving_or_a_closed_waitlist_is_mailed(
    app: FastAPI,
    studio: Studio,
    clock: FixedClock,
    mail: RecordingTransport,
    config: WorkerConfig,
) -> None:
    await open_class(studio, capacity=2)
    await book(studio, "Carl", party_size=2)
    ann = await wait(studio, "Ann")
    bea = await wait(studio, "Bea")
    await wait(studio, "Cy", party_size=2)
    await deliver(app, clock, mail, config)
    mail.sent.clear()

    # Ann leaves the line.
    await studio.api.put(f"/waitlist/{ann['id']}/cancel")
    await deliver(app, clock, mail, config)
    [left] = to(mail, address_of(studio, "Ann"))
    assert subject(left.message) == f"You left the waitlist: Group Yoga, {WHEN}"
    assert "You have left the waitlist for Group Yoga with Lotus Yoga" in text_of(left.message)
    assert WHEN in html_of(left.message)
    assert len(mail.sent) == 1
    mail.sent.clear()

    # The business turns the waitlist off: everyone still waiting hears it.
    await studio.api.patch(f"/services/{studio.yoga['id']}", {"waitlist_enabled": False})
    assert (await studio.waitlist_entry(bea))["status"] == "cancelled"
    await deliver(app, clock, mail, config)
    for name in ("Bea", "Cy"):
        [closed] = to(mail, address_of(studio, name))
        assert subject(closed.message) == f"Waitlist closed: Group Yoga, {WHEN}"
        assert "Lotus Yoga has closed the waitlist for Group Yoga" in text_of(closed.message)
    assert "For 2 people" in text_of(to(mail, address_of(studio, "Cy"))[0].message)
    assert len(mail.sent) == 2
    assert_private(mail, [address_of(studio, name) for name in ("Carl", "Ann", "Bea", "Cy")])
    reasons = [event.payload["reason"] for event in await outbox(app, "waitlist.cancelled")]
    assert sorted(reasons) == ["left", "waitlist_closed", "waitlist_closed"]


async def test_a_customer_who_books_the_place_they_waited_for_hears_only_of_the_booking(
    app: FastAPI,
    studio: Studio,
    clock: FixedClock,
    mail: RecordingTransport,
    config: WorkerConfig,
) -> None:
    await open_class(studio, capacity=2)
    carl = await book(studio, "Carl", party_size=2)
    cy = await wait(studio, "Cy", party_size=2)
    await deliver(app, clock, mail, config)
    mail.sent.clear()

    # Carl comes alone: one spot frees, too few for Cy's party of two, so Cy waits on...
    await studio.api.put(f"/appointments/{carl['id']}/party-size", {"party_size": 1})
    assert (await studio.waitlist_entry(cy))["status"] == "waiting"
    # ... until Cy books that spot alone: the entry closes as "booked".
    await studio.book(studio.yoga, studio.john, customer=studio.customers["Cy"], start="10:00")
    assert (await studio.waitlist_entry(cy))["status"] == "cancelled"
    await deliver(app, clock, mail, config)

    [booked] = await outbox(app, "waitlist.cancelled")
    assert (booked.payload["reason"], booked.status) == ("booked", "delivered")
    assert [subject(s.message) for s in to(mail, address_of(studio, "Cy"))] == [
        f"Booking confirmed: Group Yoga, {WHEN}"
    ]


# Webhooks


async def test_every_waitlist_event_type_can_be_subscribed_to(studio: Studio) -> None:
    types = ["waitlist.joined", "waitlist.promoted", "waitlist.cancelled", "waitlist.expired"]
    body = {"url": "https://hooks.example.com/waitlist", "event_types": list(reversed(types))}
    created = await studio.api.post("/webhooks", body)
    assert created["event_types"] == types
    refused = await studio.api.post(
        "/webhooks", {**body, "event_types": ["waitlist.nope"]}, expect=422
    )
    assert "event_types" in str(refused["detail"])


async def test_a_subscriber_to_waitlist_promoted_receives_it_signed(
    app: FastAPI,
    studio: Studio,
    clock: FixedClock,
    mail: RecordingTransport,
    config: WorkerConfig,
    receiver: Receiver,
) -> None:
    await open_class(studio)
    body = {"url": receiver.url("/promoted"), "event_types": ["waitlist.promoted"]}
    endpoint = await studio.api.post("/webhooks", body)
    receiver.secrets["/promoted"] = endpoint["secret"]
    everything = await studio.api.post(
        "/webhooks", {"url": receiver.url("/all"), "event_types": ["*"]}
    )
    receiver.secrets["/all"] = everything["secret"]

    carl = await book(studio, "Carl")
    ann = await wait(studio, "Ann", party_size=1)
    await studio.api.cancel(carl)
    entry = await studio.waitlist_entry(ann)
    await deliver(app, clock, mail, config)

    assert receiver.failures == [] and all(hit.verified for hit in receiver.hits)
    [hit] = receiver.of("/promoted")
    [event] = await outbox(app, "waitlist.promoted")
    assert hit.webhook_id == event.id
    assert hit.type == "waitlist.promoted"
    assert hit.payload["timestamp"] == NOW.isoformat(), "when the promotion happened"
    data = hit.payload["data"]
    assert data["entry_id"] == ann["id"]
    assert data["appointment_id"] == entry["appointment_id"]
    assert data["customer_id"] == ann["customer_id"]
    assert (data["service_id"], data["staff_id"]) == (studio.yoga["id"], studio.john["id"])
    assert (data["date"], data["start_time"], data["party_size"]) == ("2026-12-07", "10:00:00", 1)
    assert data["starts_at"] == CLASS_STARTS.isoformat()
    assert data["actor"] == "system"
    assert b"@" not in hit.body, "no customer's contact details"

    kinds = [hit.type for hit in receiver.of("/all")]
    assert sorted(kinds) == sorted(
        [
            "appointment.created",  # Carl
            "session.full",
            "waitlist.joined",
            "appointment.cancelled",
            "appointment.created",  # Ann, promoted
            "waitlist.promoted",
        ]
    )
    joined = next(hit for hit in receiver.of("/all") if hit.type == "waitlist.joined")
    assert (joined.payload["data"]["entry_id"], joined.payload["data"]["position"]) == (
        ann["id"],
        1,
    )
    created = [
        hit.payload["data"] for hit in receiver.of("/all") if hit.type == "appointment.created"
    ]
    assert [d.get("waitlist_entry_id") for d in created if d["appointment_id"] != carl["id"]] == [
        ann["id"]
    ]
    log = await studio.api.get(f"/webhooks/{endpoint['id']}/deliveries")
    assert [(d["event_type"], d["status"]) for d in log["items"]] == [
        ("waitlist.promoted", "delivered")
    ]
