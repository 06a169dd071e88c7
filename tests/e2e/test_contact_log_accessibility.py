"""Logging a contact in Chromium, on a person's and a household's page, with errors: 0 axe violations."""

import pytest

from tests.e2e.test_accessibility import CHROMIUM, assert_accessible, browser, page, sign_in, site  # noqa: F401
from tests.test_contact_log import WORDS, world  # noqa: F401

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]


def test_logging_a_contact_is_accessible(page, world):  # noqa: F811
    sign_in(page, world["volunteer"].username)
    page.goto(f"/people/{world['mary'].pk}/")
    page.get_by_role("link", name="Log a contact or concern").click()
    page.wait_for_url(f"**/people/{world['mary'].pk}/contacts/new/")
    assert_accessible(page, "log a contact about a person")
    page.get_by_label("Year").fill("2999")
    page.get_by_label("What did they ask for?").fill("")
    page.get_by_role("button", name="Save contact").click()
    assert page.locator(".govuk-error-summary").count() == 1
    assert_accessible(page, "log a contact, with errors")

    page.goto(f"/households/{world['household'].pk}/contacts/new/")
    assert_accessible(page, "log a contact about someone in a household")
    page.get_by_label("Sam Okafor").check()
    page.get_by_label("Type of contact").select_option("concern")
    page.get_by_label("What did they ask for?").fill(WORDS)
    page.get_by_role("button", name="Save contact").click()
    page.wait_for_url(f"**/households/{world['household'].pk}/#chronology")
    assert page.locator(".govuk-notification-banner--success").count() == 1
    assert page.get_by_text(WORDS).count() == 1
    assert_accessible(page, "the household's chronology with the logged contact")
