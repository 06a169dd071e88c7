"""The demand dashboard and the profiles in Chromium: 0 axe violations, keyboard reachable."""

import pytest

from onecase.accounts.models import Agency, Role
from onecase.sharing.services import break_glass_role_set
from tests.e2e.test_accessibility import CHROMIUM, assert_accessible, browser, page, sign_in, site  # noqa: F401
from tests.factories import UserFactory
from tests.test_demand import city  # noqa: F401

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]


def test_dashboard_then_the_top_households_profile(page, city):  # noqa: F811
    UserFactory(username="keyworker", agency=Agency.objects.get(code="HOUSING"), role=Role.PARTNERSHIP_ADMIN)
    sign_in(page, "keyworker")
    page.goto("/demand/?until=2025-06-30")
    assert_accessible(page, "demand dashboard")
    first = page.locator("tbody tr").first.locator("th").get_by_role("link")
    assert first.inner_text() == "1 High Street, ST1 1AA"
    first.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/households/{city['smyth'].pk}/")
    assert page.get_by_role("heading", level=1).inner_text() == "1 High Street, ST1 1AA"
    assert_accessible(page, "household profile")
    page.locator(".govuk-list a").first.click()
    page.wait_for_url(f"**/people/{city['person'].pk}/")
    assert_accessible(page, "person profile")
    page.goto("/demand/?since=2025-06-01&until=2025-01-01")
    assert_accessible(page, "demand dashboard with errors")


def test_sharing_pages_are_accessible(page, city):  # noqa: F811
    UserFactory(username="housingkw", agency=Agency.objects.get(code="HOUSING"), role=Role.KEY_WORKER)
    break_glass_role_set(actor=None, agency=Agency.objects.get(code="HOUSING"), role=Role.KEY_WORKER, allowed=True)
    UserFactory(username="policedpo", agency=Agency.objects.get(code="POLICE"), role=Role.DPO)
    sign_in(page, "housingkw")
    page.goto(f"/people/{city['person'].pk}/")
    assert_accessible(page, "person profile at signpost level")
    page.get_by_role("link", name="Ask for more access").click()
    assert_accessible(page, "access request form")
    page.get_by_role("button", name="Send request").click()
    assert_accessible(page, "access request form with errors")
    page.get_by_label("Which agency's records do you need?").select_option(label="POLICE")
    page.get_by_label("Why do you need them?").fill("Safety planning before a home visit")
    page.get_by_role("button", name="Send request").click()
    page.wait_for_url(f"**/people/{city['person'].pk}/")
    page.goto("/requests/")
    assert_accessible(page, "access requests")
    page.goto(f"/people/{city['person'].pk}/break-the-glass/")
    page.get_by_role("button", name="Break the glass").click()
    assert_accessible(page, "break the glass with errors")
    page.context.clear_cookies()
    sign_in(page, "policedpo")
    page.goto("/requests/")
    assert_accessible(page, "requests to decide")
    page.get_by_role("button", name="Approve").first.click()
    assert_accessible(page, "requests after a decision")
    page.goto("/data-protection/")
    assert_accessible(page, "data protection page")


def test_demand_reports_and_reclassifying_are_accessible(page, city):  # noqa: F811
    from onecase.contacts.models import Contact

    UserFactory(username="housingpr", agency=Agency.objects.get(code="HOUSING"), role=Role.PRACTITIONER)
    sign_in(page, "housingpr")
    page.goto("/demand/")
    page.get_by_role("link", name="Failure demand per agency and per month").click()
    assert_accessible(page, "failure demand")
    page.goto("/demand/failure/?since=2025-06-01&until=2025-01-01")
    assert_accessible(page, "failure demand with errors")
    page.goto("/demand/in-context/")
    assert_accessible(page, "demands in context")
    page.goto(f"/people/{city['person'].pk}/")
    page.get_by_role("link", name="Reclassify").first.click()
    assert_accessible(page, "reclassify a contact")
    page.get_by_label("Value demand").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"**/people/{city['person'].pk}/")
    assert Contact.objects.filter(demand_class_manual=True).count() == 1
