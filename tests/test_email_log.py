"""People can see what was emailed: the desk per booking, the customer on their own
page (address masked), and the demo says the mail went to a file."""

from __future__ import annotations

from fastapi import FastAPI

from slotbook.clock import FixedClock
from slotbook.notifications.service import WorkerConfig, run_once
from slotbook.settings import Settings
from tests.mail_support import RecordingTransport
from tests.scenarios import open_studio
from tests.support import Api, client_for, public_booking_body


async def test_the_desk_sees_the_confirmation_sent_once_the_worker_has_sent_it(
    api: Api, app: FastAPI, clock: FixedClock, settings: Settings
) -> None:
    studio = await open_studio(api)
    yoga = await studio.offer("Group Yoga", parallel=True, capacity=10)
    john = await studio.hire("John Smith", [yoga])
    customer = await api.post("/customers", {"name": "Maya", "email": "maya@example.com"})
    booked = await api.book(studio.outlet, yoga, john, customer=customer)
    query = {"appointment_id": booked["id"]}

    assert (await api.get("/emails", params=query))["items"] == []

    mail = RecordingTransport()
    await run_once(app.state.database, clock, mail, WorkerConfig.from_settings(settings))
    [email] = (await api.get("/emails", params=query))["items"]
    assert email["appointment_id"] == booked["id"]
    assert email["kind"] == "confirmation"
    assert email["to"] == "maya@example.com"
    assert email["status"] == "sent"
    assert email["sent_at"] is not None
    # The tests configure no SMTP server: the desk is told the mail went to a file.
    assert email["written_to_file"] is True


async def test_the_customers_own_page_lists_the_confirmation_with_the_address_masked(
    api: Api, app: FastAPI, clock: FixedClock, settings: Settings
) -> None:
    studio = await open_studio(api)
    yoga = await studio.offer("Group Yoga", parallel=True, capacity=10)
    john = await studio.hire("John Smith", [yoga])
    async with client_for(app) as public:
        answer = await public.post(
            f"{studio.base}/bookings",
            json=public_booking_body(yoga, john, email="walk.in@example.com"),
        )
        assert answer.status_code == 201, answer.text
        booking = answer.json()
        assert booking["emails"] == []
        assert booking["mail_to_files"] is True

        await run_once(
            app.state.database, clock, RecordingTransport(), WorkerConfig.from_settings(settings)
        )
        token = booking["manage_path"].rsplit("/", 1)[1]
        mine = (await public.get(f"/api/v1/public/bookings/{token}")).json()
        assert [(e["kind"], e["to"], e["status"]) for e in mine["emails"]] == [
            ("confirmation", "w******@example.com", "sent")
        ]
        page = await public.get(booking["manage_path"])
        assert "Confirmation to w******@example.com" in page.text
        assert "written to the server's mail folder" in page.text


async def test_the_email_log_is_the_tenants_own(api: Api) -> None:
    studio = await open_studio(api)
    yoga = await studio.offer("Group Yoga", parallel=True, capacity=10)
    john = await studio.hire("John Smith", [yoga])
    booked = await api.book(studio.outlet, yoga, john)
    other = Api(api.client)
    await other.signup("Another Studio")
    assert (await other.get("/emails", params={"appointment_id": booked["id"]}))["items"] == []
    missing = await api.request("GET", "/emails")
    assert missing.status_code == 422
