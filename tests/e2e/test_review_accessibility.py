"""The linkage review pages in Chromium: 0 axe violations, with and without JavaScript."""

import pytest

from onecase.accounts.models import Role
from onecase.linkage.models import LinkDecision, ReviewItem
from onecase.linkage.services import link_run
from onecase.people.models import AgencyPerson, Person, PersonLink
from tests.e2e.test_accessibility import CHROMIUM, assert_accessible, browser, page, sign_in, site  # noqa: F401
from tests.factories import AgencyFactory, UserFactory
from tests.test_linkage import family_of_five

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]


@pytest.fixture
def linked(settings, transactional_db):
    settings.ONECASE_LINKAGE = {"review_high": 0.99999}  # a wide band: the family gives pairs to review
    family_of_five()
    link_run(actor=None)
    UserFactory(username="reviewer1", role=Role.PARTNERSHIP_ADMIN, agency=AgencyFactory(code="PARTNERSHIP"))


def person_of(ref: str) -> int:
    return PersonLink.objects.get(agency_person__person_ref=ref, undone_at__isnull=True).person_id


def test_review_pages_are_accessible(page, linked):  # noqa: F811
    sign_in(page, "reviewer1")
    page.get_by_role("link", name="Linkage review").click()
    page.wait_for_url("**/linkage/review/")
    assert_accessible(page, "review queue")
    page.get_by_label("Match probability").select_option("below-60")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**/linkage/review/?*band=below-60")
    assert_accessible(page, "review queue, filtered")

    first = page.locator("tbody tr").first.get_by_role("link")
    first.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/linkage/review/*/?band=below-60")
    assert page.get_by_role("heading", level=1).inner_text() == "Are these the same person?"
    assert_accessible(page, "review pair")
    page.get_by_role("button", name="Save and go to the next pair").click()
    assert page.title().startswith("Error: ")
    assert_accessible(page, "review pair with errors")
    page.get_by_role("link", name="Select whether these records are about the same person").click()
    assert page.evaluate("document.activeElement.id") == "id_decision"
    page.get_by_label("No, different people").check()
    page.get_by_role("button", name="Save and go to the next pair").click()
    page.wait_for_load_state()
    assert "recorded as different people" in page.locator(".govuk-notification-banner").inner_text()
    assert_accessible(page, "the next pair, after a decision")

    page.goto("/linkage/decisions/")
    assert_accessible(page, "decisions")
    page.get_by_role("button", name="Undo").first.click()
    page.wait_for_url("**/linkage/decisions/")
    assert "undone" in page.locator(".govuk-notification-banner").inner_text()
    assert_accessible(page, "decisions after an undo")

    person = person_of("JON0")
    page.goto(f"/people/{person}/")
    page.get_by_role("link", name="Records and linkage evidence for this person").click()
    page.wait_for_url(f"**/linkage/people/{person}/")
    assert_accessible(page, "person records and evidence")
    page.locator(".govuk-details__summary").first.click()
    assert_accessible(page, "person records with evidence open")
    page.get_by_role("button", name="Split out of this person").click()
    assert_accessible(page, "split with errors")
    wrong = AgencyPerson.objects.get(person_ref="JON2")
    page.get_by_label(f"{wrong.agency.name}, reference JON2").check()
    page.get_by_role("button", name="Split out of this person").click()
    page.wait_for_url(f"**/linkage/people/{person}/")
    assert "split out into person" in page.locator(".govuk-notification-banner").inner_text()
    assert_accessible(page, "person after a split")

    household = Person.objects.get(pk=person).household_id
    page.goto(f"/linkage/households/{household}/")
    assert_accessible(page, "household records")
    assert LinkDecision.objects.filter(kind=LinkDecision.Kind.SPLIT).count() == 1


def test_a_pair_is_decided_without_javascript(browser, site, linked):  # noqa: F811
    context = browser.new_context(base_url=site.url, java_script_enabled=False)
    tab = context.new_page()
    try:
        sign_in(tab, "reviewer1")
        tab.goto("/linkage/review/")
        tab.locator("tbody tr").first.get_by_role("link").click()
        tab.wait_for_url("**/linkage/review/*/")
        pk = int(tab.url.rstrip("/").rsplit("/", 1)[-1])
        tab.get_by_label("Yes, the same person").check()
        tab.get_by_role("button", name="Save and go to the next pair").click()
        tab.wait_for_load_state()
        assert ReviewItem.objects.get(pk=pk).status == ReviewItem.Status.CONFIRMED
        assert "recorded as the same person" in tab.content()
    finally:
        context.close()
