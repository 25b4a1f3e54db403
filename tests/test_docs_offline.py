"""/docs and /redoc render in Chromium with every other host blocked, as on a machine
without internet access, and the Swagger UI "Authorize" password flow still works."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from tests.databases import SqliteTemplate
from tests.live_server import LiveServer
from tests.support import unique_email

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "build" / "screenshots"
PASSWORD = "docs-offline-pass-1"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.live,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)",
    ),
]


@pytest.fixture(scope="module")
def server(
    sqlite_template: SqliteTemplate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    live = LiveServer(
        sqlite_template.fresh_url(), workers=1, var_dir=tmp_path_factory.mktemp("docs-var")
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


class Offline:
    """A page that may talk to the app only; whatever else it asks for is refused and
    remembered."""

    def __init__(self, browser: Browser, server: LiveServer) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(15_000)
        self.app_host = urlsplit(server.base_url).netloc
        self.blocked: list[str] = []
        self.errors: list[str] = []  # uncaught script errors, e.g. code the page forbids
        self.context.route("**/*", self._only_the_app)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _only_the_app(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).netloc == self.app_host:
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("internetdisconnected")


@pytest.fixture
def offline(browser: Browser, server: LiveServer) -> Iterator[Offline]:
    session = Offline(browser, server)
    yield session
    session.context.close()


def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name))


def test_swagger_ui_renders_offline_and_authorize_gets_a_token(
    offline: Offline, server: LiveServer
) -> None:
    email = unique_email("docs")
    signup = httpx.post(
        f"{server.base_url}/api/v1/auth/signup",
        json={"business_name": "Docs Studio", "email": email, "password": PASSWORD},
        timeout=10,
    )
    assert signup.status_code == 201, signup.text
    page = offline.page
    page.goto(f"{server.base_url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Slotbook")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/auth/me").first).to_be_visible(
        timeout=60_000
    )

    # Authorize: the OAuth2 password flow against /api/v1/auth/token.
    page.get_by_role("button", name="Authorize").first.click()
    dialog = page.locator(".modal-ux")
    dialog.get_by_label("username:").fill(email)
    dialog.get_by_label("password:").fill(PASSWORD)
    dialog.get_by_role("button", name="Apply given OAuth2 credentials").click()
    expect(dialog.get_by_role("heading", name="Authorized")).to_be_visible()
    expect(dialog.get_by_role("button", name="Remove authorization")).to_be_visible()
    dialog.get_by_role("button", name="Close", exact=True).click()

    # An authorized call from the page: GET /api/v1/auth/me answers this user.
    operation = page.locator(".opblock", has=page.locator(".opblock-summary-path",
                             has_text="/api/v1/auth/me")).first
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    response = operation.locator(".live-responses-table .response").first
    expect(response.locator(".response-col_status")).to_contain_text("200")
    expect(response.locator(".response-col_description")).to_contain_text(email)
    response.scroll_into_view_if_needed()
    shoot(page, "docs_swagger_offline.png")
    assert offline.blocked == []
    assert offline.errors == []


def test_redoc_renders_offline(offline: Offline, server: LiveServer) -> None:
    page = offline.page
    page.goto(f"{server.base_url}/redoc")
    # ReDoc lays out the whole schema before it shows anything: give a loaded CI time.
    expect(page.locator("h1", has_text="Slotbook")).to_be_visible(timeout=60_000)
    expect(page.locator("[role=menuitem]", has_text="Healthz").first).to_be_attached()
    expect(page.locator("h2", has_text="Readyz").first).to_be_attached()
    page.get_by_placeholder("Search...").fill("readyz")
    # The search index is built in a worker after the layout; a larger schema takes longer.
    expect(page.get_by_role("search").get_by_role("menuitem", name="Readyz")).to_be_visible(
        timeout=30_000
    )
    shoot(page, "docs_redoc_offline.png")
    # ReDoc's sidebar logo is refused by the page's Content-Security-Policy before any
    # request leaves, so nothing reaches the blocking route either.
    assert offline.blocked == []
    assert offline.errors == []
