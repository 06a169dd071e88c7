"""Browser tests: every main page has no axe-core violations, and the GOV.UK assets load.

They drive Debian's Chromium (``apt-get install chromium``) against the live test server.
"""

import os
from pathlib import Path

import pytest
from django.core.cache import cache
from django.utils.module_loading import import_string
from playwright.sync_api import expect

from onecase.accounts.models import Role, User
from onecase.imports import jobs
from onecase.imports.models import ImportJob
from tests.auth import current_code, totp_device
from tests.conftest import PASSWORD
from tests.factories import AgencyFactory, UserFactory

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STATIC = Path(__file__).resolve().parents[2] / "onecase" / "web" / "static" / "govuk" / "govuk-frontend.min.css"
HEADER = "record_id,person_ref,occurred_at,contact_type,given_name,family_name,postcode,favourite_colour"
VALID = (
    f"{HEADER}\n"
    "R1,P1,2024-03-01T09:30:00,incident,Jon,Smith,ST1 4HH,blue\n"
    "R2,P1,2024-03-02,incident,Jon,Smith,ST1 4HH,blue\n"
    "R3,P2,2024-03-03,asb_report,Mary,Jones,,green\n"
)
INVALID = f"{HEADER}\nR1,P1,2024-03-01,incident,Jon,Smith,,\nR2,P2,not-a-date,incident,Mary,Jones,,\n"
SCREENSHOT = Path("/tmp/onecase-home.png")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]

# Playwright's sync API runs an event loop in this thread; the ORM calls made alongside it are safe.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert STATIC.exists(), "GOV.UK Frontend is not in the static files: run `make static`"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def site(settings, tmp_path, transactional_db, live_server, monkeypatch):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Run queued checks and imports straight away, in the request that queues them.
    monkeypatch.setattr(jobs, "async_task", lambda func, *args, **kwargs: import_string(func)(*args))
    yield live_server
    cache.clear()


@pytest.fixture
def page(browser, site):
    context = browser.new_context(base_url=site.url)
    page = context.new_page()
    page.failed = []
    page.on("response", lambda r: r.status >= 400 and page.failed.append(f"{r.status} {r.url}"))
    # A navigation cancels requests still in flight (net::ERR_ABORTED); those are not failures.
    page.on("requestfailed", lambda r: "ERR_ABORTED" not in (r.failure or "") and page.failed.append(f"failed {r.url}"))
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def assert_accessible(page, name: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    page.wait_for_load_state("networkidle")
    results = Axe().run(page)
    assert results.violations_count == 0, f"{name}:\n{results.generate_report()}"
    assert page.failed == [], f"{name}: {page.failed}"
    assert page.errors == [], f"{name}: {page.errors}"


def sign_in(page, username: str) -> None:
    """Password, then the code from the user's authenticator app."""
    device = totp_device(User.objects.get(username=username))
    page.goto("/sign-in/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/two-factor/**")
    page.get_by_label("Enter your security code").fill(current_code(device))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/")


def upload(page, tmp_path, name: str, content: str, agency: str = "POLICE") -> None:
    path = tmp_path / name
    path.write_text(content)
    page.goto("/imports/new/")
    page.get_by_label("Agency").select_option(agency)
    page.get_by_label("Upload a file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and check").click()
    page.wait_for_url("**/imports/*/")


def test_main_pages_are_accessible(page, tmp_path):
    partnership = AgencyFactory(code="PARTNERSHIP", name="Partnership team", sector="council")
    AgencyFactory(code="POLICE", name="Staffordshire Police", sector="police")
    AgencyFactory(code="FOODBANK", name="Hanley Food Bank", sector="voluntary")
    UserFactory(username="admin1", role=Role.PARTNERSHIP_ADMIN, agency=partnership, is_staff=True)

    page.goto("/sign-in/")
    expect(page).to_have_title("Sign in – OneCase")
    assert_accessible(page, "sign-in page")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_title("Error: Sign in – OneCase")
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    assert_accessible(page, "sign-in page with errors")

    sign_in(page, "admin1")
    assert page.locator("body").evaluate("b => b.classList.contains('govuk-frontend-supported')")
    assert_accessible(page, "home")

    page.goto("/imports/new/")
    assert_accessible(page, "upload page")
    page.get_by_role("button", name="Upload and check").click()
    expect(page).to_have_title("Error: Upload contacts – OneCase")
    assert_accessible(page, "upload page with errors")

    upload(page, tmp_path, "bad.csv", INVALID)
    assert "line 3, column occurred_at" in page.locator(".govuk-error-summary").inner_text()
    assert page.get_by_role("button", name="Start import").count() == 0
    assert_accessible(page, "preview with errors")

    upload(page, tmp_path, "police.csv", VALID)
    assert page.get_by_role("button", name="Start import").is_visible()
    assert page.locator("table").first.inner_text().count("Smith") == 2
    assert_accessible(page, "preview of a valid file")

    page.get_by_role("button", name="Start import").click()
    page.wait_for_url("**/imports/*/")
    assert page.locator(".govuk-panel").inner_text().startswith("Import complete")
    assert_accessible(page, "job page after completion")

    page.goto("/imports/")
    assert_accessible(page, "imports list")

    page.goto("/")
    assert "Staffordshire Police" in page.locator("table").inner_text()
    assert_accessible(page, "home with counts")
    page.evaluate("document.fonts.ready")
    assert page.evaluate("document.fonts.check('19px \"GDS Transport\"')")
    assert "GDS Transport" in page.locator("h1").evaluate("h => getComputedStyle(h).fontFamily")
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_progress_is_polled_and_page_reloads_when_done(page, tmp_path):
    police = AgencyFactory(code="POLICE", name="Staffordshire Police", sector="police")
    UserFactory(username="police_admin", role=Role.AGENCY_ADMIN, agency=police)
    sign_in(page, "police_admin")
    upload(page, tmp_path, "police.csv", VALID)
    job = ImportJob.objects.get()
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, total_rows=48000)
    cache.set(jobs.progress_key(job.pk), {"processed": 12000, "total": 48000})

    page.reload()
    live = page.locator("[aria-live=polite]")
    assert "12,000 of 48,000 rows (25%)" in live.inner_text()
    assert page.get_by_role("link", name="Refresh progress").is_visible()
    assert_accessible(page, "job page while running")

    cache.set(jobs.progress_key(job.pk), {"processed": 36000, "total": 48000})
    live.get_by_text("36,000 of 48,000 rows (75%)").wait_for(timeout=10_000)

    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.SUCCEEDED, processed_rows=48000, created_count=48000
    )
    page.locator(".govuk-panel").wait_for(timeout=10_000)
    assert "48,000 rows imported" in page.locator(".govuk-panel").inner_text()
    assert page.locator("[aria-live=polite]").count() == 0


def test_progress_page_works_without_javascript(browser, site, tmp_path):
    police = AgencyFactory(code="POLICE", name="Staffordshire Police", sector="police")
    UserFactory(username="police_admin", role=Role.AGENCY_ADMIN, agency=police)
    context = browser.new_context(base_url=site.url, java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, "police_admin")
        upload(page, tmp_path, "police.csv", VALID)
        job = ImportJob.objects.get()
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
        page.reload()
        assert "0 of 3 rows (0%)" in page.locator("[aria-live=polite]").inner_text()
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.SUCCEEDED, processed_rows=3)
        page.get_by_role("link", name="Refresh progress").click()
        assert "Import complete" in page.locator(".govuk-panel").inner_text()
        assert page.locator("meta[http-equiv]").count() == 0
    finally:
        context.close()


def test_two_factor_set_up_and_sign_in_are_accessible(page):
    import base64

    from django_otp.oath import totp

    UserFactory(username="newstarter", agency=AgencyFactory(code="HOUSING"), role=Role.PRACTITIONER)
    page.goto("/sign-in/")
    assert_accessible(page, "sign-in")
    page.get_by_label("Username").fill("newstarter")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/two-factor/setup/**")
    assert_accessible(page, "two-factor set-up start")
    page.get_by_role("button", name="Set up my authenticator").click()
    expect(page.locator(".app-secret")).to_be_visible()
    assert_accessible(page, "two-factor set-up")
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert_accessible(page, "two-factor set-up with an error")
    secret = page.locator(".app-secret").inner_text().replace(" ", "")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    page.get_by_label("Enter the code from the app").fill(f"{totp(key):06d}")
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    page.wait_for_url("**/")
    assert page.get_by_role("heading", level=1).inner_text() != ""
    assert "Sign out" in page.content()
