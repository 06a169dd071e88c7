"""Value and failure demand: a repeat about the same need, at any agency, within the window."""

import datetime as dt

import pytest

from onecase.contacts.models import Contact
from onecase.contacts.services import (
    contact_set_demand_class,
    demand_classify,
    needs_classify,
    resolution_refresh,
)
from onecase.imports.services import import_contacts
from onecase.people.models import Address, AgencyPerson, Household, Person, PersonLink
from onecase.sharing.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HEADER = "agency,record_id,person_ref,occurred_at,contact_type,presenting_need\n"
ROWS = [
    # Mum asks the council for help with rent, then the food bank, then CAB: one need, three doors.
    ("HOUSING", "H1", "MUM", "2025-01-05", "rent_arrears_contact", "I can't pay my rent arrears"),
    ("FOODBANK", "F1", "M-1", "2025-01-20", "parcel", "we have no money for food"),
    ("CAB", "C1", "C-9", "2025-06-30", "advice_session", "debt advice please"),
    # Dad at the police; his son at school: different needs, first time each.
    ("POLICE", "P1", "DAD", "2025-01-21", "incident", "my neighbour is threatening me"),
    ("EWS", "E1", "SON", "2025-02-01", "attendance_concern", "he won't go to school"),
    # The son's school problem comes back within the window at another agency.
    ("CSC", "S1", "KID", "2025-03-01", "contact", "not going to school again"),
    # Nothing we can classify.
    ("POLICE", "P2", "DAD", "2025-03-02", "incident", "see log"),
]


@pytest.fixture
def family(write_file):
    body = "".join(",".join(row[:5]) + f',"{row[5]}"\n' for row in ROWS)
    import_contacts(actor=None, path=write_file("family.csv", HEADER + body))
    household = Household.objects.create(address=Address.objects.create(postcode="ST1 4HH"))
    people = {name: Person.objects.create(household=household) for name in ("mum", "dad", "son")}
    owners = {"MUM": "mum", "M-1": "mum", "C-9": "mum", "DAD": "dad", "SON": "son", "KID": "son"}
    for agency_person in AgencyPerson.objects.all():
        PersonLink.objects.create(
            agency_person=agency_person, person=people[owners[agency_person.person_ref]], match_probability=0.99
        )
    assert resolution_refresh() == len(ROWS)
    needs_classify(actor=None)
    return people


def classes():
    return dict(Contact.objects.values_list("record_id", "demand_class"))


def test_repeat_need_within_window_at_any_agency_is_failure(family):
    counts = demand_classify(actor=None, window=dt.timedelta(days=90))
    assert classes() == {
        "H1": "value",
        "F1": "failure",  # same person, same need, 15 days later, another agency
        "C1": "value",  # same need but 161 days later: outside the window
        "P1": "value",
        "E1": "value",
        "S1": "failure",
        "P2": "unknown",
    }
    assert counts == {"value": 4, "failure": 2, "unknown": 1}


def test_household_repeats_count_too(family):
    # The food bank parcel belongs to dad this time: same household, same need.
    food = AgencyPerson.objects.get(person_ref="M-1")
    PersonLink.objects.filter(agency_person=food).update(person=family["dad"])
    resolution_refresh(agency_person_ids=[food.pk])
    demand_classify(actor=None, window=dt.timedelta(days=90))
    assert classes()["F1"] == "failure"


def test_unlinked_contacts_are_only_compared_with_themselves(family):
    PersonLink.objects.all().delete()
    resolution_refresh()
    assert set(Contact.objects.values_list("person_id", flat=True)) == {None}
    demand_classify(actor=None, window=dt.timedelta(days=90))
    assert set(classes().values()) == {"value", "unknown"}


def test_manual_reclassification_is_kept_and_audited(family):
    demand_classify(actor=None)
    parcel = Contact.objects.get(record_id="F1")
    worker = UserFactory(agency=parcel.agency, role="practitioner")
    contact_set_demand_class(actor=worker, contact=parcel, demand_class="value")
    demand_classify(actor=None)
    parcel.refresh_from_db()
    assert parcel.demand_class == "value" and parcel.demand_class_manual
    assert AuditEvent.objects.filter(object_type="contact", object_id=str(parcel.pk)).count() == 1
