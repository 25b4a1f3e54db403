"""Webhooks: owners and admins register endpoints; the worker (driven in-process through
``run_once`` with a moved clock) fans every outbox event out to the endpoints that take
it and sends each delivery, signed (Standard Webhooks), to a real HTTP receiver that
verifies every signature with ``standardwebhooks``; with retries, in order, disabling an
endpoint on 410 or after its last attempt, and never to a private address unless the
server allows them."""

from __future__ import annotations

import base64
import dataclasses
import socket
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from slotbook.clock import FixedClock
from slotbook.notifications.models import WebhookDelivery, WebhookEndpoint
from slotbook.notifications.repository import WebhookQueue
from slotbook.notifications.schemas import WEBHOOK_EVENT_TYPES
from slotbook.notifications.service import WorkerConfig, run_once
from slotbook.notifications.service import addresses as address_rule
from slotbook.outbox import OutboxEvent
from slotbook.settings import Settings
from slotbook.storage import Database
from tests.conftest import NOW, TEST_SECRET
from tests.mail_support import RecordingTransport, rows
from tests.support import MONDAY, Api, unique_email
from tests.webhook_support import Receiver, clock_time

PASSWORD = "correct-horse-1"
PUBLIC_ADDRESS = "93.184.215.14"  # never contacted: every test refuses or patches first


@pytest.fixture
def allow_private() -> bool:
    """Tests talk to a receiver on 127.0.0.1; those of the address rule turn it off."""
    return True


@pytest.fixture
def settings(database_url: str, tmp_path: Path, allow_private: bool) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key=TEST_SECRET,
        var_dir=tmp_path / "var",
        log_json=True,
        webhook_allow_private_addresses=allow_private,
        webhook_backoff_seconds=10,
        webhook_timeout_seconds=5,
    )


@pytest.fixture
def config(settings: Settings) -> WorkerConfig:
    return WorkerConfig.from_settings(settings)


@pytest.fixture
def receiver(clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setattr("standardwebhooks.webhooks.datetime", clock_time(clock.now))
    with Receiver() as server:
        yield server


@dataclass
class Studio:
    api: Api
    outlet: dict[str, Any]
    yoga: dict[str, Any]
    john: dict[str, Any]
    owner_email: str

    async def book(self, name: str = "Ann", start: str = "10:00", **extra: Any) -> dict[str, Any]:
        email = unique_email("guest")
        customer = await self.api.post("/customers", {"name": name, "email": email})
        return await self.api.book(
            self.outlet, self.yoga, self.john, customer=customer, start=start, **extra
        )

    async def register(self, url: str, types: list[str] | None = None, **extra: Any) -> Any:
        body = {"url": url, "event_types": types or ["*"], **extra}
        return await self.api.post("/webhooks", body)

    async def login(self) -> None:
        body = {"email": self.owner_email, "password": PASSWORD}
        self.api.token = (await self.api.post("/auth/login", body, expect=200))["access_token"]


async def open_studio(api: Api, name: str = "Lotus Yoga") -> Studio:
    owner = unique_email("hooks")
    await api.signup(name, email=owner, password=PASSWORD)
    outlet = await api.outlet(timezone="Europe/London")
    yoga = await api.service("Group Yoga", parallel=True, capacity=10)
    john = await api.staff("John Smith", outlet, [yoga])
    return Studio(api, outlet, yoga, john, owner)


@pytest.fixture
async def studio(api: Api) -> Studio:
    return await open_studio(api)


async def listen(studio: Studio, receiver: Receiver, path: str, **extra: Any) -> Any:
    """Register the receiver's ``path`` and tell the receiver its secret."""
    endpoint = await studio.register(receiver.url(path), **extra)
    receiver.secrets[path] = endpoint["secret"]
    return endpoint


def database_of(app: FastAPI) -> Database:
    database: Database = app.state.database
    return database


async def deliver(app: FastAPI, clock: FixedClock, config: WorkerConfig) -> int:
    return await run_once(database_of(app), clock, RecordingTransport(), config)


async def outbox_ids(app: FastAPI) -> dict[str, str]:
    """Outbox event ids by type (the last of each type)."""
    found = await rows(
        database_of(app), sa.select(OutboxEvent.type, OutboxEvent.id).order_by(OutboxEvent.seq)
    )
    return {kind: event_id for kind, event_id in found}


async def staff_api(api: Api) -> Api:
    email = unique_email("desk")
    user = {"email": email, "password": PASSWORD, "name": "Front Desk", "role": "staff"}
    await api.post("/users", user)
    login = await api.post("/auth/login", {"email": email, "password": PASSWORD}, expect=200)
    return api.as_user(login["access_token"])


def pretend_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> list[str]:
    """Names resolve to ``answers`` (anything else does not resolve); the names asked."""
    asked: list[str] = []

    def lookup(host: str, port: int) -> list[str]:
        asked.append(host)
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers[host]

    monkeypatch.setattr(address_rule, "lookup", lookup)
    return asked


def intercept(monkeypatch: pytest.MonkeyPatch, status: int | None = None) -> list[httpx.Request]:
    """Catch every request that would leave over the network (the tests' own client
    talks to the app in-process): answered ``status``, or, with None, failing the
    attempt as a connection error would. The requests caught."""
    caught: list[httpx.Request] = []

    async def handle(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        caught.append(request)
        if status is None:
            raise httpx.ConnectError("a test sends no request over the network")
        return httpx.Response(status, request=request, stream=httpx.ByteStream(b"ok"))

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", handle)
    return caught


def assert_all_verified(receiver: Receiver) -> None:
    assert receiver.failures == []
    assert all(hit.verified for hit in receiver.hits)


# Registering endpoints


async def test_managers_register_read_change_and_delete_endpoints(studio: Studio) -> None:
    api = studio.api
    created = await studio.register(
        "https://hooks.example.com/slotbook",
        ["appointment.cancelled", "appointment.created", "appointment.created"],
        description="CRM sync",
    )
    assert created["url"] == "https://hooks.example.com/slotbook"
    assert created["event_types"] == ["appointment.created", "appointment.cancelled"]
    assert created["active"] is True and created["disabled_reason"] is None
    assert created["description"] == "CRM sync"
    assert created["created_at"] == NOW.isoformat().replace("+00:00", "Z")
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32

    shown = await api.get(f"/webhooks/{created['id']}")
    assert shown == created
    listing = await api.get("/webhooks")
    assert listing["total"] == 1
    assert "secret" not in listing["items"][0]
    assert listing["items"][0]["id"] == created["id"]

    changed = await api.patch(
        f"/webhooks/{created['id']}",
        {"event_types": ["*"], "description": None, "url": "https://hooks.example.com/v2"},
    )
    assert changed["event_types"] == ["*"]
    assert changed["description"] is None
    assert changed["url"] == "https://hooks.example.com/v2"
    assert "secret" not in changed

    off = await api.patch(f"/webhooks/{created['id']}", {"active": False})
    assert off["active"] is False and off["disabled_reason"].startswith("disabled by user")
    on = await api.patch(f"/webhooks/{created['id']}", {"active": True})
    assert (on["active"], on["disabled_reason"], on["disabled_at"]) == (True, None, None)

    await api.request("DELETE", f"/webhooks/{created['id']}", expect=204)
    await api.request("DELETE", f"/webhooks/{created['id']}", expect=404)
    await api.get(f"/webhooks/{created['id']}", expect=404)
    assert (await api.get("/webhooks"))["total"] == 0


async def test_event_types_and_urls_are_checked_naming_the_field(studio: Studio) -> None:
    api = studio.api
    url = "https://hooks.example.com/x"

    async def refused(body: dict[str, Any], field: str) -> str:
        answer = await api.post("/webhooks", body, expect=422)
        text = str(answer["detail"])
        assert field in text, answer
        return text

    text = await refused({"url": url, "event_types": ["appointment.exploded"]}, "event_types")
    assert "appointment.exploded" in text and "appointment.created" in text
    await refused({"url": url, "event_types": []}, "event_types")
    await refused({"url": url, "event_types": ["*", "session.full"]}, "event_types")
    await refused({"url": url, "event_types": "appointment.created"}, "event_types")
    await refused({"url": url}, "event_types")
    for bad in ("ftp://hooks.example.com/x", "not a url", "https://", "http://exa mple.com/"):
        await refused({"url": bad, "event_types": ["*"]}, "url")
    await refused({"url": "https://x.example/" + "a" * 2000, "event_types": ["*"]}, "url")
    created = await studio.register(url)
    await api.patch(f"/webhooks/{created['id']}", {"event_types": ["nope"]}, expect=422)
    await api.patch(f"/webhooks/{created['id']}", {"active": None}, expect=422)
    await api.patch(f"/webhooks/{created['id']}", {"url": "gopher://x/"}, expect=422)
    assert (await api.get("/webhooks"))["total"] == 1


def test_every_outbox_type_a_booking_writes_is_a_webhook_type() -> None:
    # The types tests/test_notifications.py sees booking write, the session events, and
    # what the timetable writes (tests/test_timetable_notifications.py).
    changes = ("created", "rescheduled", "cancelled", "no_show", "completed", "confirmed")
    waiting = ("joined", "promoted", "cancelled", "expired", "session_changed")
    booking_types = (
        {f"appointment.{change}" for change in (*changes, "party_size_changed", "staff_changed")}
        | {"session.almost_full", "session.full"}
        | {f"waitlist.{change}" for change in waiting}
        | {f"class_session.{change}" for change in ("cancelled", "moved", "substituted")}
        | {"class_schedule.date_skipped"}
    )
    assert set(WEBHOOK_EVENT_TYPES) == booking_types


# Who may


async def test_front_desk_staff_may_not_manage_webhooks(studio: Studio) -> None:
    created = await studio.register("https://hooks.example.com/x")
    desk = await staff_api(studio.api)
    base = f"/webhooks/{created['id']}"
    body = {"url": "https://hooks.example.com/y", "event_types": ["*"]}
    await desk.post("/webhooks", body, expect=403)
    await desk.post("/webhooks", {"url": "nope"}, expect=403)  # before its body's 422
    await desk.get("/webhooks", expect=403)
    await desk.get(base, expect=403)
    await desk.patch(base, {"active": False}, expect=403)
    await desk.patch(base, {"url": "https://hooks.example.com/z"}, expect=403)
    await desk.request("DELETE", base, expect=403)
    await desk.get(f"{base}/deliveries", expect=403)
    await desk.post(f"{base}/deliveries/x/redeliver", expect=403)
    anonymous = studio.api.as_user("")
    await anonymous.post("/webhooks", body, expect=401)
    await anonymous.get("/webhooks", expect=401)
    assert (await studio.api.get(base))["active"] is True


async def test_another_business_sees_none_of_its_endpoints_or_events(
    app: FastAPI,
    client: httpx.AsyncClient,
    studio: Studio,
    clock: FixedClock,
    config: WorkerConfig,
    receiver: Receiver,
) -> None:
    ours = await listen(studio, receiver, "/ours")
    other = await open_studio(Api(client), "Other Studio")
    theirs = await listen(other, receiver, "/theirs")
    await other.book("Zed")
    await deliver(app, clock, config)
    [hit] = receiver.of("/theirs")
    delivery_id = (await other.api.get(f"/webhooks/{theirs['id']}/deliveries"))["items"][0]["id"]

    base = f"/webhooks/{theirs['id']}"
    api = studio.api
    assert (await api.get("/webhooks"))["items"] == [
        {key: value for key, value in ours.items() if key != "secret"}
    ]
    await api.get(base, expect=404)
    await api.patch(base, {"active": False}, expect=404)
    await api.request("DELETE", base, expect=404)
    await api.get(f"{base}/deliveries", expect=404)
    await api.post(f"{base}/deliveries/{delivery_id}/redeliver", expect=404)
    # Nor through an endpoint of its own.
    await api.post(f"/webhooks/{ours['id']}/deliveries/{delivery_id}/redeliver", expect=404)
    assert receiver.of("/ours") == [], "the other business's booking is not ours"
    assert hit.verified
    assert (await other.api.get(base))["active"] is True


# Delivery


async def test_every_event_reaches_the_receiver_signed_with_its_outbox_id(
    app: FastAPI,
    studio: Studio,
    clock: FixedClock,
    config: WorkerConfig,
    receiver: Receiver,
) -> None:
    endpoint = await listen(studio, receiver, "/all")
    api = studio.api
    booked = await studio.book("Ann")
    await api.reschedule(booked, MONDAY, "12:00")
    await api.put(f"/appointments/{booked['id']}/cancel", {"reason": "Ill"})
    pending = await studio.book("Bea", start="14:00", status="pending")
    for action in ("confirm", "complete"):
        await api.put(f"/appointments/{pending['id']}/{action}")
    absent = await studio.book("Cy", start="16:00")
    await api.put(f"/appointments/{absent['id']}/no-show")
    for number in range(10):  # a class filled: almost full, then full
        await studio.book(f"Guest {number}", start="18:00")

    await deliver(app, clock, config)
    assert_all_verified(receiver)
    hits = receiver.of("/all")
    events = await rows(
        database_of(app), sa.select(OutboxEvent.id, OutboxEvent.type).order_by(OutboxEvent.seq)
    )
    assert sorted(hit.webhook_id for hit in hits) == sorted(event_id for event_id, _ in events)
    # Every type this day's changes make (parties, waitlists and the timetable have
    # tests of their own).
    made_here = {
        t
        for t in WEBHOOK_EVENT_TYPES
        if not t.startswith(("waitlist.", "class_session.", "class_schedule."))
        and t not in ("appointment.party_size_changed", "appointment.staff_changed")
    }
    assert {hit.type for hit in hits} == made_here
    by_id = {hit.webhook_id: hit for hit in hits}
    for event_id, kind in events:
        hit = by_id[event_id]
        assert hit.type == kind
        assert hit.headers["content-type"] == "application/json"
        assert hit.headers["webhook-timestamp"] == str(int(NOW.timestamp()))
        assert hit.headers["webhook-signature"].startswith("v1,")
        assert set(hit.payload) == {"type", "timestamp", "data"}
        assert hit.payload["timestamp"] == NOW.isoformat()
    created = next(
        h
        for h in hits
        if h.type == "appointment.created" and h.payload["data"]["appointment_id"] == booked["id"]
    )
    assert created.payload["data"]["status"] == "confirmed"
    moved = next(h for h in hits if h.type == "appointment.rescheduled")
    assert moved.payload["data"]["appointment_id"] == booked["id"]
    assert moved.payload["data"]["to"]["start_time"] == "12:00:00"
    assert moved.payload["data"]["starts_at"] == "2026-12-07T12:00:00+00:00"
    full = next(h for h in hits if h.type == "session.full")
    assert (full.payload["data"]["bookings"], full.payload["data"]["capacity"]) == (10, 10)
    # Ids, times and counts: never a customer's contact details.
    assert not any(b"@" in hit.body for hit in hits)

    log = await api.get(f"/webhooks/{endpoint['id']}/deliveries", params={"limit": 100})
    assert log["total"] == len(events)
    assert {item["status"] for item in log["items"]} == {"delivered"}
    first = log["items"][0]
    assert (first["attempts"], first["last_response_status"], first["next_retry_at"]) == (
        1,
        200,
        None,
    )
    assert first["delivered_at"] is not None
    assert len(first["last_response_body"]) <= 500
    # Delivered once: a second run sends nothing.
    await deliver(app, clock, config)
    assert len(receiver.of("/all")) == len(events)


async def test_an_endpoint_gets_only_the_types_it_took_and_only_events_after_it_existed(
    app: FastAPI,
    studio: Studio,
    clock: FixedClock,
    config: WorkerConfig,
    receiver: Receiver,
) -> None:
    early = await studio.book("Early")
    await studio.api.cancel(early)
    clock.at = NOW + timedelta(minutes=1)
    await listen(studio, receiver, "/cancellations", types=["appointment.cancelled"])
    late = await studio.book("Late", start="12:00")
    await studio.api.cancel(late)
    await studio.book("Kept", start="14:00")
    await deliver(app, clock, config)
    [hit] = receiver.of("/cancellations")
    assert hit.type == "appointment.cancelled"
    assert hit.payload["data"]["appointment_id"] == late["id"]
    assert_all_verified(receiver)


async def test_500_twice_then_the_third_attempt_succeeds_with_the_same_webhook_id(
    app: FastAPI,
    studio: Studio,
    clock: FixedClock,
    config: WorkerConfig,
    receiver: Receiver,
) -> None:
    endpoint = await listen(studio, receiver, "/flaky", types=["appointment.created"])
    receiver.script["/flaky"] = [500, 500]
    await studio.book()
    log_path = f"/webhooks/{endpoint['id']}/deliveries"

    await deliver(app, clock, config)
    [entry] = (await studio.api.get(log_path))["items"]
    assert entry["status"] == "pending"
    assert (entry["attempts"], entry["last_response_status"]) == (1, 500)
    assert entry["last_error"] == "HTTP 500"
    assert entry["last_response_body"].startswith('{"status": 500')
    assert len(entry["last_response_body"]) == 500
    assert entry["next_retry_at"] == (NOW + timedelta(seconds=10)).isoformat().replace(
        "+00:00", "Z"
    )
    clock.at = NOW + timedelta(seconds=9)
    await deliver(app, clock, config)
    assert len(receiver.of("/flaky")) == 1, "not before the backoff"
    clock.at = NOW + timedelta(seconds=10)
    await deliver(app, clock, config)
    assert len(receiver.of("/flaky")) == 2
    clock.at = NOW + timedelta(seconds=10 + 19)
    await deliver(app, clock, config)
    assert len(receiver.of("/flaky")) == 2, "the second wait doubles"
    clock.at = NOW + timedelta(seconds=10 + 20)
    await deliver(app, clock, config)

    hits = receiver.of("/flaky")
    assert [hit.answered for hit in hits] == [500, 500, 200]
    assert len({hit.webhook_id for hit in hits}) == 1
    assert hits[0].webhook_id == (await outbox_ids(app))["appointment.created"]
    assert hits[0].body == hits[2].body
    stamps = [int(hit.headers["webhook-timestamp"]) for hit in hits]
    assert [stamp - stamps[0] for stamp in stamps] == [0, 10, 30], "each attempt signs anew"
    assert_all_verified(receiver)
    [entry] = (await studio.api.get(log_path))["items"]
    assert (entry["status"], entry["attempts"], entry["last_error"]) == ("delivered", 3, None)
    assert entry["delivered_at"] == clock.at.isoformat().replace("+00:00", "Z")


async def test_410_gone_disables_the_endpoint_and_reactivating_it_resumes(
    app: FastAPI,
    studio: Studio,
    clock: FixedClock,
    config: WorkerConfig,
    receiver: Receiver,
) -> None:
    endpoint = await listen(studio, receiver, "/gone")
    receiver.script["/gone"] = [410]
    first = await studio.book("Ann")
    await deliver(app, clock, config)
    shown = await studio.api.get(f"/webhooks/{endpoint['id']}")
    assert shown["active"] is False
    assert "410 Gone" in shown["disabled_reason"]
    assert shown["disabled_at"] is not None
    [entry] = (await studio.api.get(f"/webhooks/{endpoint['id']}/deliveries"))["items"]
    assert (entry["status"], entry["attempts"], entry["last_response_status"]) == (
        "failed",
        1,
        410,
    )

    # Disabled: nothing more is sent, a later event is not queued for it.
    await studio.api.cancel(first)
    clock.at = NOW + timedelta(hours=1)
    await deliver(app, clock, config)
    assert len(receiver.of("/gone")) == 1
    redeliver = f"/webhooks/{endpoint['id']}/deliveries/{entry['id']}/redeliver"
    refused = await studio.api.post(redeliver, expect=409)
    assert refused["code"] == "webhook_disabled"

    on = await studio.api.patch(f"/webhooks/{endpoint['id']}", {"active": True})
    assert (on["active"], on["disabled_reason"]) == (True, None)
    again = await studio.api.post(redeliver, expect=202)
    assert (again["status"], again["attempts"]) == ("pending", 0)
    await studio.book("Bea", start="12:00")
    await deliver(app, clock, config)
    hits = receiver.of("/gone")
    assert [hit.answered for hit in hits] == [410, 200, 200]
    again_sent = [hit for hit in hits[1:] if hit.webhook_id == hits[0].webhook_id]
    assert [hit.body for hit in again_sent] == [hits[0].body], "same webhook-id and body"
    assert {hit.type for hit in hits} == {"appointment.created"}, "no cancellation queued"
    assert_all_verified(receiver)


async def test_an_endpoint_failing_every_attempt_is_disabled_and_its_deliveries_stop(
    app: FastAPI,
    studio: Studio,
    clock: FixedClock,
    config: WorkerConfig,
    receiver: Receiver,
) -> None:
    config = dataclasses.replace(
        config, webhooks=dataclasses.replace(config.webhooks, max_attempts=3)
    )
    endpoint = await listen(studio, receiver, "/down")
    receiver.script["/down"] = [503] * 100
    booked = await studio.book("Ann")
    await studio.api.cancel(booked)  # waits behind the booking's delivery
    for seconds in range(0, 200, 5):
        clock.at = NOW + timedelta(seconds=seconds)
        await deliver(app, clock, config)
    hits = receiver.of("/down")
    assert [hit.answered for hit in hits] == [503] * 3
    assert {hit.type for hit in hits} == {"appointment.created"}
    assert [int(hit.headers["webhook-timestamp"]) - int(NOW.timestamp()) for hit in hits] == [
        0,
        10,
        30,
    ]
    await studio.login()
    shown = await studio.api.get(f"/webhooks/{endpoint['id']}")
    assert shown["active"] is False
    assert "3 attempts" in shown["disabled_reason"] and "HTTP 503" in shown["disabled_reason"]
    log = (await studio.api.get(f"/webhooks/{endpoint['id']}/deliveries"))["items"]
    assert [(item["event_type"], item["status"], item["attempts"]) for item in log] == [
        ("appointment.cancelled", "pending", 0),
        ("appointment.created", "failed", 3),
    ]
    assert all(item["next_retry_at"] is None for item in log), "nothing more is due"
    clock.at = NOW + timedelta(days=1)
    await deliver(app, clock, config)
    assert len(receiver.of("/down")) == 3


async def test_an_appointments_events_reach_an_endpoint_in_order_across_a_failure(
    app: FastAPI,
    studio: Studio,
    clock: FixedClock,
    config: WorkerConfig,
    receiver: Receiver,
) -> None:
    config = dataclasses.replace(config, concurrency=1)  # the batch's sends, in claim order
    await listen(studio, receiver, "/ordered")
    receiver.script["/ordered"] = [500]
    booked = await studio.book("Ann")
    await studio.api.reschedule(booked, MONDAY, "12:00")
    await studio.api.cancel(booked)
    other = await studio.book("Bob", start="15:00")

    await deliver(app, clock, config)
    # Ann's first delivery failed: her later events wait for it; Bob's do not.
    assert [(h.type, h.answered) for h in receiver.of("/ordered")] == [
        ("appointment.created", 500),
        ("appointment.created", 200),
    ]
    assert receiver.of("/ordered")[1].payload["data"]["appointment_id"] == other["id"]
    clock.at = NOW + timedelta(seconds=10)
    await deliver(app, clock, config)
    ann = [
        hit.type
        for hit in receiver.of("/ordered")
        if hit.payload["data"]["appointment_id"] == booked["id"]
    ]
    assert ann == [
        "appointment.created",
        "appointment.created",
        "appointment.rescheduled",
        "appointment.cancelled",
    ]


async def test_a_delivered_event_can_be_redelivered_with_the_same_webhook_id(
    app: FastAPI,
    studio: Studio,
    clock: FixedClock,
    config: WorkerConfig,
    receiver: Receiver,
) -> None:
    endpoint = await listen(studio, receiver, "/again")
    await studio.book()
    await deliver(app, clock, config)
    log_path = f"/webhooks/{endpoint['id']}/deliveries"
    [entry] = (await studio.api.get(log_path))["items"]
    assert entry["status"] == "delivered"
    await studio.api.post(f"{log_path}/unknown/redeliver", expect=404)
    clock.at = NOW + timedelta(minutes=5)
    queued = await studio.api.post(f"{log_path}/{entry['id']}/redeliver", expect=202)
    assert queued["id"] == entry["id"]
    assert (queued["status"], queued["attempts"], queued["delivered_at"]) == ("pending", 0, None)
    assert queued["next_retry_at"] == clock.at.isoformat().replace("+00:00", "Z")
    assert len(receiver.of("/again")) == 1, "the request sends nothing itself"
    await deliver(app, clock, config)
    first, second = receiver.of("/again")
    assert first.webhook_id == second.webhook_id == entry["event_id"]
    assert first.body == second.body
    assert int(second.headers["webhook-timestamp"]) == int(clock.at.timestamp())
    [entry] = (await studio.api.get(log_path))["items"]
    assert (entry["status"], entry["attempts"]) == ("delivered", 1)
    filtered = await studio.api.get(log_path, params={"status": "failed"})
    assert filtered == {"items": [], "total": 0}
    assert_all_verified(receiver)


async def test_deliveries_are_written_with_the_settled_event_or_not_at_all(
    app: FastAPI,
    studio: Studio,
    clock: FixedClock,
    config: WorkerConfig,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The deliveries are written in the event's settle transaction: when that fails
    (the database went away, the worker died), the event is still pending and fans out
    when it is retried after its lease; nothing is lost."""
    await listen(studio, receiver, "/durable")
    await studio.book()
    original = WebhookQueue.add_deliveries
    failures: list[int] = []

    async def add_deliveries(self: WebhookQueue, *args: Any) -> None:
        if not failures:
            failures.append(1)
            raise ConnectionResetError("database went away")
        await original(self, *args)

    monkeypatch.setattr(WebhookQueue, "add_deliveries", add_deliveries)
    with pytest.raises(ConnectionResetError):
        await deliver(app, clock, config)
    assert receiver.of("/durable") == []
    assert await rows(database_of(app), sa.select(WebhookDelivery.id)) == []
    [(status,)] = await rows(database_of(app), sa.select(OutboxEvent.status))
    assert status == "pending"
    clock.at = NOW + config.lease
    await deliver(app, clock, config)
    [hit] = receiver.of("/durable")
    assert hit.webhook_id == (await outbox_ids(app))["appointment.created"]
    assert hit.verified


# The address rule


@pytest.mark.parametrize("allow_private", [False])
async def test_private_addresses_are_refused_at_registration(
    studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    pretend_dns(
        monkeypatch,
        {
            "internal.example.com": ["10.1.2.3"],
            "mixed.example.com": [PUBLIC_ADDRESS, "192.168.1.10"],
            "metadata.example.com": ["169.254.169.254"],
            "localhost": ["127.0.0.1", "::1"],
            "public.example.com": [PUBLIC_ADDRESS],
        },
    )
    tried = intercept(monkeypatch)
    refused = {
        "http://10.0.0.1/x": "private",
        "http://169.254.169.254/latest/meta-data/": "link-local",
        "http://127.0.0.1:8080/hook": "loopback",
        "http://[::1]/hook": "loopback",
        "http://[::ffff:10.0.0.1]/hook": "private",
        "http://0.0.0.0/hook": "unspecified",
        "http://224.0.0.1/hook": "multicast",
        "http://240.0.0.1/hook": "reserved",
        "http://100.64.0.1/hook": "non-public",
        "http://localhost/hook": "loopback",
        "https://internal.example.com/hook": "internal.example.com resolves to 10.1.2.3",
        "https://mixed.example.com/hook": "192.168.1.10",
        "https://metadata.example.com/": "169.254.169.254",
        "https://nowhere.example.com/hook": "does not resolve",
    }
    for url, reason in refused.items():
        answer = await studio.api.post("/webhooks", {"url": url, "event_types": ["*"]}, expect=422)
        assert answer["field"] == "url", answer
        assert reason in answer["detail"], (url, answer)
        assert answer["detail"].startswith("url: ")
    created = await studio.register("https://public.example.com/hook")
    answer = await studio.api.patch(
        f"/webhooks/{created['id']}", {"url": "http://10.0.0.1/x"}, expect=422
    )
    assert answer["field"] == "url"
    assert (await studio.api.get("/webhooks"))["total"] == 1
    assert tried == []


@pytest.mark.parametrize("allow_private", [False])
async def test_an_address_that_turned_private_is_refused_at_delivery_and_nothing_is_sent(
    app: FastAPI,
    studio: Studio,
    clock: FixedClock,
    config: WorkerConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert config.webhooks.allow_private_addresses is False
    answers = {"hooks.example.com": [PUBLIC_ADDRESS]}
    asked = pretend_dns(monkeypatch, answers)
    endpoint = await studio.register("https://hooks.example.com/slotbook")
    await studio.book()
    answers["hooks.example.com"] = ["10.0.0.1"]  # DNS changed (rebinding)
    tried = intercept(monkeypatch)
    await deliver(app, clock, config)
    assert tried == []
    assert asked == ["hooks.example.com", "hooks.example.com"], "checked again at delivery"
    [entry] = (await studio.api.get(f"/webhooks/{endpoint['id']}/deliveries"))["items"]
    assert entry["status"] == "failed"
    assert entry["last_response_status"] is None
    assert entry["last_error"] == (
        "refused: hooks.example.com resolves to 10.0.0.1, a private address: webhooks go "
        "to public addresses only (SLOTBOOK_WEBHOOK_ALLOW_PRIVATE_ADDRESSES is off)"
    )
    shown = await studio.api.get(f"/webhooks/{endpoint['id']}")
    assert shown["active"] is False
    assert "10.0.0.1" in shown["disabled_reason"]


@pytest.mark.parametrize("allow_private", [False])
async def test_a_literal_private_address_stored_earlier_is_refused_at_delivery(
    app: FastAPI,
    studio: Studio,
    clock: FixedClock,
    config: WorkerConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An endpoint registered while the server allowed private addresses stops being
    sent to once it does not."""
    pretend_dns(monkeypatch, {"public.example.com": [PUBLIC_ADDRESS]})
    endpoint = await studio.register("https://public.example.com/x")
    async with database_of(app).transaction(write=True) as session:
        await session.execute(sa.update(WebhookEndpoint).values(url="http://169.254.169.254/"))
    await studio.book()
    tried = intercept(monkeypatch)
    await deliver(app, clock, config)
    assert tried == []
    [entry] = (await studio.api.get(f"/webhooks/{endpoint['id']}/deliveries"))["items"]
    assert entry["status"] == "failed"
    assert "169.254.169.254 is a link-local address" in entry["last_error"]


@pytest.mark.parametrize("allow_private", [False])
async def test_the_worker_connects_to_the_address_it_checked(
    app: FastAPI,
    studio: Studio,
    clock: FixedClock,
    config: WorkerConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The name goes in Host and TLS; the connection goes to the checked address, so a
    second DNS answer cannot move it."""
    pretend_dns(monkeypatch, {"hooks.example.com": [PUBLIC_ADDRESS]})
    endpoint = await studio.register("https://hooks.example.com:8443/slotbook?x=1")
    await studio.book()
    seen = intercept(monkeypatch, 204)
    await deliver(app, clock, config)
    [request] = seen
    assert str(request.url) == f"https://{PUBLIC_ADDRESS}:8443/slotbook?x=1"
    assert request.headers["host"] == "hooks.example.com:8443"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    assert request.headers["webhook-id"] == (await outbox_ids(app))["appointment.created"]
    [entry] = (await studio.api.get(f"/webhooks/{endpoint['id']}/deliveries"))["items"]
    assert (entry["status"], entry["last_response_status"]) == ("delivered", 204)


@pytest.mark.parametrize("allow_private", [False])
async def test_the_address_is_checked_before_the_requests_transaction_begins(
    backend: str, settings: Settings, studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow DNS answer must not hold SQLite's write lock: while the name resolves,
    another writer takes it at once."""
    if backend != "sqlite":
        pytest.skip("SQLite's database-wide write lock")
    path = make_url(settings.resolved_database_url()).database
    assert path is not None
    checked: list[str] = []

    def lookup(host: str, port: int) -> list[str]:
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # "database is locked" if the request held it
            other.execute("ROLLBACK")
        finally:
            other.close()
        checked.append(host)
        return [PUBLIC_ADDRESS]

    monkeypatch.setattr(address_rule, "lookup", lookup)
    created = await studio.register("https://hooks.example.com/x")
    await studio.api.patch(f"/webhooks/{created['id']}", {"url": "https://hooks.example.com/y"})
    assert checked == ["hooks.example.com", "hooks.example.com"]
