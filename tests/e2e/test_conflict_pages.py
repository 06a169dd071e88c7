"""A page saved after someone else changed the same thing: the conflict pages in Chromium, 0 axe violations."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from onecase.accounts.models import Agency, Role
from onecase.cases import services
from onecase.cases.models import Case, CaseEvent, Status
from tests.e2e.test_accessibility import CHROMIUM, assert_accessible, browser, page, sign_in, site  # noqa: F401
from tests.factories import UserFactory
from tests.test_demand import city  # noqa: F401

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]


def conflict_seen(tab, name: str) -> None:
    """The 409 is the expected answer here; everything else on the page must load."""
    expect(tab.locator(".govuk-error-summary")).to_contain_text("Someone changed this since you opened it")
    tab.wait_for_load_state("networkidle")
    assert [failure for failure in tab.failed if not failure.startswith("409 ")] == []
    tab.failed.clear()
    assert_accessible(tab, name)


def test_stale_forms_show_both_versions_and_can_be_resubmitted(page, city):  # noqa: F811
    police = Agency.objects.get(code="POLICE")
    kw = UserFactory(username="kw", agency=police, role=Role.KEY_WORKER)
    colleague = UserFactory(username="colleague", agency=police, role=Role.AGENCY_ADMIN)
    case = services.case_open(actor=kw, key_worker=kw, household=city["smyth"], summary="Rent and ASB")
    action = services.action_add(actor=kw, case=case, title="Call the landlord", owner=kw,
                                 due_on=timezone.localdate() + dt.timedelta(days=7))
    sign_in(page, "kw")

    # The status page is opened; a colleague moves the case on before it is saved.
    page.goto(f"/cases/{case.pk}/status/")
    services.case_set_status(actor=colleague, case=Case.objects.get(pk=case.pk), status=Status.CLOSING)
    page.get_by_role("button", name="Change the status", exact=True).click()
    expect(page).to_have_title("Error: Change the status – OneCase")
    conflict_seen(page, "change the status, changed meanwhile")
    page.get_by_label("New status").select_option("active")
    page.get_by_role("button", name="Change the status", exact=True).click()
    page.wait_for_url(f"**/cases/{case.pk}/")
    assert Case.objects.get(pk=case.pk).status == Status.ACTIVE

    # The case page is opened; the colleague marks the action done first.
    page.goto(f"/cases/{case.pk}/")
    services.action_done(actor=colleague, action=action)
    page.get_by_role("button", name="Mark as done").click()
    conflict_seen(page, "mark as done, done meanwhile")
    expect(page.locator(".govuk-inset-text")).to_contain_text("already been done")
    assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.ACTION_DONE).count() == 1
