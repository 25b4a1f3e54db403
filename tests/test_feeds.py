"""Calendar feeds (/api/v1/calendar-feeds, /feeds/{token}.ics), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from icalendar import Calendar

from slotbook.clock import FixedClock
from tests.conftest import NOW
from tests.support import TUESDAY, Api, unique_email

FEEDS = "/calendar-feeds"
PASSWORD = "correct-horse-1"
Json = dict[str, Any]
# MONDAY 10:00 in London (UTC in December).
MONDAY_10 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


async def create_feed(api: Api, kind: str, subject: Json, *, expect: int = 201) -> Json:
    body = {"kind": kind, "subject_id": subject["id"]}
    return dict(await api.post(FEEDS, body, expect=expect))


async def fetch(api: Api, feed: Json, **headers: str) -> httpx.Response:
    return await api.client.get(feed["url"], headers=headers)


async def events(api: Api, feed: Json) -> dict[str, Any]:
    """The feed's VEVENTs by UID (asserting each UID appears once)."""
    response = await fetch(api, feed)
    assert response.status_code == 200, response.text
    calendar = Calendar.from_ical(response.content)
    found = calendar.walk("VEVENT")
    by_uid = {str(event["UID"]): event for event in found}
    assert len(by_uid) == len(found), "a UID appears twice"
    return by_uid


def session_uid(staff: Json, service: Json, starts_at: datetime) -> str:
    return f"session-{staff['id']}-{service['id']}-{int(starts_at.timestamp())}@slotbook"


async def front_desk(api: Api) -> Api:
    email = unique_email("desk")
    body = {"email": email, "password": PASSWORD, "name": "Front Desk", "role": "staff"}
    await api.post("/users", body)
    login = await api.post("/auth/login", {"email": email, "password": PASSWORD}, expect=200)
    return api.as_user(login["access_token"])


async def studio(api: Api) -> tuple[Json, Json, Json, Json]:
    """A business with an outlet, a class of 10, a one-to-one service and John teaching both."""
    await api.signup()
    outlet = await api.outlet()
    yoga = await api.service("Group Yoga", parallel=True, capacity=10)
    massage = await api.service("Massage")
    john = await api.staff("John Smith", outlet, [yoga, massage])
    return outlet, yoga, massage, john


# Creating, listing, revoking


async def test_a_created_feed_shows_its_url_once_and_the_list_never(api: Api) -> None:
    outlet, _yoga, _massage, john = await studio(api)
    feed = await create_feed(api, "staff", john)
    assert set(feed) == {"id", "kind", "subject_id", "url", "created_at"}
    assert (feed["kind"], feed["subject_id"]) == ("staff", john["id"])
    assert feed["created_at"] == "2026-12-01T08:00:00Z"
    assert feed["url"].startswith("/feeds/") and feed["url"].endswith(".ics")
    token = feed["url"].removeprefix("/feeds/").removesuffix(".ics")
    assert len(token) >= 43  # 32 random bytes, URL-safe base64

    other = await create_feed(api, "outlet", outlet)
    listing = await api.get(FEEDS)
    assert listing["total"] == 2
    assert [item["id"] for item in listing["items"]] == [feed["id"], other["id"]]
    assert all(set(item) == {"id", "kind", "subject_id", "created_at"} for item in listing["items"])
    assert token not in str(listing)
    only_outlets = await api.get(FEEDS, params={"kind": "outlet"})
    assert [item["id"] for item in only_outlets["items"]] == [other["id"]]
    by_subject = await api.get(FEEDS, params={"subject_id": john["id"]})
    assert [item["id"] for item in by_subject["items"]] == [feed["id"]]


async def test_only_a_hash_of_the_token_is_stored(api: Api, app: FastAPI) -> None:
    _outlet, _yoga, _massage, john = await studio(api)
    feed = await create_feed(api, "staff", john)
    token = feed["url"].removeprefix("/feeds/").removesuffix(".ics")
    async with app.state.database.transaction(write=False) as session:
        rows = (await session.execute(sa.text("SELECT * FROM calendar_feeds"))).all()
    assert len(rows) == 1
    assert token not in repr(rows)


async def test_a_revoked_feed_and_an_unknown_token_are_not_found(api: Api) -> None:
    _outlet, _yoga, _massage, john = await studio(api)
    feed = await create_feed(api, "staff", john)
    assert (await fetch(api, feed)).status_code == 200

    await api.request("DELETE", f"{FEEDS}/{feed['id']}", expect=204)
    gone = await fetch(api, feed)
    assert gone.status_code == 404
    assert gone.json()["code"] == "not_found"
    assert (await api.get(FEEDS))["total"] == 0
    # Revoking again changes nothing.
    await api.request("DELETE", f"{FEEDS}/{feed['id']}", expect=204)
    assert (await fetch(api, feed)).status_code == 404

    for url in ("/feeds/not-a-token.ics", "/feeds/" + "A" * 43 + ".ics", "/feeds/%00.ics"):
        assert (await api.client.get(url)).status_code == 404
    await api.request("DELETE", f"{FEEDS}/no-such-feed", expect=404)


async def test_another_business_cannot_see_or_revoke_a_feed(api: Api) -> None:
    _outlet, _yoga, _massage, john = await studio(api)
    feed = await create_feed(api, "staff", john)
    other = Api(api.client)
    await other.signup("Other Studio")
    assert (await other.get(FEEDS))["total"] == 0
    await other.request("DELETE", f"{FEEDS}/{feed['id']}", expect=404)
    assert (await fetch(api, feed)).status_code == 200


async def test_another_business_subject_is_invalid_input_naming_subject_id(api: Api) -> None:
    outlet, _yoga, _massage, john = await studio(api)
    customer = await api.customer()
    other = Api(api.client)
    await other.signup("Other Studio")
    for kind, subject in (("staff", john), ("customer", customer), ("outlet", outlet)):
        refused = await create_feed(other, kind, subject, expect=422)
        assert refused["field"] == "subject_id", refused
        assert "subject_id" in refused["detail"]
    # A subject of the wrong kind is unknown for that kind.
    refused = await create_feed(api, "outlet", john, expect=422)
    assert refused["field"] == "subject_id"
    assert (await api.post(FEEDS, {"kind": "room", "subject_id": "x"}, expect=422))["code"] == (
        "validation_error"
    )


async def test_roles_owners_manage_every_feed_the_front_desk_customer_feeds(api: Api) -> None:
    outlet, _yoga, _massage, john = await studio(api)
    customer = await api.customer()
    staff_feed = await create_feed(api, "staff", john)
    desk = await front_desk(api)

    for kind, subject in (("staff", john), ("outlet", outlet)):
        refused = await create_feed(desk, kind, subject, expect=403)
        assert refused["code"] == "forbidden"
    customer_feed = await create_feed(desk, "customer", customer)
    listing = await desk.get(FEEDS)
    assert [item["id"] for item in listing["items"]] == [customer_feed["id"]]
    assert (await desk.get(FEEDS, params={"kind": "staff"}))["total"] == 0
    await desk.request("DELETE", f"{FEEDS}/{staff_feed['id']}", expect=403)
    assert (await fetch(api, staff_feed)).status_code == 200
    await desk.request("DELETE", f"{FEEDS}/{customer_feed['id']}", expect=204)

    anonymous = Api(api.client)
    await anonymous.request("GET", FEEDS, expect=401)
    await anonymous.request("POST", FEEDS, {"kind": "staff", "subject_id": john["id"]}, expect=401)
    await anonymous.request("DELETE", f"{FEEDS}/{staff_feed['id']}", expect=401)


# What the feeds show


async def test_a_staff_feed_has_one_event_per_session_with_its_taken_spots(api: Api) -> None:
    outlet, yoga, massage, john = await studio(api)
    mary = await api.staff("Mary Jones", outlet, [yoga])
    for _ in range(7):
        await api.book(outlet, yoga, john)
    one_to_one = await api.book(outlet, massage, john, start="14:00")
    await api.book(outlet, yoga, mary)  # Mary's class is not John's
    await api.book(outlet, yoga, john, date=TUESDAY, start="09:00")
    feed = await create_feed(api, "staff", john)

    response = await fetch(api, feed)
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["cache-control"] == "private, max-age=300"
    calendar = Calendar.from_ical(response.content)
    assert (str(calendar["VERSION"]), str(calendar["X-WR-CALNAME"])) == (
        "2.0",
        "John Smith - Lotus Yoga",
    )
    assert "\r\nX-PUBLISHED-TTL:PT1H\r\n" in response.text
    found = await events(api, feed)
    assert len(found) == 3
    session = found[session_uid(john, yoga, MONDAY_10)]
    assert str(session["SUMMARY"]) == "Group Yoga - 7/10 booked"
    assert session.decoded("DTSTART") == MONDAY_10
    assert session.decoded("DTEND") == MONDAY_10 + timedelta(hours=1)
    assert str(session["STATUS"]) == "CONFIRMED"
    description = str(session["DESCRIPTION"])
    assert "Europe/London" in description and "2026-12-07 10:00-11:00" in description
    assert str(session["LOCATION"]) == outlet["name"]
    appointment = found[session_uid(john, massage, MONDAY_10 + timedelta(hours=4))]
    assert str(appointment["SUMMARY"]) == "Massage - 1/1 booked"
    tuesday = found[session_uid(john, yoga, datetime(2026, 12, 8, 9, 0, tzinfo=UTC))]
    assert str(tuesday["SUMMARY"]) == "Group Yoga - 1/10 booked"
    # Counts only: no customer's data in a staff member's feed.
    customer = await api.get(f"/customers/{one_to_one['customer_id']}")
    assert customer["name"] not in response.text and customer["email"] not in response.text


async def test_a_session_whose_bookings_are_all_cancelled_is_cancelled(api: Api) -> None:
    outlet, yoga, massage, john = await studio(api)
    for booked in [await api.book(outlet, yoga, john) for _ in range(2)]:
        await api.cancel(booked)
    kept = [await api.book(outlet, yoga, john, start="12:00") for _ in range(2)]
    await api.cancel(kept[0])
    await api.cancel(await api.book(outlet, massage, john, start="15:00"))
    feed = await create_feed(api, "staff", john)

    found = await events(api, feed)
    assert len(found) == 3
    gone = found[session_uid(john, yoga, MONDAY_10)]
    assert str(gone["STATUS"]) == "CANCELLED"
    assert str(gone["SUMMARY"]) == "Group Yoga - 0/10 booked"
    assert str(gone["TRANSP"]) == "TRANSPARENT"
    half = found[session_uid(john, yoga, MONDAY_10 + timedelta(hours=2))]
    assert (str(half["STATUS"]), str(half["SUMMARY"])) == ("CONFIRMED", "Group Yoga - 1/10 booked")
    massage_gone = found[session_uid(john, massage, MONDAY_10 + timedelta(hours=5))]
    assert str(massage_gone["STATUS"]) == "CANCELLED"


async def test_a_customer_feed_has_their_appointments_and_cancellations(api: Api) -> None:
    outlet, yoga, massage, john = await studio(api)
    mary = await api.staff("Mary Jones", outlet, [massage])
    ann = await api.customer("Ann Lee")
    someone_else = await api.customer()
    kept = await api.book(outlet, yoga, john, customer=ann)
    response = await api.book_response(
        outlet, ann, [(yoga, john), (massage, mary)], date=TUESDAY, start="09:00"
    )
    assert response.status_code == 201, response.text
    both = response.json()
    cancelled = await api.book(outlet, massage, john, customer=ann, start="15:00")
    await api.cancel(cancelled)
    await api.book(outlet, yoga, john, customer=someone_else)
    feed = await create_feed(api, "customer", ann)

    found = await events(api, feed)
    assert set(found) == {f"appointment-{a['id']}@slotbook" for a in (kept, both, cancelled)}
    monday = found[f"appointment-{kept['id']}@slotbook"]
    assert str(monday["SUMMARY"]) == f"Group Yoga at {outlet['name']}"
    assert str(monday["STATUS"]) == "CONFIRMED"
    assert monday.decoded("DTSTART") == MONDAY_10
    assert int(monday["SEQUENCE"]) == 0
    assert "John Smith" in str(monday["DESCRIPTION"])
    assert "Europe/London" in str(monday["DESCRIPTION"])
    double = found[f"appointment-{both['id']}@slotbook"]
    assert str(double["SUMMARY"]) == f"Group Yoga + Massage at {outlet['name']}"
    assert double.decoded("DTSTART") == datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    assert double.decoded("DTEND") == datetime(2026, 12, 8, 11, 0, tzinfo=UTC)
    assert "10:00-11:00 Massage with Mary Jones" in str(double["DESCRIPTION"])
    gone = found[f"appointment-{cancelled['id']}@slotbook"]
    assert str(gone["STATUS"]) == "CANCELLED"
    assert int(gone["SEQUENCE"]) == 1


async def test_an_outlet_feed_shows_booked_classes_and_no_customer_data(api: Api) -> None:
    outlet, yoga, massage, john = await studio(api)
    elsewhere = await api.outlet("Riverside")
    pete = await api.staff("Pete Brown", elsewhere, [yoga])
    people = [
        await api.post(
            "/customers",
            {
                "name": f"Zelda Quux{n}",
                "email": f"zelda{n}@example.org",
                "phone": f"+44 7700 90{n:04d}",
            },
        )
        for n in range(3)
    ]
    for person in people:
        await api.book(outlet, yoga, john, customer=person)
    await api.cancel(await api.book(outlet, yoga, john, customer=people[0], start="12:00"))
    await api.book(outlet, massage, john, customer=people[1], start="15:00")  # not a class
    await api.book(elsewhere, yoga, pete, customer=people[2])  # another outlet
    feed = await create_feed(api, "outlet", outlet)

    response = await fetch(api, feed)
    found = await events(api, feed)
    assert list(found) == [session_uid(john, yoga, MONDAY_10)]
    (session,) = found.values()
    assert str(session["SUMMARY"]) == "Group Yoga with John Smith - 3/10 booked"
    text = response.text
    for person in people:
        for value in (person["name"], person["email"], person["phone"], person["id"]):
            assert value not in text
    for fragment in ("Zelda", "Quux", "example.org", "7700"):
        assert fragment not in text


async def test_uids_are_stable_and_a_changed_feed_gets_a_new_etag(api: Api) -> None:
    outlet, yoga, _massage, john = await studio(api)
    for _ in range(3):
        await api.book(outlet, yoga, john)
    feed = await create_feed(api, "staff", john)

    first, second = await fetch(api, feed), await fetch(api, feed)
    assert first.content == second.content
    etag = first.headers["etag"]
    assert etag == second.headers["etag"] and etag.startswith('"')
    unchanged = await fetch(api, feed, **{"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == etag
    assert unchanged.headers["cache-control"] == "private, max-age=300"
    weak = await fetch(api, feed, **{"If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304
    assert (await fetch(api, feed, **{"If-None-Match": '"other"'})).status_code == 200

    await api.book(outlet, yoga, john)
    changed = await fetch(api, feed, **{"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    uid = session_uid(john, yoga, MONDAY_10)
    found = await events(api, feed)
    assert list(found) == [uid]
    assert str(found[uid]["SUMMARY"]) == "Group Yoga - 4/10 booked"


async def test_the_window_runs_from_30_days_back_to_180_days_ahead(
    api: Api, clock: FixedClock
) -> None:
    outlet, yoga, _massage, john = await studio(api)
    await api.book(outlet, yoga, john)
    inside = NOW + timedelta(days=179)
    beyond = NOW + timedelta(days=181)
    await api.book(outlet, yoga, john, date=inside.date().isoformat())
    await api.book(outlet, yoga, john, date=beyond.date().isoformat())
    feed = await create_feed(api, "staff", john)
    assert len(await events(api, feed)) == 2

    clock.at = MONDAY_10 + timedelta(days=30)
    assert len(await events(api, feed)) == 3  # the far one came in, Monday is still in
    clock.at = MONDAY_10 + timedelta(days=30, minutes=1)
    found = await events(api, feed)
    assert len(found) == 2
    assert session_uid(john, yoga, MONDAY_10) not in found


async def test_a_feed_is_read_in_the_same_few_queries_however_much_it_holds(
    api: Api, app: FastAPI
) -> None:
    outlet, yoga, massage, john = await studio(api)
    customer = await api.customer()
    await api.book(outlet, yoga, john, customer=customer)
    feeds = [
        await create_feed(api, "staff", john),
        await create_feed(api, "customer", customer),
        await create_feed(api, "outlet", outlet),
    ]
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    async def statements_for(feed: Json) -> int:
        statements.clear()
        assert (await fetch(api, feed)).status_code == 200
        return len(statements)

    engine = app.state.database.engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        small = [await statements_for(feed) for feed in feeds]
        for hour in range(8, 20):
            for _ in range(3):
                await api.book(outlet, yoga, john, customer=customer, start=f"{hour:02d}:00")
                customer = await api.customer()
        await api.book(outlet, massage, john, customer=customer, start="21:00", date=TUESDAY)
        large = [await statements_for(feed) for feed in feeds]
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert large == small
    assert max(small) <= 5
    assert len(await events(api, feeds[0])) == 13


async def test_the_feeds_are_documented(api: Api) -> None:
    schema = (await api.client.get("/openapi.json")).json()
    feed = schema["paths"]["/feeds/{token}.ics"]["get"]
    assert "text/calendar" in feed["responses"]["200"]["content"]
    assert {"304", "404"} <= set(feed["responses"])
    assert {"post", "get"} <= set(schema["paths"]["/api/v1/calendar-feeds"])
    assert "delete" in schema["paths"]["/api/v1/calendar-feeds/{feed_id}"]
