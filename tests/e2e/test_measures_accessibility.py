"""The measures dashboard, a measure's page (for an administrator, with its baseline form, and with an
error), its definitions and its edit form in Chromium: 0 axe violations."""

import pytest

from onecase.measures.services import baseline_add
from tests.e2e.test_accessibility import CHROMIUM, assert_accessible, browser, page, sign_in, site  # noqa: F401
from tests.test_measure_pages import measures  # noqa: F401

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]


def test_measures_pages_are_accessible(page, measures, partnership_admin):  # noqa: F811
    baseline_add(actor=None, measure=measures["rent"], start="2024-01", end="2024-12", reason="The first year.")
    sign_in(page, partnership_admin.username)
    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Measures", exact=True).click()
    page.wait_for_url("**/measures/")
    assert page.get_by_role("heading", name="Tier 2: front doors and leading indicators").count() == 1
    assert_accessible(page, "the measures dashboard")

    page.get_by_role("link", name="Rent arrears contacts").click()
    page.wait_for_url("**/measures/rent-arrears/")
    assert page.get_by_role("heading", name="Process behaviour chart").count() == 1
    assert_accessible(page, "a Tier 2 measure's page")

    page.get_by_label("First period").fill("2025-01")
    page.get_by_label("Last period").fill("2024-06")
    page.get_by_role("button", name="Add the baseline").click()
    assert page.locator(".govuk-error-summary").count() == 1
    assert_accessible(page, "a measure's page with a baseline error")

    page.goto("/measures/definitions/")
    assert_accessible(page, "the measure definitions")
    page.goto("/measures/rent-arrears/edit/")
    assert_accessible(page, "the measure edit form")
