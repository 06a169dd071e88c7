"""Reading a case's chronology records each disclosure of another agency's contacts, about each
person shown, on the page and over the API, for household and person cases alike."""

from datetime import UTC, datetime

import pytest

from onecase.accounts.models import Agency
from onecase.cases import services
from onecase.contacts.models import Contact
from onecase.people.models import AgencyPerson, Person, PersonLink
from onecase.sharing.models import AuditEvent
from tests.auth import sign_in
from tests.test_cases import team  # noqa: F401
from tests.test_demand import city  # noqa: F401

pytestmark = pytest.mark.django_db


def disclosed(user) -> set[tuple[int, int]]:
    """(person id, owning agency id) of every disclosure recorded for ``user``."""
    return {(int(e.object_id), e.detail["owner_agency_id"])
            for e in AuditEvent.objects.filter(user=user, action=AuditEvent.Action.DISCLOSE)}


@pytest.fixture
def household_case(team):  # noqa: F811
    housing = Agency.objects.get(code="HOUSING")
    lodger = Person.objects.create(household=team["smyth"])
    record = AgencyPerson.objects.create(agency=housing, person_ref="HL", family_name="Lodger")
    PersonLink.objects.create(agency_person=record, person=lodger, match_probability=0.99)
    now = datetime(2025, 5, 1, tzinfo=UTC)
    Contact.objects.create(agency=housing, record_id="L1", agency_person=record, person=lodger,
                           household=team["smyth"], contact_type="repair_request", occurred_at=now,
                           imported_at=now, updated_at=now)
    case = services.case_open(actor=team["kw"], key_worker=team["kw"], household=team["smyth"])
    return {**team, "case": case, "lodger": lodger, "housing": housing}


@pytest.mark.parametrize("path", ["/cases/{case}/", "/api/v1/cases/{case}/chronology"])
def test_a_household_case_records_each_persons_disclosure(client, household_case, path):
    kw, housing = household_case["kw"], household_case["housing"]
    sign_in(client, kw)
    response = client.get(path.format(case=household_case["case"].pk))
    assert response.status_code == 200
    assert "pay my rent arrears" in response.content.decode()
    # The police key worker saw housing's contacts about both people in the household.
    assert disclosed(kw) == {(household_case["person"].pk, housing.pk), (household_case["lodger"].pk, housing.pk)}
    event = AuditEvent.objects.filter(user=kw, action=AuditEvent.Action.DISCLOSE).first()
    assert event.detail["agreement"] == "ISA-1" and event.detail["tier"] == "Full"
    views = AuditEvent.objects.filter(user=kw, action=AuditEvent.Action.VIEW, object_type="case")
    assert views.filter(purpose="chronology").count() == 1
    # The case page also shows its cost and impact, recorded as a read of its own.
    assert views.exclude(purpose="chronology").count() == (1 if path == "/cases/{case}/" else 0)
    assert set(views.values_list("purpose", flat=True)) <= {"chronology", "case impact"}


def test_a_person_case_over_the_api_records_its_disclosure(client, team):  # noqa: F811
    kw = team["kw"]
    case = services.case_open(actor=kw, key_worker=kw, person=team["person"])
    sign_in(client, kw)
    assert client.get(f"/api/v1/cases/{case.pk}/chronology").status_code == 200
    assert disclosed(kw) == {(team["person"].pk, Agency.objects.get(code="HOUSING").pk)}
    # The key worker's own agency's contacts are theirs already: no disclosure of them.
    assert not AuditEvent.objects.filter(user=kw, action=AuditEvent.Action.DISCLOSE,
                                         detail__owner_agency_id=kw.agency_id).exists()
