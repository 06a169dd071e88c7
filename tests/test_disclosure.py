"""Tiered disclosure: agreements in force decide how much of another agency's records a user sees."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from onecase.accounts.models import Role
from onecase.people.models import Person
from onecase.sharing.models import Alert, AuditEvent, DisclosureRequest, Tier
from onecase.sharing.rules import disclosure_for
from onecase.sharing.services import (
    agreement_create,
    agreement_revoke,
    break_glass,
    break_glass_role_set,
    disclosure_request_create,
    disclosure_request_decide,
)
from tests.factories import AgencyFactory, UserFactory

PURPOSES = ["finding_families", "key_work"]  # the everyday purpose, and key work on cases

pytestmark = pytest.mark.django_db


@pytest.fixture
def agencies():
    return {code: AgencyFactory(code=code) for code in ("POLICE", "HOUSING", "FOODBANK")}


def make_agreement(agencies, **overrides):
    today = timezone.localdate()
    values = dict(
        actor=None,
        reference="ISA-1",
        title="Troubled families",
        lawful_basis="public_task",
        purposes="Supporting families", purpose_codes=PURPOSES,
        data_categories=["identity", "contacts", "needs"],
        starts_on=today - dt.timedelta(days=10),
        parties={agencies["POLICE"]: Tier.FULL, agencies["HOUSING"]: Tier.SUMMARY, agencies["FOODBANK"]: Tier.SIGNPOST},
    )
    values.update(overrides)
    return agreement_create(**values)


def test_own_agency_is_full_and_others_signpost_without_agreement(agencies):
    officer = UserFactory(agency=agencies["HOUSING"], role=Role.PRACTITIONER)
    assert disclosure_for(officer, agencies["HOUSING"].pk).tier == Tier.FULL
    assert disclosure_for(officer, agencies["POLICE"].pk).tier == Tier.SIGNPOST


def test_agreement_sets_each_partys_tier(agencies):
    agreement = make_agreement(agencies)
    officer = UserFactory(agency=agencies["HOUSING"], role=Role.PRACTITIONER)
    volunteer = UserFactory(agency=agencies["FOODBANK"], role=Role.VOLUNTARY_PARTNER)
    housing_view = disclosure_for(officer, agencies["POLICE"].pk)
    assert (housing_view.tier, housing_view.agreement) == (Tier.SUMMARY, agreement)
    # The voluntary partner sees that the police are involved, never the police record.
    assert disclosure_for(volunteer, agencies["POLICE"].pk).tier == Tier.SIGNPOST


def test_analysts_and_auditors_see_no_person_records(agencies):
    make_agreement(agencies)
    for role in (Role.ANALYST, Role.AUDITOR):
        user = UserFactory(agency=agencies["HOUSING"], role=role)
        assert disclosure_for(user, agencies["HOUSING"].pk).tier == Tier.NONE


def test_revoked_or_ended_agreements_block_the_next_request(agencies):
    agreement = make_agreement(agencies)
    officer = UserFactory(agency=agencies["HOUSING"], role=Role.PRACTITIONER)
    assert disclosure_for(officer, agencies["POLICE"].pk).tier == Tier.SUMMARY
    agreement_revoke(actor=None, agreement=agreement, reason="Partner withdrew")
    assert disclosure_for(officer, agencies["POLICE"].pk).tier == Tier.SIGNPOST

    make_agreement(agencies, reference="ISA-2", ends_on=timezone.localdate() - dt.timedelta(days=1))
    assert disclosure_for(officer, agencies["POLICE"].pk).tier == Tier.SIGNPOST
    make_agreement(agencies, reference="ISA-3", starts_on=timezone.localdate() + dt.timedelta(days=1))
    assert disclosure_for(officer, agencies["POLICE"].pk).tier == Tier.SIGNPOST


def test_step_up_request_approved_by_owning_agency(agencies):
    make_agreement(agencies)
    person = Person.objects.create()
    officer = UserFactory(agency=agencies["HOUSING"], role=Role.KEY_WORKER)
    police_dpo = UserFactory(agency=agencies["POLICE"], role=Role.DPO)
    request = disclosure_request_create(
        actor=officer, person=person, owner_agency=agencies["POLICE"], purpose="Safety planning"
    )
    assert disclosure_for(officer, agencies["POLICE"].pk, person_id=person.pk).tier == Tier.SUMMARY
    with pytest.raises(PermissionDenied):
        disclosure_request_decide(actor=officer, request=request, approve=True)
    disclosure_request_decide(actor=police_dpo, request=request, approve=True, days=7)
    view = disclosure_for(officer, agencies["POLICE"].pk, person_id=person.pk)
    assert (view.tier, view.basis) == (Tier.FULL, "approved request")
    # Only for that person.
    other = Person.objects.create()
    assert disclosure_for(officer, agencies["POLICE"].pk, person_id=other.pk).tier == Tier.SUMMARY
    assert DisclosureRequest.objects.get().status == "approved"
    assert AuditEvent.objects.filter(object_type="disclosure_request").count() == 2


def test_break_the_glass_is_time_limited_and_alerts_the_dpo(agencies):
    person = Person.objects.create()
    break_glass_role_set(actor=None, agency=agencies["HOUSING"], role=Role.KEY_WORKER, allowed=True)
    worker = UserFactory(agency=agencies["HOUSING"], role=Role.KEY_WORKER)
    grant = break_glass(
        actor=worker,
        person=person,
        reason="Child at immediate risk, police unreachable",
        owner_agency_ids=[agencies["POLICE"].pk, agencies["HOUSING"].pk],
    )
    assert disclosure_for(worker, agencies["POLICE"].pk, person_id=person.pk).tier == Tier.FULL
    alert = Alert.objects.get()
    assert alert.agency == agencies["POLICE"] and alert.kind == "break_glass"
    grant.expires_at = timezone.now() - dt.timedelta(seconds=1)
    grant.save()
    assert disclosure_for(worker, agencies["POLICE"].pk, person_id=person.pk).tier == Tier.SIGNPOST
    assert AuditEvent.objects.filter(action="disclose", object_id=str(person.pk)).exists()


def test_only_partnership_admins_record_agreements(agencies):
    practitioner = UserFactory(agency=agencies["HOUSING"], role=Role.AGENCY_ADMIN)
    with pytest.raises(PermissionDenied):
        make_agreement(agencies, actor=practitioner)
