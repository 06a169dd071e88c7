"""The API tokens pages in Chromium: 0 axe violations on each, and they work without JavaScript."""

import pytest
from django_otp.oath import totp
from playwright.sync_api import expect

from onecase.accounts.models import ApiToken, Role
from onecase.accounts.services import token_create
from tests.auth import totp_device
from tests.e2e.test_accessibility import CHROMIUM, assert_accessible, browser, page, sign_in, site  # noqa: F401
from tests.factories import AgencyFactory, UserFactory

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]


def next_code(user) -> str:
    """The code of the next 30-second step: the one used to sign in cannot be used again."""
    device = totp_device(user)
    return f"{totp(device.bin_key, step=device.step, t0=device.t0 - device.step, digits=device.digits):06d}"


def tokens_world():
    police = AgencyFactory(code="POLICE", name="Midshire Police", sector="police")
    admin = UserFactory(username="police_admin", role=Role.AGENCY_ADMIN, agency=police)
    system = UserFactory(username="police_system", role=Role.PRACTITIONER, agency=police)
    token_create(actor=None, user=system, name="Records system export")
    return admin


def test_api_token_pages_are_accessible(page):  # noqa: F811
    admin = tokens_world()
    sign_in(page, "police_admin")
    page.get_by_role("link", name="API tokens").click()
    expect(page).to_have_title("API tokens – OneCase")
    assert "Records system export" in page.locator("table").inner_text()
    assert_accessible(page, "API tokens list")

    page.get_by_role("button", name="Create an API token").click()
    expect(page).to_have_title("Create an API token – OneCase")
    assert_accessible(page, "new token form")
    page.get_by_label("Name").fill("")
    page.get_by_role("button", name="Create the token").click()
    expect(page).to_have_title("Error: Create an API token – OneCase")
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    assert_accessible(page, "new token form with errors")

    page.get_by_label("Name").fill("Case system")
    page.get_by_label("Code from your authenticator app").fill(next_code(admin))
    page.get_by_role("button", name="Create the token").click()
    expect(page).to_have_title("API token created – OneCase")
    assert len(page.locator("code").first.inner_text()) == 64
    assert_accessible(page, "token created")

    page.get_by_role("link", name="Back to API tokens").click()
    assert page.locator("table").count() == 2
    assert_accessible(page, "API tokens list with the user's and their agency's")
    page.get_by_role("button", name="Revoke the token “Records system export” of police_system").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("has been revoked")
    assert_accessible(page, "API tokens list after a revocation")
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["Case system"]


def test_api_tokens_work_without_javascript(browser, site):  # noqa: F811
    admin = tokens_world()
    context = browser.new_context(base_url=site.url, java_script_enabled=False)
    page = context.new_page()  # noqa: F811
    sign_in(page, "police_admin")
    page.goto("/api-tokens/new/")
    page.get_by_label("Name").fill("Case system")
    page.get_by_label("Days until it stops working").fill("30")
    page.get_by_label("Code from your authenticator app").fill(next_code(admin))
    page.get_by_role("button", name="Create the token").click()
    expect(page).to_have_title("API token created – OneCase")
    page.goto("/api-tokens/")
    page.get_by_role("button", name="Revoke the token “Case system”").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("has been revoked")
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["Records system export"]
    context.close()
