"""Each role's home page, and the service's own 404 and 403 pages, in Chromium: 0 axe violations."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from onecase.accounts.models import Role
from onecase.cases import services as cases
from onecase.cases.models import Action
from onecase.imports.jobs import job_create
from onecase.people.models import Address, Household, Person
from onecase.sharing.models import Tier
from onecase.sharing.services import (
    agreement_create,
    break_glass,
    break_glass_role_set,
    disclosure_request_create,
)
from tests.e2e.test_accessibility import CHROMIUM, assert_accessible, browser, page, sign_in, site  # noqa: F401
from tests.factories import AgencyFactory, UserFactory

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]


@pytest.fixture
def roles(site):  # noqa: F811
    csc = AgencyFactory(code="CSC", name="Kilnbury Children's Social Care", sector="council")
    housing = AgencyFactory(code="HOUSING", name="Kilnbury City Council Housing Services", sector="council")
    police = AgencyFactory(code="POLICE", name="Midshire Police", sector="police")
    partnership = AgencyFactory(code="PARTNERSHIP", name="Kilnbury Partnership")
    agreement_create(actor=None, reference="ISA-T", title="Families", lawful_basis="public_task", purposes="Key work",
                     purpose_codes=["finding_families", "key_work"], data_categories=["identity", "contacts", "needs"],
                     starts_on=dt.date(2020, 1, 1), parties={csc: Tier.FULL, housing: Tier.FULL, police: Tier.FULL})
    users = {
        "keyworker": UserFactory(username="keyworker", agency=csc, role=Role.KEY_WORKER),
        "practitioner": UserFactory(username="practitioner", agency=housing, role=Role.PRACTITIONER),
        "police-admin": UserFactory(username="police-admin", agency=police, role=Role.AGENCY_ADMIN),
        "police-dpo": UserFactory(username="police-dpo", agency=police, role=Role.DPO),
        "analyst": UserFactory(username="analyst", agency=partnership, role=Role.ANALYST),
    }
    household = Household.objects.create(address=Address.objects.create(postcode="ST1 1AA", line="1 High Street"))
    person = Person.objects.create(household=household)
    case = cases.case_open(actor=None, key_worker=users["keyworker"], household=household, summary="Rent")
    action = cases.action_add(actor=None, case=case, title="Ring the school", owner=users["keyworker"],
                              due_on=timezone.localdate() + dt.timedelta(days=1))
    Action.objects.filter(pk=action.pk).update(due_on=timezone.localdate() - dt.timedelta(days=2))
    cases.grant_invite(actor=None, case=case, invitee=users["practitioner"], purpose="Tenancy at risk",
                       ends_on=timezone.localdate() + dt.timedelta(days=30))
    job_create(actor=users["police-admin"], agency_code="POLICE",
               upload=SimpleUploadedFile("police-march.csv", b"record_id,person_ref,occurred_at,contact_type\n"))
    disclosure_request_create(actor=users["practitioner"], person=person, owner_agency=police,
                              purpose="Safety planning before a home visit")
    break_glass_role_set(actor=None, agency=housing, role=Role.PRACTITIONER, allowed=True)
    break_glass(actor=users["practitioner"], person=person, owner_agency_ids=[police.pk],
                reason="A child is at immediate risk and nobody can be reached")
    return {**users, "case": case}


def test_every_roles_home_page_is_accessible(page, roles):  # noqa: F811
    for username, shows in (("keyworker", "Ring the school"), ("practitioner", "Tenancy at risk"),
                            ("police-admin", "police-march.csv"), ("police-dpo", "Safety planning"),
                            ("analyst", "Midshire Police")):
        page.context.clear_cookies()
        sign_in(page, username)
        assert shows in page.locator("main").inner_text(), username
        assert f"Signed in as {username}" in page.locator("header").inner_text()
        assert_accessible(page, f"home page of {username}")


def test_the_services_error_pages_are_accessible(page, roles):  # noqa: F811
    sign_in(page, "practitioner")
    for url, heading in ((f"/cases/{roles['case'].pk}/", "Page not found"), ("/no-such-page/", "Page not found"),
                         ("/data-protection/", "You cannot see this page")):
        response = page.goto(url)
        assert response.status in (403, 404)
        assert page.get_by_role("heading", level=1).inner_text() == heading
        page.failed = [f for f in page.failed if not f.endswith(url)]  # the page itself answers 403 or 404
        assert_accessible(page, url)
