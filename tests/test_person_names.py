"""A person is called by the most common spelling across the records that identify them, ties going
to the most recent, on every page that names them: profiles, the demand ranking, the case and the agenda."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from onecase.accounts.models import Agency, Role
from onecase.cases.services import case_open
from onecase.contacts.services import resolution_refresh
from onecase.imports.services import import_contacts
from onecase.meetings.services import agenda_item_add, meeting_create, series_create
from onecase.people.models import Address, AgencyPerson, Household, Person, PersonLink
from onecase.sharing.models import Tier
from onecase.sharing.selectors import person_names
from onecase.sharing.services import agreement_create
from tests.auth import sign_in
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db

AGENCIES = ("HOUSING", "POLICE", "FOODBANK")


def _jonathan(write_file, spellings):
    """One person whose records at three agencies spell their family name as ``spellings``, oldest first."""
    for code in AGENCIES:
        AgencyFactory(code=code)
    now = timezone.now()
    lines = ["agency,record_id,person_ref,occurred_at,contact_type,given_name,family_name,presenting_need"]
    for n, (code, family) in enumerate(zip(AGENCIES, spellings, strict=True)):
        at = (now - dt.timedelta(days=30 - n)).isoformat()
        lines += [f"{code},{code}-{k},J{n},{at},visit,Jonathan,{family},help with money" for k in range(2)]
    import_contacts(actor=None, path=write_file("smiths.csv", "\n".join(lines) + "\n"))
    household = Household.objects.create(address=Address.objects.create(postcode="ST3 3CC", line="3 Kiln Row, ST3 3CC"))
    person = Person.objects.create(household=household)
    for n, code in enumerate(AGENCIES):
        record = AgencyPerson.objects.get(agency__code=code)
        AgencyPerson.objects.filter(pk=record.pk).update(identity_as_of=now - dt.timedelta(days=30 - n))
        PersonLink.objects.create(agency_person=record, person=person, match_probability=0.99)
    resolution_refresh()
    agreement_create(actor=None, reference="ISA-J", title="t", lawful_basis="public_task", purposes="p",
                     purpose_codes=["finding_families", "key_work"], data_categories=["identity", "contacts", "needs"],
                     starts_on=dt.date(2020, 1, 1), parties={Agency.objects.get(code=c): Tier.FULL for c in AGENCIES})
    return person


def _h1(page: str) -> str:
    return re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S).group(1).strip()


@pytest.mark.parametrize("spellings", [
    ("Smith", "Smith", "Smithe"),  # the misspelling is the most recent record
    ("Smith", "SMITH", "Smithe"),  # one agency's system writes family names in capitals
])
def test_every_page_names_the_person_by_the_most_common_spelling(client, write_file, spellings):
    person = _jonathan(write_file, spellings)
    worker = UserFactory(agency=Agency.objects.get(code="HOUSING"), role=Role.KEY_WORKER)
    assert person_names(worker, [person.pk]) == {person.pk: "Jonathan Smith"}
    assert person_names(None, [person.pk]) == {person.pk: "Jonathan Smith"}
    sign_in(client, worker)

    assert _h1(client.get(f"/people/{person.pk}/").content.decode()) == "Jonathan Smith"
    household_page = client.get(f"/households/{person.household_id}/").content.decode()
    assert f'href="/people/{person.pk}/">Jonathan Smith</a>' in household_page

    ranking = client.get("/demand/?by=person").content.decode()
    assert f'href="/people/{person.pk}/">Jonathan Smith</a>' in ranking and "Smithe" not in ranking
    assert "Jonathan Smith" in client.get("/demand.csv?by=person").content.decode().splitlines()[1]
    assert client.get("/api/v1/demand?by=person").json()[0]["label"] == "Jonathan Smith"

    case = case_open(actor=None, key_worker=worker, person=person)
    case_page = client.get(f"/cases/{case.pk}/").content.decode()
    assert "Jonathan Smith" in case_page and "Smithe" not in case_page

    series = series_create(actor=None, kind="team_around_family", name="Kiln TAF",
                           chair_agency=Agency.objects.get(code="HOUSING"))
    meeting = meeting_create(actor=None, series=series, held_on=timezone.localdate())
    agenda_item_add(actor=None, meeting=meeting, person=person, reason="Rent and food")
    agenda = client.get(f"/meetings/{meeting.pk}/").content.decode()
    assert "Jonathan Smith" in agenda and "Smithe" not in agenda
    assert client.get(f"/api/v1/meetings/{meeting.pk}").json()["agenda"][0]["label"] == "Jonathan Smith"


def test_a_tie_goes_to_the_most_recent_spelling(write_file):
    person = _jonathan(write_file, ("Smith", "Smyth", "Smithe"))
    assert person_names(None, [person.pk]) == {person.pk: "Jonathan Smithe"}
    AgencyPerson.objects.filter(agency__code="POLICE").update(identity_as_of=timezone.now())
    assert person_names(None, [person.pk]) == {person.pk: "Jonathan Smyth"}
