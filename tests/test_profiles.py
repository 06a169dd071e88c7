"""Household and person profiles, disclosed agency by agency, and audited."""

import datetime as dt

import pytest

from onecase.accounts.models import Agency, Role
from onecase.sharing.models import AuditEvent, Tier
from onecase.sharing.services import agreement_create
from tests.auth import sign_in
from tests.factories import UserFactory
from tests.test_demand import city  # noqa: F401  (fixture)

PURPOSES = ["finding_families", "key_work"]  # the everyday purpose, and key work on cases

pytestmark = pytest.mark.django_db


def agency(code):
    return Agency.objects.get(code=code)


def test_own_agency_full_others_signpost_without_agreement(client, city):  # noqa: F811
    worker = UserFactory(agency=agency("HOUSING"), role=Role.KEY_WORKER)
    sign_in(client, worker)
    page = client.get(f"/households/{city['smyth'].pk}/").content.decode()
    assert "1 High Street, ST1 1AA" in page
    assert "I can&#x27;t pay my rent arrears" in page  # housing's own records in full
    assert "my neighbour is threatening me" not in page  # police: signpost only
    assert "Signpost" in page and "Full" in page
    events = AuditEvent.objects.filter(user=worker)
    assert events.filter(action="view", object_type="household").count() == 1
    disclosed = events.filter(action="disclose")
    assert {e.detail["tier"] for e in disclosed} == {"Signpost"}


def test_agreement_raises_the_tier_and_is_recorded(client, city):  # noqa: F811
    agreement_create(actor=None, reference="ISA-HP", title="t", lawful_basis="public_task", purposes="p", purpose_codes=PURPOSES,
                     data_categories=["identity", "contacts", "needs"], starts_on=dt.date(2020, 1, 1),
                     parties={agency("HOUSING"): Tier.FULL, agency("POLICE"): Tier.FULL})
    worker = UserFactory(agency=agency("HOUSING"), role=Role.KEY_WORKER)
    sign_in(client, worker)
    page = client.get(f"/people/{city['person'].pk}/").content.decode()
    assert "my neighbour is threatening me" in page
    assert "under ISA-HP" in page
    police = AuditEvent.objects.filter(user=worker, action="disclose", detail__owner_agency_id=agency("POLICE").pk)
    assert police.get().detail["agreement"] == "ISA-HP"


def test_analysts_are_refused_and_the_refusal_audited(client, city):  # noqa: F811
    analyst = UserFactory(agency=agency("HOUSING"), role=Role.ANALYST)
    sign_in(client, analyst)
    response = client.get(f"/households/{city['smyth'].pk}/")
    assert response.status_code == 403
    assert "Smith" not in response.content.decode()
    assert AuditEvent.objects.filter(user=analyst, action="refused").count() == 1


def test_dpo_sees_who_has_looked(client, city):  # noqa: F811
    worker = UserFactory(agency=agency("HOUSING"), role=Role.KEY_WORKER)
    sign_in(client, worker)
    client.get(f"/people/{city['person'].pk}/")
    dpo = UserFactory(agency=agency("POLICE"), role=Role.DPO)
    sign_in(client, dpo)
    page = client.get(f"/people/{city['person'].pk}/").content.decode()
    assert "Who has looked at this record" in page and worker.username in page


def test_unknown_subject_is_404(client, city):  # noqa: F811
    sign_in(client, UserFactory(agency=agency("HOUSING"), role=Role.KEY_WORKER))
    assert client.get("/households/999999/").status_code == 404
