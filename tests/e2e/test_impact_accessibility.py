"""The Impact page (with its savings inputs, errors and outcomes), a case's "Cost and impact" and its
six-month follow-up in Chromium: 0 axe violations."""

import datetime as dt

import pytest
from django.utils import timezone

from onecase.cases.models import Case, Status
from tests.e2e.test_accessibility import CHROMIUM, assert_accessible, browser, page, sign_in, site  # noqa: F401
from tests.test_cases import team  # noqa: F401
from tests.test_demand import city  # noqa: F401
from tests.test_impact_pages import cohort  # noqa: F401
from tests.test_outcomes import backdate, close_with

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]


def test_impact_page_is_accessible(page, cohort):  # noqa: F811
    sign_in(page, cohort["admin"].username)
    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Impact", exact=True).click()
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


def test_six_month_follow_up_is_accessible(page, team):  # noqa: F811
    """A closed case's "Six months after closure", its follow-up form, and the form with an error."""
    case, need = close_with(team)
    backdate(case, 200)
    sign_in(page, team["kw"].username)
    page.goto(f"/cases/{case.pk}/")
    assert page.get_by_role("heading", name="Six months after closure").count() == 1
    assert_accessible(page, "a closed case with its follow-up due")
    page.get_by_role("link", name="Record the follow-up").first.click()
    page.wait_for_url(f"**/cases/{case.pk}/needs/{need.pk}/follow-up/")
    assert_accessible(page, "the six-month follow-up form")
    page.get_by_role("button", name="Save the follow-up").click()
    assert page.locator(".govuk-error-summary").count() == 1
    assert_accessible(page, "the six-month follow-up form with an error")
    page.get_by_label("Better").check()
    page.get_by_label("Evidence").fill("Still in the flat, rent paid")
    page.get_by_role("button", name="Save the follow-up").click()
    page.wait_for_url(f"**/cases/{case.pk}/**")
    assert "Still in the flat, rent paid" in page.content()

    # The Impact page's outcomes table, for an analyst: three closed cases, one imported without outcomes.
    close_with({**team, "smyth": team["brown"]}, outcome="worse")
    Case.objects.create(person=team["person"], key_worker=team["kw"], agency=team["kw"].agency, status=Status.CLOSED,
                        closed_at=timezone.now() - dt.timedelta(days=400), imported_ref="OLD-1")
    page.context.clear_cookies()
    sign_in(page, team["analyst"].username)
    page.goto("/impact/")
    assert page.get_by_role("table", name="Outcomes by need category, at closure and six months on").count() == 1
    assert_accessible(page, "the Impact page with outcomes")
