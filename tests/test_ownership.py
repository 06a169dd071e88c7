"""One rule for "has an owner": a person or an address is owned when a live case is on it, on its
household or on one of its people; a household when a live case is on it or on one of its people.
The demand rankings (page, CSV and API), profiles and meeting agendas all follow it."""

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from onecase.accounts.models import Agency, Role
from onecase.cases.models import Case
from onecase.cases.selectors import cases_on_subject, owning_cases
from onecase.cases.services import case_open
from onecase.contacts.demand import demand_ranking
from onecase.contacts.models import Contact
from onecase.meetings.selectors import agenda_item_for
from onecase.meetings.services import agenda_item_add, decision_record, meeting_create, series_create
from tests.auth import sign_in
from tests.factories import UserFactory
from tests.test_demand import NOW, city  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

UNTIL = f"until={NOW.date().isoformat()}"  # flags look back from the end of the fixture's period


@pytest.fixture(autouse=True)
def _contacts_at_home(city):  # noqa: F811
    """Each contact at its household's address, as linkage places them (ranked by address too)."""
    for household in (city["smyth"], city["brown"]):
        Contact.objects.filter(household=household).update(address_id=household.address_id)


def _worker(code="HOUSING", **extra):
    return UserFactory(agency=Agency.objects.get(code=code), role=Role.KEY_WORKER, **extra)


def _subjects(city):  # noqa: F811
    household = city["smyth"]
    return {"household": household.pk, "person": city["person"].pk, "address": household.address_id}


def _row(by, subject_id):
    return next(r for r in demand_ranking(None, by=by, now=NOW) if r[f"{by}_id"] == subject_id)


def test_a_household_case_owns_its_people_and_its_address_in_every_ranking(city):  # noqa: F811
    subjects = _subjects(city)
    for by, pk in subjects.items():
        assert "needs_owner" in _row(by, pk)["flags"] and _row(by, pk)["key_worker"] is None
    worker = _worker()
    case_open(actor=None, key_worker=worker, household=city["smyth"])
    for by, pk in subjects.items():
        row = _row(by, pk)
        assert "needs_owner" not in row["flags"], by
        assert row["key_worker"] == worker.username, by
    assert {kind: set(owning_cases(kind, [pk])) for kind, pk in subjects.items()} == {
        kind: {pk} for kind, pk in subjects.items()}


def test_a_case_on_one_person_owns_their_household_and_address(city):  # noqa: F811
    worker = _worker()
    case = case_open(actor=None, key_worker=worker, person=city["person"])
    for by, pk in _subjects(city).items():
        assert owning_cases(by, [pk]) == {pk: case}
        assert "needs_owner" not in _row(by, pk)["flags"]


def test_the_nearest_live_case_is_the_owner_and_a_closed_case_owns_nothing(city):  # noqa: F811
    household_worker, person_worker = _worker(), _worker("POLICE")
    household_case = case_open(actor=None, key_worker=household_worker, household=city["smyth"])
    person_case = case_open(actor=None, key_worker=person_worker, person=city["person"])
    subjects = _subjects(city)
    assert owning_cases("person", [subjects["person"]]) == {subjects["person"]: person_case}
    assert owning_cases("household", [subjects["household"]]) == {subjects["household"]: household_case}
    assert owning_cases("address", [subjects["address"]]) == {subjects["address"]: household_case}
    Case.objects.filter(pk__in=[household_case.pk, person_case.pk]).update(status="closed")
    for by, pk in subjects.items():
        assert owning_cases(by, [pk]) == {} and "needs_owner" in _row(by, pk)["flags"]
    # The Browns at the other address are never owned by the Smyths' case.
    assert owning_cases("household", [city["brown"].pk]) == {}


def test_the_pages_csv_and_api_agree_once_the_household_has_a_key_worker(client, city):  # noqa: F811
    admin = UserFactory(agency=Agency.objects.get(code="HOUSING"), role=Role.PARTNERSHIP_ADMIN)
    sign_in(client, admin)
    for by in ("person", "address"):
        assert "Needs an owner" in client.get(f"/demand/?by={by}&{UNTIL}").content.decode()
    worker = _worker(first_name="Kim", last_name="Reed")
    case_open(actor=None, key_worker=worker, household=city["smyth"])
    subjects = _subjects(city)
    for by, pk in subjects.items():
        page = client.get(f"/demand/?by={by}&{UNTIL}").content.decode()
        assert "Needs an owner" not in page, by
        assert f"Key worker: {worker.username}" in page and "Open a case" not in page, by
        rows = list(csv.DictReader(io.StringIO(client.get(f"/demand.csv?by={by}&{UNTIL}").content.decode())))
        (row,) = [r for r in rows if int(r[f"{by}_id"]) == pk]
        assert "needs_owner" not in row["flags"] and "asb_trigger" in row["flags"], by
        body = client.get(f"/api/v1/demand?by={by}&{UNTIL}").json()
        (item,) = [r for r in body if r[f"{by}_id"] == pk]
        assert item["key_worker"] == worker.username and "needs_owner" not in item["flags"], by


def test_a_persons_profile_lists_the_household_case_as_live(client, city):  # noqa: F811
    worker = _worker()
    case = case_open(actor=None, key_worker=worker, household=city["smyth"])
    found = cases_on_subject(worker, person_id=city["person"].pk)
    assert [c.case for c in found["live"]] == [case]
    sign_in(client, worker)
    assert case.reference in client.get(f"/people/{city['person'].pk}/").content.decode()


def test_the_agenda_names_the_case_that_owns_each_subject(client, city):  # noqa: F811
    admin = UserFactory(agency=Agency.objects.get(code="HOUSING"), role=Role.PARTNERSHIP_ADMIN)
    series = series_create(actor=None, kind="team_around_family", name="Kiln TAF",
                           chair_agency=Agency.objects.get(code="HOUSING"))
    meeting = meeting_create(actor=None, series=series, held_on=timezone.localdate() + dt.timedelta(days=7))
    before = agenda_item_add(actor=None, meeting=meeting, person=city["person"], reason="Arrears and ASB")
    assert before.case is None
    sign_in(client, admin)
    assert "No open case" in client.get(f"/meetings/{meeting.pk}/").content.decode()

    worker = _worker()
    case = case_open(actor=None, key_worker=worker, household=city["smyth"])
    page = client.get(f"/meetings/{meeting.pk}/").content.decode()
    assert "No open case" not in page and f'href="/cases/{case.pk}/">{case.reference}</a>' in page
    assert client.get(f"/api/v1/meetings/{meeting.pk}").json()["agenda"][0]["case"] == case.reference

    # The meeting's actions go to the case that owns the person.
    item = agenda_item_for(None, meeting, before.pk)
    assert item.case == case
    decision = decision_record(actor=None, item=item, text="Money advice", actions=[
        {"title": "Book a money advice appointment", "owner": worker, "due_on": timezone.localdate()}])
    assert [a.case for a in decision.actions.all()] == [case]
