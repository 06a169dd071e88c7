"""Every case page in Chromium, filled in and with errors: 0 axe violations."""

import datetime as dt

import pytest
from django.utils import timezone

from onecase.accounts.models import Agency, Role
from onecase.cases import services
from onecase.cases.models import Case
from onecase.sharing.models import Tier
from onecase.sharing.services import agreement_create
from tests.e2e.test_accessibility import CHROMIUM, assert_accessible, browser, page, sign_in, site  # noqa: F401
from tests.factories import UserFactory
from tests.test_demand import NOW, city  # noqa: F401

PURPOSES = ["finding_families", "key_work"]  # the everyday purpose, and key work on cases

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]


def test_case_pages_are_accessible(page, city):  # noqa: F811
    police, housing = Agency.objects.get(code="POLICE"), Agency.objects.get(code="HOUSING")
    agreement_create(actor=None, reference="ISA-1", title="Families", lawful_basis="public_task", purposes="p", purpose_codes=PURPOSES,
                     data_categories=["identity", "contacts", "needs"], starts_on=dt.date(2020, 1, 1),
                     parties={police: Tier.FULL, housing: Tier.FULL})
    kw = UserFactory(username="kw", agency=police, role=Role.KEY_WORKER)
    officer = UserFactory(username="officer", agency=housing, role=Role.PRACTITIONER)
    case = services.case_open(actor=kw, key_worker=kw, household=city["smyth"], summary="Rent and ASB")
    need = services.need_add(actor=kw, case=case, words="help me find a job", goal="Work by summer")
    services.flag_raise(actor=kw, case=case, kind="risk_to_staff", description="Dog at the property")
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    services.action_add(actor=kw, case=case, title="Call the landlord", owner=kw, due_on=yesterday)
    grant = services.grant_invite(actor=kw, case=case, invitee=officer, purpose="Tenancy",
                                  ends_on=timezone.localdate() + dt.timedelta(days=3))
    services.grant_accept(actor=officer, grant=grant)
    services.action_add(actor=officer, case=case, title="Visit", owner=officer, due_on=yesterday)

    sign_in(page, "kw")
    page.goto("/cases/")
    assert_accessible(page, "my cases with overdue actions, expiring grants and drift")
    page.goto(f"/cases/{case.pk}/")
    assert page.locator(".govuk-warning-text").first.inner_text().endswith("Dog at the property")
    assert_accessible(page, "case with a flag and drift")
    for path, name, button in (
        ("needs/new/", "record a need", "Save the need"),
        (f"needs/{need.pk}/outcome/", "record an outcome", "Save the outcome"),
        ("notes/new/", "add a note", "Save the note"),
        ("actions/new/", "add an action", "Save the action"),
        ("flags/new/", "raise a flag", "Raise the flag"),
        ("status/", "change the status", "Change the status"),
        ("transfer/", "transfer", "Transfer"),
    ):
        page.goto(f"/cases/{case.pk}/{path}")
        assert_accessible(page, name)
        for field in page.locator("form#main-form input[type=text], form#main-form textarea").all():
            field.fill("")
        page.get_by_role("button", name=button, exact=True).click()
        assert_accessible(page, f"{name}, submitted empty")
    Case.objects.filter(pk=case.pk).update(opened_at=NOW)  # the city's contacts fall in the year before
    page.goto(f"/cases/{case.pk}/costs/")
    assert page.locator("svg.app-bar-chart").count() == 1
    assert_accessible(page, "case costs")
    page.goto(f"/cases/open/?household={city['brown'].pk}")
    assert_accessible(page, "open a case")
    page.goto(f"/cases/open/?household={city['smyth'].pk}")
    assert page.locator(".govuk-warning-text").count() == 1  # already open: talk to its key worker
    assert_accessible(page, "open a case where one is open")
