"""The Impact page (with its savings inputs, and with errors) and a case's "Cost and impact" in Chromium:
0 axe violations."""

import pytest

from tests.e2e.test_accessibility import CHROMIUM, assert_accessible, browser, page, sign_in, site  # noqa: F401
from tests.test_impact_pages import cohort  # noqa: F401

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]


def test_impact_page_is_accessible(page, cohort):  # noqa: F811
    sign_in(page, cohort["admin"].username)
    page.get_by_role("link", name="Impact", exact=True).click()
    page.wait_for_url("**/impact/")
    assert page.get_by_role("heading", name="Savings report").count() == 1
    assert_accessible(page, "the Impact page")

    page.get_by_text("Change the savings report's inputs").click()
    page.get_by_label("Deadweight (%)").fill("25")
    page.get_by_label("Group the cases by").select_option("need")
    page.get_by_role("button", name="Show the figures").click()
    page.wait_for_url("**/impact/?*")
    assert page.get_by_role("heading", name="By need category").count() == 1
    assert_accessible(page, "the Impact page grouped by need, with an input changed")

    page.get_by_label("Opened on or after").fill("not a date")
    page.get_by_role("button", name="Show the figures").click()
    page.wait_for_url("**/impact/?*")
    assert page.locator(".govuk-error-summary").count() == 1
    assert_accessible(page, "the Impact page with an error")


def test_case_cost_and_impact_is_accessible(page, cohort):  # noqa: F811
    sign_in(page, cohort["workers"]["POLICE"].username)
    page.goto(f"/cases/{cohort['cases']['OLD-1'].pk}/")
    assert page.get_by_role("heading", name="Cost and impact").count() == 1
    assert_accessible(page, "a closed imported case's cost and impact")
    page.goto(f"/cases/{cohort['cases']['live'].pk}/")
    assert page.get_by_role("heading", name="Cost and impact").count() == 1
    assert_accessible(page, "a live case's cost and impact")
