"""Agreements enforced by scope: a tier holds only for the data categories an agreement lists, and
only for a purpose it lists, carried by the case, pull-in or meeting being worked."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from onecase.accounts.models import Agency, Role
from onecase.cases.selectors import chronology_read
from onecase.cases.services import case_open, grant_accept, grant_invite
from onecase.contacts.profiles import subject_profile
from onecase.meetings.models import Meeting
from onecase.meetings.services import agenda_item_add, meeting_create, series_create
from onecase.sharing.models import AuditEvent, Tier
from onecase.sharing.services import agreement_create, agreement_validate
from tests.auth import sign_in
from tests.factories import UserFactory
from tests.test_demand import city  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

POLICE_WORDS = "my neighbour is threatening me"
HOUSING_WORDS = "I can&#x27;t pay my rent arrears"


def agency(code):
    return Agency.objects.get(code=code)


def _agreement(reference, categories, purposes, *, tier=Tier.FULL):
    return agreement_create(
        actor=None, reference=reference, title="t", lawful_basis="public_task", purposes="p", purpose_codes=purposes,
        data_categories=categories, starts_on=dt.date(2020, 1, 1),
        parties={agency("HOUSING"): tier, agency("POLICE"): tier},
    )


def _police_view(user, person):
    profile = subject_profile(user, kind="person", pk=person.pk)
    return profile, next(v for v in profile.agencies if v.agency.code == "POLICE")


def test_an_agreement_for_identity_alone_names_the_person_but_shares_no_contacts(client, city):  # noqa: F811
    _agreement("ISA-ID", ["identity"], ["finding_families"])
    worker = UserFactory(agency=agency("HOUSING"), role=Role.KEY_WORKER)
    profile, police = _police_view(worker, city["person"])
    assert police.tier == Tier.SIGNPOST and police.identity_tier == Tier.FULL
    assert (police.contacts, police.cost, dict(police.needs)) == (0, 0, {})
    assert profile.contacts_total == 3  # housing's own three; the police's four are not counted
    sign_in(client, worker)
    page = client.get(f"/people/{city['person'].pk}/").content.decode()
    assert POLICE_WORDS not in page and "Named under ISA-ID" in page
    event = AuditEvent.objects.get(user=worker, action="disclose", detail__owner_agency_id=agency("POLICE").pk)
    assert (event.detail["tier"], event.detail["agreement"]) == ("Signpost", "ISA-ID")


def test_an_agreement_without_needs_shares_contacts_but_not_what_people_said(client, city):  # noqa: F811
    _agreement("ISA-CT", ["identity", "contacts"], ["finding_families"])
    worker = UserFactory(agency=agency("HOUSING"), role=Role.KEY_WORKER)
    _, police = _police_view(worker, city["person"])
    assert police.tier == Tier.FULL and police.contacts == 4 and dict(police.needs) == {}
    sign_in(client, worker)
    page = client.get(f"/people/{city['person'].pk}/").content.decode()
    assert POLICE_WORDS not in page and HOUSING_WORDS in page
    assert page.count("Not shared under the agreement") == 4  # one per police contact in the chronology


def test_the_marac_protocol_holds_only_for_marac_work(client, city):  # noqa: F811
    _agreement("ISA-MARAC", ["identity", "contacts", "needs"], ["marac"])
    worker = UserFactory(agency=agency("HOUSING"), role=Role.KEY_WORKER)
    sign_in(client, worker)
    url = f"/people/{city['person'].pk}/"
    _, police = _police_view(worker, city["person"])
    assert police.tier == Tier.SIGNPOST and police.disclosure.agreement is None
    assert POLICE_WORDS not in client.get(url).content.decode()

    series = series_create(actor=None, kind="marac", name="Kilnbury MARAC", chair_agency=agency("POLICE"),
                           members=[agency("HOUSING")])
    meeting = meeting_create(actor=None, series=series, held_on=timezone.localdate() + dt.timedelta(days=7))
    agenda_item_add(actor=None, meeting=meeting, person=city["person"], reason="High risk of harm")
    page = client.get(url).content.decode()
    assert POLICE_WORDS in page
    assert "Shared under ISA-MARAC, for safety planning for victims of high-risk domestic abuse (MARAC) (MARAC of" in page
    event = AuditEvent.objects.filter(user=worker, action="disclose",
                                      detail__owner_agency_id=agency("POLICE").pk).latest("id")
    assert (event.detail["tier"], event.detail["agreement"], event.detail["agreement_purpose"]) == (
        "Full", "ISA-MARAC", "marac")

    # Long after the meeting, and for a meeting cancelled, the protocol no longer applies.
    Meeting.objects.filter(pk=meeting.pk).update(held_on=timezone.localdate() - dt.timedelta(days=91))
    assert POLICE_WORDS not in client.get(url).content.decode()
    Meeting.objects.filter(pk=meeting.pk).update(held_on=timezone.localdate(), status=Meeting.Status.CANCELLED)
    assert POLICE_WORDS not in client.get(url).content.decode()
    # Rescheduled, it applies again.
    Meeting.objects.filter(pk=meeting.pk).update(status=Meeting.Status.SCHEDULED)
    assert POLICE_WORDS in client.get(url).content.decode()


def test_a_case_carries_key_work_into_the_profile_and_the_chronology(client, city):  # noqa: F811
    _agreement("ISA-KW", ["identity", "contacts", "needs"], ["key_work"])
    worker = UserFactory(agency=agency("HOUSING"), role=Role.KEY_WORKER)
    _, police = _police_view(worker, city["person"])
    assert police.tier == Tier.SIGNPOST  # finding families is not key work
    case = case_open(actor=None, key_worker=worker, person=city["person"])
    _, police = _police_view(worker, city["person"])
    assert police.tier == Tier.FULL and police.disclosure.purpose_source == f"case {case.reference}"
    chronology = chronology_read(worker, case)
    said = [e for e in chronology.entries if e.agency == "POLICE" and e.source == "contact"]
    assert len(said) == 4 and all(POLICE_WORDS.replace("&#x27;", "'") in e.detail for e in said)
    assert {e.shared_under for e in said} == {
        f"ISA-KW, for coordinating support around a person or family (case {case.reference})"}
    sign_in(client, worker)
    body = client.get(f"/api/v1/cases/{case.pk}/chronology").json()
    assert {e["shared_under"] for e in body if e["agency"] == "POLICE"} == {said[0].shared_under}
    event = AuditEvent.objects.filter(user=worker, action="disclose", purpose__contains="chronology").latest("id")
    assert event.detail["agreement_purpose"] == "key_work"


def test_a_pull_in_needs_an_agreement_for_its_purpose_and_carries_it(client, city):  # noqa: F811
    _agreement("ISA-KW", ["identity", "contacts", "needs"], ["key_work"])
    worker = UserFactory(agency=agency("HOUSING"), role=Role.KEY_WORKER)
    officer = UserFactory(agency=agency("POLICE"), role=Role.PRACTITIONER)
    case = case_open(actor=None, key_worker=worker, person=city["person"])
    until = timezone.localdate() + dt.timedelta(days=30)
    with pytest.raises(ValidationError, match="for resolving persistent anti-social behaviour"):
        grant_invite(actor=worker, case=case, invitee=officer, purpose="Review the ASB response",
                     purpose_code="asb_case_review", ends_on=until)
    grant = grant_invite(actor=worker, case=case, invitee=officer, purpose="Joint visit", purpose_code="key_work",
                         ends_on=until)
    assert (grant.purpose_code, grant.agreement.reference) == ("key_work", "ISA-KW")
    grant_accept(actor=officer, grant=grant, expected_version=grant.version)
    housing = [e for e in chronology_read(officer, case).entries if e.agency == "HOUSING" and e.source == "contact"]
    assert housing and all(e.shared_under.endswith(f"(pull-in to case {case.reference})") for e in housing)
    sign_in(client, officer)
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert HOUSING_WORDS in page and "Shared under ISA-KW, for coordinating support" in page
    assert client.get(f"/api/v1/cases/{case.pk}/grants").json()[0]["agreement"] == "ISA-KW"


@pytest.mark.parametrize(("purposes", "message"), [
    ([], "Choose at least one purpose"),
    (["gossip"], "Unknown purposes: gossip."),
    ("key_work", "Purposes must be a list"),
])
def test_an_agreement_lists_known_purposes(purposes, message):
    with pytest.raises(ValidationError, match=message):
        agreement_validate(purpose_codes=purposes)

