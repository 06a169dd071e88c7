"""Partnership administrators manage agreements in the admin pages; revoking blocks the next request."""

import datetime as dt

import pytest

from onecase.accounts.models import Role
from onecase.sharing.models import Agreement, AuditEvent, Tier
from onecase.sharing.rules import disclosure_for
from onecase.sharing.services import agreement_create
from tests.auth import sign_in
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_partnership_admin_revokes_an_agreement_and_the_next_request_is_refused(client):
    police, housing = AgencyFactory(code="POLICE"), AgencyFactory(code="HOUSING")
    agreement = agreement_create(actor=None, reference="ISA-9", title="t", lawful_basis="public_task", purposes="p",
                                 data_categories=["identity", "contacts"], starts_on=dt.date(2020, 1, 1),
                                 parties={police: Tier.FULL, housing: Tier.FULL})
    officer = UserFactory(agency=housing, role=Role.KEY_WORKER)
    assert disclosure_for(officer, police.pk).tier == Tier.FULL

    admin = UserFactory(agency=AgencyFactory(code="PARTNERSHIP"), role=Role.PARTNERSHIP_ADMIN)
    sign_in(client, admin)
    page = client.get(f"/admin/sharing/agreement/{agreement.pk}/change/")
    assert page.status_code == 200
    form = {
        "reference": "ISA-9", "title": "t", "lawful_basis": "public_task", "special_category_condition": "",
        "purposes": "p", "data_categories": '["contacts"]', "starts_on": "2020-01-01", "ends_on": "",
        "review_on": "", "signed_document_ref": "", "revoked_reason": "Housing withdrew from the protocol",
        "parties-TOTAL_FORMS": "2", "parties-INITIAL_FORMS": "2", "parties-MIN_NUM_FORMS": "0",
        "parties-MAX_NUM_FORMS": "1000", "opened_version": agreement.version,
    }
    for n, party in enumerate(agreement.parties.order_by("pk")):
        form.update({f"parties-{n}-id": party.pk, f"parties-{n}-agreement": agreement.pk,
                     f"parties-{n}-agency": party.agency_id, f"parties-{n}-max_tier": party.max_tier})
    response = client.post(f"/admin/sharing/agreement/{agreement.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Agreement.objects.get().revoked_at is not None
    assert disclosure_for(officer, police.pk).tier == Tier.SIGNPOST
    assert AuditEvent.objects.filter(object_type="agreement", detail__revoked=True).count() == 1


def test_other_roles_cannot_reach_agreements(client):
    sign_in(client, UserFactory(role=Role.AGENCY_ADMIN))
    assert client.get("/admin/sharing/agreement/").status_code in (302, 403)
