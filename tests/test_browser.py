"""The booking page and the front desk in a real browser (Debian's Chromium, headless),
against the real server (``slotbook serve``, two workers, SQLite, the real clock)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, Request, expect, sync_playwright

from tests.databases import SqliteTemplate
from tests.live_server import LiveServer
from tests.support import EVERY_DAY_8_TO_22, unique_email

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "build" / "screenshots"
TIMEZONE = "Europe/London"
PASSWORD = "front-desk-pass-1"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.live,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)",
    ),
]


class Staff:
    """The staff API of the live server, for setting up and checking."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=f"{base_url}/api/v1", timeout=10)
        self.token = ""

    def call(self, method: str, path: str, json: Any = None, expect: int = 200, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = self.http.request(method, path, json=json, headers=headers, **kw)
        assert response.status_code == expect, f"{method} {path}: {response.text}"
        return response.json()


@dataclass
class Shop:
    page_url: str
    desk_email: str
    day: date
    yoga: dict[str, Any]
    haircut: dict[str, Any]
    api: Staff


@pytest.fixture(scope="module")
def server(
    sqlite_template: SqliteTemplate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    live = LiveServer(
        sqlite_template.fresh_url(),
        workers=2,
        var_dir=tmp_path_factory.mktemp("browser-var"),
        extra_env={"SLOTBOOK_PUBLIC_RATE_LIMIT_PER_MINUTE": "1000"},
    )
    with live:
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def staff_api(server: LiveServer) -> Iterator[Staff]:
    api = Staff(server.base_url)
    yield api
    api.http.close()


@pytest.fixture
def shop(server: LiveServer, staff_api: Staff) -> Shop:
    """A new business per test; its bookings are three days from now."""
    api = staff_api
    signup = api.call(
        "POST",
        "/auth/signup",
        {"business_name": "Lotus Yoga", "email": unique_email(), "password": PASSWORD},
        expect=201,
    )
    api.token = signup["access_token"]
    slug = api.call("GET", "/auth/me")["tenant_slug"]
    outlet = api.call(
        "POST", "/outlets", {"name": "Riverside Studio", "timezone": TIMEZONE}, expect=201
    )
    yoga = api.call(
        "POST",
        "/services",
        {
            "name": "Group Yoga",
            "duration": 60,
            "allow_parallel_bookings": True,
            "max_parallel_bookings": 10,
        },
        expect=201,
    )
    haircut = api.call("POST", "/services", {"name": "Haircut", "duration": 60}, expect=201)
    for name, service in (("John Smith", yoga), ("Anna Lee", haircut)):
        api.call(
            "POST",
            "/staff",
            {
                "name": name,
                "outlet_id": outlet["id"],
                "service_ids": [service["id"]],
                "working_hours": EVERY_DAY_8_TO_22,
            },
            expect=201,
        )
    desk_email = unique_email("desk")
    api.call(
        "POST",
        "/users",
        {"email": desk_email, "password": PASSWORD, "name": "Front Desk", "role": "staff"},
        expect=201,
    )
    day = datetime.now(UTC).astimezone(ZoneInfo(TIMEZONE)).date() + timedelta(days=3)
    return Shop(
        page_url=f"{server.base_url}/book/{slug}/{outlet['id']}",
        desk_email=desk_email,
        day=day,
        yoga=yoga,
        haircut=haircut,
        api=api,
    )


def book_through_api(
    shop: Shop, service: dict[str, Any], start: str, count: int, day: date | None = None
) -> None:
    outlet_id = shop.page_url.rsplit("/", 1)[-1]
    staff = shop.api.call("GET", "/staff", params={"outlet_id": outlet_id})["items"]
    member = next(s for s in staff if service["id"] in s["service_ids"])
    for number in range(count):
        customer = shop.api.call(
            "POST",
            "/customers",
            {"name": f"Member {number + 1}", "email": unique_email("member")},
            expect=201,
        )
        shop.api.call(
            "POST",
            "/appointments",
            {
                "outlet_id": outlet_id,
                "customer_id": customer["id"],
                "appointment_date": (day or shop.day).isoformat(),
                "start_time": start,
                "services": [{"service_id": service["id"], "staff_id": member["id"]}],
            },
            expect=201,
        )


def staff_member(shop: Shop, name: str) -> dict[str, Any]:
    outlet_id = shop.page_url.rsplit("/", 1)[-1]
    staff = shop.api.call("GET", "/staff", params={"outlet_id": outlet_id})["items"]
    return dict(next(s for s in staff if s["name"] == name))


def open_desk(page: Page, shop: Shop) -> None:
    """Log in at the desk as the front-desk user and show the shop's booking day."""
    page.goto(shop.page_url.split("/book/")[0] + "/desk")
    page.get_by_label("Email").fill(shop.desk_email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#day-title")).to_contain_text("Riverside Studio")
    page.get_by_label("Date", exact=True).fill(shop.day.isoformat())
    expect(page.locator("#day-title")).to_contain_text(f"{shop.day.day} {shop.day:%B %Y} at")


def record_api_calls(page: Page) -> list[str]:
    """Paths (with query) of the API requests the page makes from now on."""
    calls: list[str] = []

    def record(request: Request) -> None:
        url = urlsplit(request.url)
        if url.path.startswith("/api/"):
            calls.append(f"{url.path}?{url.query}" if url.query else url.path)

    page.on("request", record)
    return calls


def slot_button(page: Page, shop: Shop, start: str) -> Locator:
    return page.locator(f'#slots button[data-date="{shop.day.isoformat()}"][data-start="{start}"]')


def open_service(page: Page, shop: Shop, service_name: str) -> None:
    page.goto(shop.page_url)
    expect(page.locator("#tz-note")).to_contain_text(TIMEZONE)
    page.get_by_label(service_name).check()
    expect(page.locator("#slots .day").first).to_be_visible()


def fill_details(page: Page, name: str, email: str) -> None:
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Phone").fill("+44 20 7946 0123")


def shoot(page: Page, name: str, *, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)


def test_a_customer_takes_the_last_place_and_the_desk_cancel_reopens_it(
    page: Page, shop: Shop, browser: Browser
) -> None:
    book_through_api(shop, shop.yoga, "10:00", 9)
    open_service(page, shop, "Group Yoga")
    last = slot_button(page, shop, "10:00:00")
    expect(last).to_contain_text("1/10 spots left - Almost Full!")
    expect(slot_button(page, shop, "11:00:00")).to_contain_text("10/10 spots left")
    last.click()
    expect(page.locator("#chosen-slot")).to_contain_text(TIMEZONE)
    fill_details(page, "Zoe Walker", "zoe@example.com")
    page.get_by_role("button", name="Book", exact=True).click()
    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
    expect(page.locator("#manage-link")).to_contain_text("/my-booking/")
    # No mail server in the tests: the page says the confirmation goes to a file.
    expect(page.locator("#email-notice")).to_contain_text("zoe@example.com")
    expect(page.locator("#email-notice")).to_contain_text("written to a file")
    expect(last).to_contain_text("Full")
    expect(last).to_be_disabled()
    shoot(page, "public_booking_full.png", full_page=True)

    desk = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
    api_calls = record_api_calls(desk)
    open_desk(desk, shop)
    block = desk.locator(".block", has_text="Group Yoga 10:00-11:00 - 10/10")
    expect(block).to_be_visible()
    expect(block).to_have_class(re.compile(r"\bclass-full\b"))
    expect(desk.locator(".column h3", has_text="John Smith")).to_be_visible()
    # The whole day comes from one request: none per staff member or customer.
    day_calls = [path for path in api_calls if path.startswith("/api/v1/desk/day")]
    assert len(day_calls) == 2, api_calls  # today at the outlet, then the chosen day
    assert not [p for p in api_calls if p.startswith(("/api/v1/customers", "/api/v1/staff"))]
    shoot(desk, "desk_day.png")
    block.click()
    roster = desk.get_by_role("dialog")
    expect(roster).to_contain_text("10/10 booked")
    expect(roster).to_contain_text("Zoe Walker")
    # What was emailed to each person (no worker runs here, so nothing yet).
    expect(roster.locator("li", has_text="Zoe Walker").locator(".emails")).to_have_text(
        "No email yet"
    )
    shoot(desk, "desk_roster.png")
    roster.get_by_role("button", name="Cancel Member 1", exact=True).click()
    expect(roster).to_contain_text("9/10 booked")
    # The cancelled booking stays on the roster, without actions, and holds no place.
    cancelled = roster.locator("li", has_text="Member 1")
    expect(cancelled).to_contain_text("cancelled")
    expect(cancelled.get_by_role("button")).to_have_count(0)
    shoot(desk, "desk_roster_cancelled.png")
    roster.get_by_role("button", name="Close").click()
    almost = desk.locator(".block", has_text="Group Yoga 10:00-11:00 - 9/10")
    expect(almost).to_be_visible()
    expect(almost).to_have_class(re.compile(r"\bclass-almost\b"))
    desk.close()

    open_service(page, shop, "Group Yoga")
    expect(slot_button(page, shop, "10:00:00")).to_contain_text("1/10 spots left - Almost Full!")
    expect(slot_button(page, shop, "10:00:00")).to_be_enabled()
    slot_button(page, shop, "10:00:00").scroll_into_view_if_needed()
    shoot(page, "public_almost_full.png")


def test_the_desk_moves_and_marks_a_no_show_and_the_day_view_follows(
    page: Page, shop: Shop
) -> None:
    book_through_api(shop, shop.yoga, "10:00", 2)
    book_through_api(shop, shop.haircut, "14:00", 1)
    anna = staff_member(shop, "Anna Lee")
    shop.api.call(
        "POST",
        f"/staff/{anna['id']}/time-off",
        {"start": f"{shop.day.isoformat()}T17:00:00", "end": f"{shop.day.isoformat()}T18:30:00"},
        expect=201,
    )
    open_desk(page, shop)
    anna_column = page.locator(".column", has=page.locator("h3", has_text="Anna Lee"))
    expect(anna_column.locator("h3")).to_contain_text("08:00-22:00")
    expect(anna_column.locator(".time-off")).to_contain_text("Time off17:00-18:30")
    shoot(page, "desk_day_time_off.png", full_page=True)
    page.locator(".block", has_text="Haircut 14:00-15:00 - Member 1").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Move Member 1 to another time").click()
    dialog.get_by_label("New time").fill("16:00")
    dialog.get_by_role("button", name="Move here").click()
    expect(page.locator(".block", has_text="Haircut 16:00-17:00 - Member 1")).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    page.locator(".block", has_text="Group Yoga 10:00-11:00 - 2/10").click()
    dialog.get_by_role("button", name="Mark Member 2 as no-show").click()
    expect(dialog.locator("li", has_text="Member 2")).to_contain_text("no show")
    expect(dialog).to_contain_text("1/10 booked")
    expect(page.locator(".block", has_text="Group Yoga 10:00-11:00 - 1/10")).to_be_visible()
    shoot(page, "desk_no_show.png")


def test_a_customer_cancels_through_the_private_link(page: Page, shop: Shop) -> None:
    open_service(page, shop, "Haircut")
    slot = slot_button(page, shop, "14:00:00")
    expect(slot).to_contain_text("Available")
    slot.click()
    fill_details(page, "Sam Rivers", "sam@example.com")
    page.get_by_role("button", name="Book", exact=True).click()
    expect(slot).to_contain_text("Booked")
    link = page.locator("#manage-link")
    href = link.get_attribute("href")
    assert href and "/my-booking/" in href
    link.click()
    expect(page.get_by_role("heading", name="Your booking")).to_be_visible()
    expect(page.locator("#booking-status")).to_have_text("Confirmed")
    expect(page.locator("main")).to_contain_text(TIMEZONE)
    page.get_by_role("button", name="Cancel booking").click()
    page.get_by_role("button", name="Yes, cancel it").click()
    expect(page.locator("#booking-status")).to_have_text("Cancelled")
    expect(page.get_by_role("button", name="Cancel booking")).to_have_count(0)
    shoot(page, "my_booking_cancelled.png")

    open_service(page, shop, "Haircut")
    expect(slot_button(page, shop, "14:00:00")).to_contain_text("Available")
    appointments = shop.api.call("GET", "/appointments", params={"status": "cancelled"})
    assert appointments["total"] == 1


def test_a_double_click_on_book_books_once(browser: Browser, shop: Shop) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        open_service(page, shop, "Group Yoga")
        slot = slot_button(page, shop, "12:00:00")
        slot.click()
        fill_details(page, "Dana Double", "dana@example.com")
        page.get_by_role("button", name="Book", exact=True).dblclick()
        expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
        expect(slot).to_contain_text("9/10 spots left")
        shoot(page, "public_phone_confirmation.png")
    finally:
        context.close()
    customers = shop.api.call("GET", "/customers", params={"q": "dana@example.com"})["items"]
    assert len(customers) == 1
    booked = shop.api.call("GET", "/appointments", params={"customer_id": customers[0]["id"]})
    assert booked["total"] == 1


def class_with_waitlist(shop: Shop, capacity: int) -> None:
    """Group Yoga becomes a class of ``capacity`` with a waitlist for full sessions."""
    shop.api.call(
        "PATCH",
        f"/services/{shop.yoga['id']}",
        {"max_parallel_bookings": capacity, "waitlist_enabled": True},
    )


def test_a_customer_waits_for_a_full_class_and_gets_the_place_the_desk_frees(
    page: Page, shop: Shop, browser: Browser
) -> None:
    class_with_waitlist(shop, 3)
    book_through_api(shop, shop.yoga, "10:00", 3)
    open_service(page, shop, "Group Yoga")
    full = slot_button(page, shop, "10:00:00")
    expect(full).to_contain_text("Full")
    expect(full).to_contain_text("Join the waitlist (nobody waiting yet)")
    expect(full).to_be_enabled()
    full.click()
    expect(page.get_by_role("heading", name="3. Join the waitlist")).to_be_visible()
    expect(page.locator("#chosen-slot")).to_contain_text("full")
    fill_details(page, "Zoe Walker", "zoe@example.com")
    party = page.get_by_label("Number of people")
    expect(party.locator("option")).to_have_count(3)  # up to the class's capacity
    party.select_option("1")
    page.get_by_role("button", name="Join the waitlist", exact=True).click()
    expect(page.get_by_role("heading", name="You're on the waitlist")).to_be_visible()
    expect(page.locator("#waitlist-place")).to_have_text("You are number 1 in line.")
    expect(full).to_contain_text("1 person waiting")
    shoot(page, "public_waitlist_joined.png", full_page=True)
    page.locator("#waitlist-link").click()
    expect(page.get_by_role("heading", name="Your place on the waitlist")).to_be_visible()
    expect(page.locator("#waitlist-place")).to_have_text("You are number 1 in line")
    expect(page.get_by_role("button", name="Leave the waitlist")).to_be_visible()
    waitlist_url = page.url

    desk = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
    open_desk(desk, shop)
    block = desk.locator(".block", has_text="Group Yoga 10:00-11:00 - 3/3")
    expect(block).to_contain_text("1 waiting")
    block.click()
    roster = desk.get_by_role("dialog")
    expect(roster).to_contain_text("3/3 booked, 1 waiting")
    waiting = roster.locator(".waitlist-list li")
    expect(waiting).to_have_count(1)
    expect(waiting).to_contain_text("1. Zoe Walker")
    expect(waiting).to_contain_text("Party: 1 person")
    shoot(desk, "desk_waitlist.png")
    # The desk cancels an attendee: the freed place goes to Zoe at once.
    roster.get_by_role("button", name="Cancel Member 1", exact=True).click()
    expect(roster.locator("#roster-list li", has_text="Zoe Walker")).to_contain_text("confirmed")
    expect(roster).to_contain_text("3/3 booked")
    expect(roster).to_contain_text("Nobody is waiting.")

    # The desk puts a caller on the waitlist of the (again) full class.
    adding = roster.get_by_role("form", name="Add to the waitlist")
    adding.get_by_label("Name", exact=True).fill("Walk-in Wendy")
    adding.get_by_label("Email (optional)").fill("wendy@example.com")
    adding.get_by_label("Number of people").select_option("2")
    adding.get_by_role("button", name="Add to waitlist").click()
    expect(waiting).to_have_count(1)
    expect(waiting).to_contain_text("1. Walk-in Wendy")
    expect(waiting).to_contain_text("Party: 2 people")
    expect(desk.locator("#desk-status")).to_contain_text("number 1 in line")
    desk.close()

    page.goto(waitlist_url)
    expect(page.locator("#waitlist-promoted")).to_have_text("A place opened up: you are booked.")
    expect(page.locator("#waitlist-status")).to_have_text("Booked")
    expect(page.get_by_role("button", name="Leave the waitlist")).to_have_count(0)
    shoot(page, "my_waitlist_promoted.png")
    page.get_by_role("link", name="See your booking").click()
    expect(page.get_by_role("heading", name="Your booking")).to_be_visible()
    expect(page.locator("#booking-status")).to_have_text("Confirmed")
    customers = shop.api.call("GET", "/customers", params={"q": "zoe@example.com"})["items"]
    booked = shop.api.call("GET", "/appointments", params={"customer_id": customers[0]["id"]})
    assert [a["status"] for a in booked["items"]] == ["confirmed"]
    entries = shop.api.call("GET", "/waitlist")["items"]
    assert [(e["status"], e["party_size"]) for e in entries] == [("promoted", 1), ("waiting", 2)]


def test_a_party_of_three_takes_the_last_three_places_then_makes_the_party_smaller(
    page: Page, shop: Shop, browser: Browser
) -> None:
    book_through_api(shop, shop.yoga, "10:00", 7)
    open_service(page, shop, "Group Yoga")
    slot = slot_button(page, shop, "10:00:00")
    expect(slot).to_contain_text("3/10 spots left")
    slot.click()
    party = page.get_by_label("Number of people")
    expect(party.locator("option")).to_have_count(3)  # no more than the places left
    party.select_option("3")
    fill_details(page, "Family Patel", "patel@example.com")
    page.get_by_role("button", name="Book", exact=True).click()
    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
    expect(page.locator("#confirm-text")).to_contain_text("for 3 people")
    expect(slot).to_contain_text("Full")
    expect(slot).to_be_disabled()
    shoot(page, "public_party_full.png", full_page=True)

    page.locator("#manage-link").click()
    expect(page.locator("#booking-party")).to_have_text("3")
    page.get_by_label("Number of people").select_option("2")
    page.get_by_role("button", name="Make my party smaller").click()
    expect(page.locator("#booking-party")).to_have_text("2")
    shoot(page, "my_booking_party_smaller.png")
    open_service(page, shop, "Group Yoga")
    expect(slot_button(page, shop, "10:00:00")).to_contain_text("1/10 spots left - Almost Full!")

    desk = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
    open_desk(desk, shop)
    desk.locator(".block", has_text="Group Yoga 10:00-11:00 - 9/10").click()
    roster = desk.get_by_role("dialog")
    family = roster.locator("#roster-list li", has_text="Family Patel")
    expect(family).to_contain_text("Party: 2 people")
    family.get_by_role("button", name="Change the party size of Family Patel").click()
    family.get_by_label("Number of people").fill("3")
    family.get_by_role("button", name="Save party size").click()
    expect(roster).to_contain_text("10/10 booked")
    expect(roster.locator("#roster-list li", has_text="Family Patel")).to_contain_text(
        "Party: 3 people"
    )
    expect(desk.locator(".block", has_text="Group Yoga 10:00-11:00 - 10/10")).to_be_visible()
    desk.close()


def test_a_customer_sees_the_week_of_classes_and_books_one(page: Page, shop: Shop) -> None:
    """A timetable class shows as a week of classes (Monday to Sunday) with only its
    scheduled sessions: time, instructor and places; booking one is booking a slot."""
    api = shop.api
    outlet_id = shop.page_url.rsplit("/", 1)[-1]
    vinyasa = api.call(
        "POST",
        "/services",
        {
            "name": "Vinyasa Flow",
            "duration": 60,
            "allow_parallel_bookings": True,
            "max_parallel_bookings": 12,
            "booking_mode": "timetable",
            "waitlist_enabled": True,
        },
        expect=201,
    )
    maya = api.call(
        "POST",
        "/staff",
        {
            "name": "Maya Stone",
            "outlet_id": outlet_id,
            "service_ids": [vinyasa["id"]],
            "working_hours": EVERY_DAY_8_TO_22,
        },
        expect=201,
    )
    weekday = f"{shop.day:%A}".lower()
    api.call(
        "POST",
        "/class-schedules",
        {
            "service_id": vinyasa["id"],
            "outlet_id": outlet_id,
            "staff_id": maya["id"],
            "start_time": "18:00",
            "days": [weekday],
            "first_date": shop.day.isoformat(),
            "capacity": 2,
        },
        expect=201,
    )
    book_through_api(shop, vinyasa, "18:00", 1)

    page.goto(shop.page_url)
    expect(page.locator("#tz-note")).to_contain_text(TIMEZONE)
    page.get_by_label("Vinyasa Flow").check()
    expect(page.get_by_role("heading", name="2. Choose a class")).to_be_visible()
    today = datetime.now(UTC).astimezone(ZoneInfo(TIMEZONE)).date()
    monday = today - timedelta(days=today.weekday())
    expect(page.locator("#slots .week-day")).to_have_count(7)
    expect(page.locator("#slots .week-day").first).to_have_attribute(
        "data-date", monday.isoformat()
    )
    expect(page.get_by_role("button", name="← Previous week")).to_be_disabled()
    if shop.day - timedelta(days=shop.day.weekday()) != monday:
        page.get_by_role("button", name="Next week →").click()
    expect(page.locator("#week-label")).to_contain_text("Week of Monday")
    session = slot_button(page, shop, "18:00:00")
    expect(session).to_contain_text("18:00 - 19:00")
    expect(session).to_contain_text("with Maya Stone")
    expect(session).to_contain_text("1/2 spots left")
    # Only the scheduled session that week: no open slots of the class.
    expect(page.locator("#slots button.slot")).to_have_count(1)
    shoot(page, "public_week_of_classes.png", full_page=True)

    session.click()
    expect(page.locator("#chosen-slot")).to_contain_text("Vinyasa Flow")
    expect(page.locator("#chosen-slot")).to_contain_text("with Maya Stone")
    fill_details(page, "Ravi Shah", "ravi@example.com")
    page.get_by_role("button", name="Book", exact=True).click()
    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
    expect(page.locator("#confirm-text")).to_contain_text("Vinyasa Flow with Maya Stone")
    # The week stays shown, the class now full, with its waitlist open to join.
    expect(session).to_contain_text("Full")
    expect(session).to_contain_text("Join waitlist (nobody waiting yet)")
    shoot(page, "public_week_class_full.png", full_page=True)
    customers = api.call("GET", "/customers", params={"q": "ravi@example.com"})["items"]
    booked = api.call("GET", "/appointments", params={"customer_id": customers[0]["id"]})
    assert [(a["start_time"], a["status"]) for a in booked["items"]] == [("18:00:00", "confirmed")]


def weekly_class(shop: Shop, capacity: int) -> dict[str, Any]:
    """Vinyasa Flow, a timetable class with a waitlist, every week on the weekday of the
    shop's day at 18:00 from that day on, taught by Maya Stone."""
    api = shop.api
    outlet_id = shop.page_url.rsplit("/", 1)[-1]
    vinyasa = api.call(
        "POST",
        "/services",
        {
            "name": "Vinyasa Flow",
            "duration": 60,
            "allow_parallel_bookings": True,
            "max_parallel_bookings": capacity,
            "booking_mode": "timetable",
            "waitlist_enabled": True,
        },
        expect=201,
    )
    maya = api.call(
        "POST",
        "/staff",
        {
            "name": "Maya Stone",
            "outlet_id": outlet_id,
            "service_ids": [vinyasa["id"]],
            "working_hours": EVERY_DAY_8_TO_22,
        },
        expect=201,
    )
    api.call(
        "POST",
        "/class-schedules",
        {
            "service_id": vinyasa["id"],
            "outlet_id": outlet_id,
            "staff_id": maya["id"],
            "start_time": "18:00",
            "days": [f"{shop.day:%A}".lower()],
            "first_date": shop.day.isoformat(),
            "capacity": capacity,
        },
        expect=201,
    )
    return dict(vinyasa)


def choose_weekly_session(page: Page, shop: Shop) -> None:
    """Open the week of Vinyasa Flow holding the shop's day and pick its 18:00 class."""
    page.goto(shop.page_url)
    expect(page.locator("#tz-note")).to_contain_text(TIMEZONE)
    page.get_by_label("Vinyasa Flow").check()
    expect(page.locator("#slots .week-day")).to_have_count(7)
    today = datetime.now(UTC).astimezone(ZoneInfo(TIMEZONE)).date()
    if shop.day - timedelta(days=shop.day.weekday()) != today - timedelta(days=today.weekday()):
        page.get_by_role("button", name="Next week →").click()
    slot_button(page, shop, "18:00:00").click()
    expect(page.locator("#chosen-slot")).to_contain_text("Vinyasa Flow")


def weekly_dates(shop: Shop, count: int) -> list[str]:
    return [f"{shop.day + timedelta(weeks=n):%A %-d %B}, 18:00" for n in range(count)]


def test_a_customer_books_the_next_four_weekly_classes(page: Page, shop: Shop) -> None:
    """From one session of a weekly class, the form books it and the next three weeks in
    one go: each date is listed as booked, with its own private link."""
    weekly_class(shop, 4)
    choose_weekly_session(page, shop)
    series = page.get_by_role("group", name="Book this class every week")
    how_many = series.get_by_label("How many classes")
    expect(how_many).to_have_value("1")  # this class only, unless asked
    expect(series.get_by_label("Only the ones with room")).to_be_hidden()
    expect(page.get_by_role("button", name="Book", exact=True)).to_be_visible()
    how_many.select_option(label="The next 4 classes")
    expect(series.get_by_label("Only the ones with room")).not_to_be_checked()
    expect(series.get_by_label("Wait for a place in full ones")).to_be_hidden()
    series.get_by_label("Only the ones with room").check()
    expect(series.get_by_label("Wait for a place in full ones")).to_be_visible()
    series.get_by_label("Only the ones with room").uncheck()
    fill_details(page, "Ravi Shah", "ravi@example.com")
    page.get_by_role("button", name="Book 4 classes").click()

    expect(page.get_by_role("heading", name="Your weekly classes")).to_be_visible()
    lines = page.locator("#series-results li")
    expect(lines).to_have_count(4)
    expect(lines.locator(".series-when")).to_have_text(weekly_dates(shop, 4))
    expect(lines.locator(".series-result")).to_have_text(["Booked"] * 4)
    expect(page.locator("#series-summary")).to_contain_text("4 classes booked")
    expect(lines.get_by_role("link", name=re.compile("^Manage"))).to_have_count(4)
    expect(slot_button(page, shop, "18:00:00")).to_contain_text("3/4 spots left")
    page.set_viewport_size({"width": 360, "height": 800})
    shoot(page, "public_weekly_series_booked.png", full_page=True)

    lines.nth(1).get_by_role("link", name=re.compile("^Manage")).click()
    expect(page.get_by_role("heading", name="Your booking")).to_be_visible()
    expect(page.locator("#booking-status")).to_have_text("Confirmed")
    customers = shop.api.call("GET", "/customers", params={"q": "ravi@example.com"})["items"]
    booked = shop.api.call("GET", "/appointments", params={"customer_id": customers[0]["id"]})
    assert sorted(a["appointment_date"] for a in booked["items"]) == [
        (shop.day + timedelta(weeks=n)).isoformat() for n in range(4)
    ]


def test_a_full_week_refuses_all_or_nothing_then_the_ones_with_room_are_booked(
    page: Page, shop: Shop
) -> None:
    """All or nothing: the third week is full, so nothing is booked and the page names
    that date; it offers to book only the classes with room, which books the other three."""
    vinyasa = weekly_class(shop, 1)
    full_day = shop.day + timedelta(weeks=2)
    book_through_api(shop, vinyasa, "18:00", 1, day=full_day)
    choose_weekly_session(page, shop)
    page.get_by_label("How many classes").select_option(label="The next 4 classes")
    fill_details(page, "Ravi Shah", "ravi@example.com")
    page.get_by_role("button", name="Book 4 classes").click()

    error = page.locator("#form-error")
    expect(error).to_contain_text("Nothing was booked")
    expect(error).to_contain_text(f"{full_day:%A %-d %B} (Full)")
    refusal = page.locator("#series-refusal-list li")
    expect(refusal).to_have_count(4)
    expect(refusal.locator(".series-result")).to_have_text(
        ["Has room", "Has room", "Full", "Has room"]
    )
    expect(page.locator(f'#series-refusal-list li[data-date="{full_day}"]')).to_contain_text(
        f"{full_day:%A %-d %B}, 18:00 Full"
    )
    shoot(page, "public_weekly_series_refused.png", full_page=True)
    customers = shop.api.call("GET", "/customers", params={"q": "ravi@example.com"})["items"]
    if customers:
        mine = shop.api.call("GET", "/appointments", params={"customer_id": customers[0]["id"]})
        assert mine["items"] == []

    page.get_by_role("button", name="Book only the 3 with room").click()
    expect(page.get_by_role("heading", name="Your weekly classes")).to_be_visible()
    lines = page.locator("#series-results li")
    expect(lines.locator(".series-when")).to_have_text(weekly_dates(shop, 4))
    expect(lines.locator(".series-result")).to_have_text(["Booked", "Booked", "Full", "Booked"])
    expect(lines.get_by_role("link", name=re.compile("^Manage"))).to_have_count(3)
    expect(page.locator("#series-summary")).to_contain_text("3 classes booked, 1 not booked")
