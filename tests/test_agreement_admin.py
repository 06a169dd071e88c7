"""Partnership administrators manage agreements in the admin pages; revoking blocks the next request."""

import datetime as dt

import pytest

from onecase.accounts.models import Role
from onecase.sharing.models import Agreement, AuditEvent, Tier
from onecase.sharing.rules import disclosure_for
from onecase.sharing.services import agreement_create
from tests.auth import sign_in
from tests.factories import AgencyFactory, UserFactory

PURPOSES = ["finding_families", "key_work"]  # the everyday purpose, and key work on cases

pytestmark = pytest.mark.django_db


def test_partnership_admin_revokes_an_agreement_and_the_next_request_is_refused(client):
    police, housing = AgencyFactory(code="POLICE"), AgencyFactory(code="HOUSING")
    agreement = agreement_create(actor=None, reference="ISA-9", title="t", lawful_basis="public_task", purposes="p", purpose_codes=PURPOSES,
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
        "purposes": "p", "purpose_codes": '["finding_families"]', "data_categories": '["contacts"]', "starts_on": "2020-01-01", "ends_on": "",
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


def _admin_form(agreement=None, parties=(), **changes):
    """The agreement admin form as a browser posts it, with ``parties`` as (agency, tier) pairs."""
    form = {
        "reference": "ISA-10", "title": "Early help", "lawful_basis": "public_task", "special_category_condition": "",
        "purposes": "p", "purpose_codes": '["finding_families"]', "data_categories": '["identity", "contacts"]', "starts_on": "2024-01-01", "ends_on": "",
        "review_on": "", "signed_document_ref": "", "revoked_reason": "",
        "parties-TOTAL_FORMS": str(len(parties)), "parties-INITIAL_FORMS": "0", "parties-MIN_NUM_FORMS": "0",
        "parties-MAX_NUM_FORMS": "1000",
    }
    if agreement is not None:
        saved = list(agreement.parties.order_by("pk"))
        form.update({"reference": agreement.reference, "title": agreement.title, "opened_version": agreement.version,
                     "parties-INITIAL_FORMS": str(len(saved))})
        for n, party in enumerate(saved):
            form.update({f"parties-{n}-id": party.pk, f"parties-{n}-agreement": agreement.pk})
    for n, (agency, tier) in enumerate(parties):
        form.update({f"parties-{n}-agency": agency.pk, f"parties-{n}-max_tier": int(tier)})
    form.update(changes)
    return form


@pytest.fixture
def partnership_admin(client):
    admin = UserFactory(agency=AgencyFactory(code="PARTNERSHIP"), role=Role.PARTNERSHIP_ADMIN)
    sign_in(client, admin)
    return admin


@pytest.mark.parametrize(("changes", "message"), [
    ({}, "An agreement needs at least two agencies."),
    ({"ends_on": "2023-12-31"}, "The agreement cannot end before it starts."),
    ({"data_categories": '["identity", "gossip"]'}, "Unknown data categories: gossip."),
    ({"data_categories": '"identity"'}, "Data categories must be a list"),
    ({"purpose_codes": '["gossip"]'}, "Unknown purposes: gossip."),
])
def test_the_admin_cannot_add_an_agreement_the_services_would_refuse(client, partnership_admin, changes, message):
    police, housing = AgencyFactory(code="POLICE"), AgencyFactory(code="HOUSING")
    parties = [(police, Tier.FULL)] if not changes else [(police, Tier.FULL), (housing, Tier.SUMMARY)]
    response = client.post("/admin/sharing/agreement/add/", _admin_form(parties=parties, **changes))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Agreement.objects.exists()
    assert not AuditEvent.objects.filter(object_type="agreement").exists()


def test_the_admin_adds_an_agreement_with_its_parties_through_audited_services(client, partnership_admin):
    police, housing = AgencyFactory(code="POLICE"), AgencyFactory(code="HOUSING")
    response = client.post("/admin/sharing/agreement/add/",
                           _admin_form(parties=[(police, Tier.FULL), (housing, Tier.SUMMARY)]))
    assert response.status_code == 302, response.content.decode()[:2000]
    agreement = Agreement.objects.get()
    assert dict(agreement.parties.values_list("agency__code", "max_tier")) == {"POLICE": Tier.FULL,
                                                                               "HOUSING": Tier.SUMMARY}
    party_event = AuditEvent.objects.get(object_type="agreement", detail__parties__isnull=False)
    assert party_event.user_id == partnership_admin.pk
    assert party_event.detail == {"parties": ["HOUSING", "POLICE"], "added": 2, "changed": 0, "removed": 0}


@pytest.mark.parametrize(("changes", "message"), [
    ({"ends_on": "2019-12-31"}, "The agreement cannot end before it starts."),
    ({"data_categories": '["identity", "gossip"]'}, "Unknown data categories: gossip."),
    ({"purpose_codes": '["gossip"]'}, "Unknown purposes: gossip."),
    ({"parties-1-DELETE": "on"}, "An agreement needs at least two agencies."),
])
def test_the_admin_cannot_change_an_agreement_into_one_the_services_would_refuse(client, partnership_admin, changes,
                                                                                 message):
    police, housing = AgencyFactory(code="POLICE"), AgencyFactory(code="HOUSING")
    agreement = agreement_create(actor=None, reference="ISA-9", title="t", lawful_basis="public_task", purposes="p", purpose_codes=PURPOSES,
                                 data_categories=["identity"], starts_on=dt.date(2020, 1, 1),
                                 parties={police: Tier.FULL, housing: Tier.FULL})
    form = _admin_form(agreement, parties=[(police, Tier.FULL), (housing, Tier.FULL)], starts_on="2020-01-01",
                       **changes)
    response = client.post(f"/admin/sharing/agreement/{agreement.pk}/change/", form)
    assert response.status_code == 200
    assert message in response.content.decode()
    saved = Agreement.objects.get()
    assert (saved.version, saved.ends_on, saved.data_categories) == (agreement.version, None, ["identity"])
    assert agreement.parties.count() == 2
    assert not AuditEvent.objects.filter(object_type="agreement", user=partnership_admin).exists()


def test_a_tier_changed_in_the_admin_is_audited(client, partnership_admin):
    police, housing = AgencyFactory(code="POLICE"), AgencyFactory(code="HOUSING")
    agreement = agreement_create(actor=None, reference="ISA-9", title="t", lawful_basis="public_task", purposes="p", purpose_codes=PURPOSES,
                                 data_categories=["identity"], starts_on=dt.date(2020, 1, 1),
                                 parties={police: Tier.FULL, housing: Tier.FULL})
    form = _admin_form(agreement, parties=[(police, Tier.FULL), (housing, Tier.SIGNPOST)], starts_on="2020-01-01",
                       data_categories='["identity"]')
    response = client.post(f"/admin/sharing/agreement/{agreement.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert agreement.parties.get(agency=housing).max_tier == Tier.SIGNPOST
    event = AuditEvent.objects.get(object_type="agreement", user=partnership_admin, detail__parties__isnull=False)
    assert event.detail == {"parties": ["HOUSING", "POLICE"], "added": 0, "changed": 1, "removed": 0}
