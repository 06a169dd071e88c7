"""Finding a person in Chromium, from the header's search box, with and without JavaScript: 0 axe violations."""

import datetime as dt

import pytest

from onecase.accounts.models import Role
from onecase.people.models import Address, Household
from tests.e2e.test_accessibility import CHROMIUM, assert_accessible, browser, page, sign_in, site  # noqa: F401
from tests.factories import AgencyFactory, UserFactory
from tests.test_person_search import record

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]


def test_finding_a_person_is_accessible(page):  # noqa: F811
    police = AgencyFactory(code="POLICE", name="Midshire Police", sector="police")
    UserFactory(username="handler", agency=police, role=Role.FRONT_DOOR)
    household = Household.objects.create(address=Address.objects.create(postcode="ST1 4HH", line="1 Kiln Row"))
    jonathan = record(police, "P1", "Jonathan", "Smith", household=household, dob=dt.date(1980, 3, 7))
    sign_in(page, "handler")
    page.get_by_label("Find a person").fill("Jonathon Smyth")
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_url("**/people/search/?name=*")
    assert page.get_by_role("link", name="Jonathan Smith").count() == 1
    assert_accessible(page, "search results")
    page.get_by_role("link", name="Jonathan Smith").click()
    page.wait_for_url(f"**/people/{jonathan.pk}/")

    page.goto("/people/search/?name=&dob_day=31&dob_month=2&dob_year=1980")
    assert page.locator(".govuk-error-summary").count() == 1
    assert_accessible(page, "search with errors")
    page.goto("/people/search/?name=Zachary+Quill")
    assert page.get_by_role("heading", name="No one found").count() == 1
    assert_accessible(page, "search finding no one")


def test_finding_a_person_works_without_javascript(browser, site):  # noqa: F811
    from tests.e2e.test_accessibility import sign_in as sign_in_page

    police = AgencyFactory(code="POLICE", name="Midshire Police", sector="police")
    UserFactory(username="handler", agency=police, role=Role.FRONT_DOOR)
    record(police, "P1", "Robert", "Jones")
    context = browser.new_context(base_url=site.url, java_script_enabled=False)
    plain = context.new_page()
    sign_in_page(plain, "handler")
    plain.goto("/people/search/")
    plain.get_by_label("Name").fill("Bob Jones")
    plain.get_by_role("button", name="Search", exact=True).click()
    assert plain.get_by_role("link", name="Robert Jones").count() == 1
    context.close()
